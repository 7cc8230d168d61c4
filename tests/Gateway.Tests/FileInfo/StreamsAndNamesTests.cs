using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Gateway.Smb.Files.Info;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Storage;

namespace SmbCopy.Gateway.Tests.FileInfo;

/// <summary>CREATE name parsing with streams (MS-FSCC 2.1.5), 8.3 names, the volume attributes for streams and EAs,
/// and the per-stream file nodes.</summary>
public class StreamsAndNamesTests
{
    [Theory]
    [InlineData(@"dir\file.txt", @"dir\file.txt", null, false, false)]
    [InlineData(@"dir\file.txt:Stream One", @"dir\file.txt", "Stream One", false, false)]
    [InlineData(@"file.txt:s:$DaTa", "file.txt", "s", false, false)]
    [InlineData(@"file.txt::$DATA", "file.txt", null, true, false)]
    [InlineData(@"dir::$INDEX_ALLOCATION", "dir", null, false, true)]
    [InlineData(@"dir:$I30:$index_allocation", "dir", null, false, true)]
    [InlineData(@":root", "", "root", false, false)]
    [InlineData(@"f:?Stream*", "f", "?Stream*", false, false)]
    [InlineData(@"d\", "d", null, false, false)]
    public void ValidNamesSplitIntoPathAndStream(string name, string path, string? stream, bool unnamedData, bool index)
    {
        Assert.Equal(NtStatus.Success, StreamNames.Parse(name, out var parsed));
        Assert.Equal(new StreamPath(path, stream, unnamedData, index), parsed);
    }

    [Theory]
    [InlineData("file.txt:")]              // empty stream name without a type
    [InlineData("file.txt:s:")]            // empty type
    [InlineData("file.txt:s:$FOO")]        // unknown type
    [InlineData("file.txt:s:?D*a")]
    [InlineData("file.txt:a:b:c")]         // too many colons
    [InlineData(@"dir:s\file.txt")]        // a stream in the middle of the path
    [InlineData("dir:x:$INDEX_ALLOCATION")] // an index other than $I30
    [InlineData(@"a\\b")]
    public void InvalidNamesAreObjectNameInvalid(string name) =>
        Assert.Equal(NtStatus.ObjectNameInvalid, StreamNames.Parse(name, out _));

    [Fact]
    public void StreamNamesOfMoreThan255CharactersAreInvalid()
    {
        Assert.Equal(NtStatus.Success, StreamNames.Parse("f:" + new string('s', 255), out _));
        Assert.Equal(NtStatus.ObjectNameInvalid, StreamNames.Parse("f:" + new string('s', 256), out _));
    }

    [Fact]
    public void DisplayNameOfAStreamIsPathColonStream()
    {
        Assert.Equal(@"d\f.txt:sTrEaM", StreamPath.Display(@"d\f.txt", "sTrEaM"));
        Assert.Equal(@"d\f.txt", StreamPath.Display(@"d\f.txt", null));
    }

    [Theory]
    [InlineData("README.TXT", "README.TXT")]
    [InlineData("bufsize.txt", "bufsize.txt")]
    public void An83NameIsItsOwnShortName(string name, string expected)
    {
        Assert.Equal(expected, ShortNames.ShortNameOf(name));
        Assert.Null(ShortNames.ForDirectoryEntry(name));
    }

    [Theory]
    [InlineData("testsmb2_file.dat", "TE", ".DAT")]
    [InlineData("a very long name.html", "AV", ".HTM")]
    [InlineData("noextension_but_long", "NO", "")]
    [InlineData("été.txt", "_T", ".TXT")]
    [InlineData(".profile", "PR", "")]
    public void LongNamesGetAWindowsStyleShortName(string name, string stem, string extension)
    {
        string s = ShortNames.ShortNameOf(name);
        Assert.True(ShortNames.IsValid83(s), $"{s} is a valid 8.3 name");
        Assert.StartsWith(stem, s, StringComparison.Ordinal);
        Assert.EndsWith("~1" + extension, s, StringComparison.Ordinal);
        Assert.Equal(s, ShortNames.ForDirectoryEntry(name));
        Assert.Equal(s, ShortNames.ShortNameOf(name.ToUpperInvariant())); // names are case-insensitive
    }

    [Fact]
    public void DifferentLongNamesUsuallyGetDifferentShortNames()
    {
        var names = Enumerable.Range(0, 200).Select(i => $"report number {i}.docx").ToList();
        Assert.True(names.Select(ShortNames.ShortNameOf).Distinct().Count() >= 195);
    }

    [Fact]
    public void NamedStreamsAndEasAreAnnouncedOnlyWhenTheVolumeHasThem()
    {
        var with = FsInfoQueries.Attributes(StorageCapabilities.NamedStreams | StorageCapabilities.FileEas, false);
        Assert.True(with.HasFlag(FileSystemAttributes.NamedStreams));
        Assert.True(with.HasFlag(FileSystemAttributes.SupportsExtendedAttributes));
        var without = FsInfoQueries.Attributes(StorageCapabilities.ExtendedAttributes | StorageCapabilities.SparseFiles, false);
        Assert.False(without.HasFlag(FileSystemAttributes.NamedStreams));
        Assert.False(without.HasFlag(FileSystemAttributes.SupportsExtendedAttributes));
    }

    [Fact]
    public void EachStreamIsANodeOfItsOwnKeyedCaseInsensitively()
    {
        var table = new FileNodeTable();
        var file = table.Acquire(7);
        var stream = table.Acquire(7, "Zone.Identifier");
        var same = table.Acquire(7, "ZONE.identifier");
        Assert.NotSame(file, stream);
        Assert.Same(stream, same);
        Assert.Same(file, table.Find(7));
        Assert.Same(stream, table.Find(7, "zone.IDENTIFIER"));
        Assert.Equal([stream], table.StreamsOf(7));
        table.Release(stream);
        table.Release(same);
        Assert.Empty(table.StreamsOf(7));
        Assert.Null(table.Find(7, "Zone.Identifier"));

        // A renamed stream's node follows the new name; a name whose node has opens is not taken over.
        var a = table.Acquire(7, "a");
        var b = table.Acquire(7, "b");
        Assert.False(table.Rekey(a, "B"));
        Assert.True(table.Rekey(a, "c"));
        Assert.Same(a, table.Find(7, "C"));
        Assert.Null(table.Find(7, "a"));
        table.Release(a);
        table.Release(b);
        Assert.Empty(table.StreamsOf(7));

        // A delete deferred while streams are open happens when nothing of the file is open any more.
        var s2 = table.Acquire(7, "s");
        table.DeferDelete(7, "f.txt");
        Assert.True(table.IsDeleteDeferred(7));
        table.Release(file);
        Assert.Null(table.TakeDeferredDelete(7)); // the stream is still open
        table.Release(s2);
        Assert.Equal("f.txt", table.TakeDeferredDelete(7));
        Assert.False(table.IsDeleteDeferred(7));
    }
}
