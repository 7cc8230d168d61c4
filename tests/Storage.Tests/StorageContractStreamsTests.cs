using System.Text;
using SmbCopy.Storage;

namespace SmbCopy.Storage.Tests;

// Named streams and extended attributes: contract behaviour of volumes that announce NamedStreams / FileEas. A volume
// without the capability is not asked (the gateway never sends it streams or EAs); the local driver has both, so
// these tests run and can fail there.
public abstract partial class StorageContractTests
{
    private bool HasStreams => Volume.Capabilities.HasFlag(StorageCapabilities.NamedStreams);
    private bool HasEas => Volume.Capabilities.HasFlag(StorageCapabilities.FileEas);

    private static OpenRequest CreateStream(string name) => new(CreateDisposition.Create, StorageAccess.ReadWrite, ObjectKind.File, Stream: name);
    private static OpenRequest OpenStream(string name, CreateDisposition disposition = CreateDisposition.Open) =>
        new(disposition, StorageAccess.ReadWrite, ObjectKind.File, Stream: name);

    private async Task WriteStreamAsync(string path, string stream, string content, CreateDisposition disposition = CreateDisposition.OpenIf)
    {
        var (h, _) = await Volume.OpenAsync(path, OpenStream(stream, disposition));
        await using (h)
            await h.WriteAsync(0, Encoding.UTF8.GetBytes(content));
    }

    private async Task<string> ReadStreamAsync(string path, string stream)
    {
        var (h, _) = await Volume.OpenAsync(path, OpenStream(stream));
        await using (h)
            return Encoding.UTF8.GetString(await ReadAllAsync(h));
    }

    private async Task<IReadOnlyList<StorageStreamEntry>> StreamsOfAsync(string path)
    {
        var (h, _) = await Volume.OpenAsync(path, OpenMeta);
        await using (h)
            return await h.GetStreamsAsync();
    }

    [Fact]
    public async Task NamedStreamIsSeparateDataOfTheSameFile()
    {
        if (!HasStreams) return;
        await CreateFileAsync("a.txt", "main data");
        var (s, action) = await Volume.OpenAsync("a.txt", CreateStream("Zone.Identifier"));
        await using (s)
        {
            Assert.Equal(OpenAction.Created, action);
            await s.WriteAsync(0, Encoding.UTF8.GetBytes("[ZoneTransfer]"));
            Assert.Equal("Zone.Identifier", s.StreamName);
            Assert.Equal("a.txt", s.Path);
            var (f, _) = await Volume.OpenAsync("a.txt", OpenMeta);
            await using (f)
            {
                Assert.Null(f.StreamName);
                Assert.Equal(f.FileId, s.FileId); // a stream has its file's id (Windows)
                var info = await s.GetInfoAsync();
                Assert.Equal(14, info.EndOfFile); // the stream's size, not the file's
                Assert.Equal((await f.GetInfoAsync()).CreationTime, info.CreationTime);
            }
        }
        Assert.Equal("main data", await ReadTextAsync("a.txt"));
        // Names are case-insensitive and keep the case they were created with.
        Assert.Equal("[ZoneTransfer]", await ReadStreamAsync("A.TXT", "zone.identifier"));
        var (again, _) = await Volume.OpenAsync("a.txt", OpenStream("ZONE.IDENTIFIER"));
        await using (again)
            Assert.Equal("Zone.Identifier", again.StreamName);
        var streams = await StreamsOfAsync("a.txt");
        var only = Assert.Single(streams);
        Assert.Equal("Zone.Identifier", only.Name);
        Assert.Equal(14, only.Size);
        await Assert.ThrowsAsync<StorageException>(async () => await Volume.OpenAsync("a.txt", CreateStream("zone.IDENTIFIER")));
    }

    [Fact]
    public async Task StreamDispositionsFollowTheStreamAndCreateTheFile()
    {
        if (!HasStreams) return;
        var missing = await Assert.ThrowsAsync<StorageException>(async () => await Volume.OpenAsync("none.txt", OpenStream("s")));
        Assert.Equal(StorageError.NotFound, missing.Error);
        await CreateFileAsync("f.txt");
        var noStream = await Assert.ThrowsAsync<StorageException>(async () => await Volume.OpenAsync("f.txt", OpenStream("s")));
        Assert.Equal(StorageError.NotFound, noStream.Error);

        // A stream created on a missing file creates the file (a file, empty).
        await WriteStreamAsync("new.txt", "s", "stream data", CreateDisposition.Create);
        var (f, _) = await Volume.OpenAsync("new.txt", OpenRead);
        await using (f)
        {
            var info = await f.GetInfoAsync();
            Assert.False(info.IsDirectory);
            Assert.Equal(0, info.EndOfFile);
        }
        // Overwrite truncates the stream only.
        await WriteStreamAsync("new.txt", "s", "x", CreateDisposition.OverwriteIf);
        Assert.Equal("x", await ReadStreamAsync("new.txt", "s"));
        var dir = await Assert.ThrowsAsync<StorageException>(async () => await Volume.OpenAsync("new.txt",
            new OpenRequest(CreateDisposition.Create, StorageAccess.ReadWrite, ObjectKind.Directory, Stream: "d")));
        Assert.Equal(StorageError.NotADirectory, dir.Error);
    }

    [Fact]
    public async Task InvalidStreamNamesAreRefused()
    {
        if (!HasStreams) return;
        await CreateFileAsync("f.txt");
        foreach (var bad in new[] { "a:b", "a\\b", "a/b", "a\0b", ".", "..", new string('x', 256) })
        {
            var e = await Assert.ThrowsAsync<StorageException>(async () => await Volume.OpenAsync("f.txt", CreateStream(bad)));
            Assert.Equal(StorageError.NameInvalid, e.Error);
        }
        // Characters Windows refuses in file names are fine in stream names.
        await WriteStreamAsync("f.txt", "?Stream*\u0005 <x>", "ok");
        Assert.Equal("ok", await ReadStreamAsync("f.txt", "?stream*\u0005 <X>"));
    }

    [Fact]
    public async Task StreamsLeaveWithTheirFileAndFollowRenames()
    {
        if (!HasStreams) return;
        await CreateFileAsync("f.txt", "data");
        await WriteStreamAsync("f.txt", "s1", "one");
        await Volume.RenameAsync("f.txt", "g.txt", replaceIfExists: false);
        Assert.Equal("one", await ReadStreamAsync("g.txt", "s1"));

        // Deleting the file deletes its streams: a new file of the same name has none.
        await Volume.DeleteAsync("g.txt");
        await CreateFileAsync("g.txt");
        Assert.Empty(await StreamsOfAsync("g.txt"));
        var gone = await Assert.ThrowsAsync<StorageException>(async () => await Volume.OpenAsync("g.txt", OpenStream("s1")));
        Assert.Equal(StorageError.NotFound, gone.Error);

        // A file replaced by a rename takes its streams with it.
        await CreateFileAsync("h.txt");
        await WriteStreamAsync("h.txt", "old", "replaced");
        await Volume.RenameAsync("g.txt", "h.txt", replaceIfExists: true);
        Assert.Empty(await StreamsOfAsync("h.txt"));
    }

    [Fact]
    public async Task StreamHandlesDeleteAndRenameOnlyTheStream()
    {
        if (!HasStreams) return;
        await CreateFileAsync("f.txt", "data");
        await WriteStreamAsync("f.txt", "a", "A");
        await WriteStreamAsync("f.txt", "b", "B");
        var (h, _) = await Volume.OpenAsync("f.txt", OpenStream("a"));
        await using (h)
        {
            var collision = await Assert.ThrowsAsync<StorageException>(async () => await h.RenameStreamAsync("B", replaceIfExists: false));
            Assert.Equal(StorageError.AlreadyExists, collision.Error);
            await h.RenameStreamAsync("Renamed", replaceIfExists: false);
            Assert.Equal("Renamed", h.StreamName);
            await h.SetDeleteOnCloseAsync(true);
        }
        var names = (await StreamsOfAsync("f.txt")).Select(s => s.Name).ToList();
        Assert.Equal(["b"], names);
        Assert.Equal("data", await ReadTextAsync("f.txt"));
    }

    [Fact]
    public async Task AStreamRenamedToTheUnnamedStreamBecomesTheFileData()
    {
        if (!HasStreams) return;
        await CreateFileAsync("f.txt", "old");
        await WriteStreamAsync("f.txt", "s", "stream data");
        var (h, _) = await Volume.OpenAsync("f.txt", OpenStream("s"));
        await using (h)
        {
            var refused = await Assert.ThrowsAsync<StorageException>(async () => await h.RenameStreamAsync("", replaceIfExists: false));
            Assert.Equal(StorageError.AlreadyExists, refused.Error); // the file has data
            await h.RenameStreamAsync("", replaceIfExists: true);
            Assert.Null(h.StreamName);
            await h.WriteAsync(11, "!"u8.ToArray()); // the handle is now open on the file's data
        }
        Assert.Equal("stream data!", await ReadTextAsync("f.txt"));
        Assert.Empty(await StreamsOfAsync("f.txt"));
    }

    [Fact]
    public async Task DirectoriesHaveStreamsAndTheStreamStoreIsNeverVisible()
    {
        if (!HasStreams) return;
        await CreateDirectoryAsync("d");
        await WriteStreamAsync("d", "s", "on a directory");
        await WriteStreamAsync("", "root", "on the share root");
        Assert.Equal("on a directory", await ReadStreamAsync("d", "s"));
        var (root, _) = await Volume.OpenAsync("", OpenMeta);
        await using (root)
        {
            var entries = await ListAsync(root);
            Assert.Equal(["d"], entries.Select(e => e.Name).ToArray());
            Assert.Equal("root", Assert.Single(await root.GetStreamsAsync()).Name);
        }
        var (d, _) = await Volume.OpenAsync("d", OpenMeta);
        await using (d)
            Assert.Empty(await ListAsync(d));
        // No share path reaches the store: ':' is not a name character.
        foreach (var path in new[] { "smbcopy:streams", "SMBCOPY:STREAMS", "d:s" })
        {
            var e = await Assert.ThrowsAsync<StorageException>(async () => await Volume.OpenAsync(path, OpenMeta));
            Assert.Equal(StorageError.NameInvalid, e.Error);
        }
    }

    [Fact]
    public async Task StreamsCopyLikeFiles()
    {
        if (!HasStreams || !Volume.Capabilities.HasFlag(StorageCapabilities.RangeCopy)) return;
        await CreateFileAsync("src.txt");
        await WriteStreamAsync("src.txt", "s", "0123456789");
        await CreateFileAsync("dst.txt");
        var (src, _) = await Volume.OpenAsync("src.txt", OpenStream("s"));
        var (dst, _) = await Volume.OpenAsync("dst.txt", OpenStream("t", CreateDisposition.Create));
        await using (src)
        await using (dst)
            Assert.Equal(8, await Volume.CopyRangeAsync(src, 2, dst, 0, 100));
        Assert.Equal("23456789", await ReadStreamAsync("dst.txt", "t"));
        Assert.Equal("", await ReadTextAsync("dst.txt"));
    }

    [Fact]
    public async Task ExtendedAttributesAreKeptUpperCasedAndRemovedByAnEmptyValue()
    {
        if (!HasEas) return;
        await CreateFileAsync("f.txt");
        var (h, _) = await Volume.OpenAsync("f.txt", OpenWrite);
        await using (h)
        {
            Assert.Empty(await h.GetEasAsync());
            await h.SetEasAsync([new StorageEa("EaOne", 0, "VALUE1"u8.ToArray()), new StorageEa("second", StorageEa.NeedEa, [1, 2, 3])]);
        }
        var (r, _) = await Volume.OpenAsync("f.txt", OpenMeta);
        await using (r)
        {
            var eas = (await r.GetEasAsync()).OrderBy(e => e.Name, StringComparer.Ordinal).ToList();
            Assert.Equal(["EAONE", "SECOND"], eas.Select(e => e.Name).ToArray());
            Assert.Equal("VALUE1"u8.ToArray(), eas[0].Value);
            Assert.Equal(StorageEa.NeedEa, eas[1].Flags);
            await r.SetEasAsync([new StorageEa("eaone", 0, [])]);
            Assert.Equal("SECOND", Assert.Single(await r.GetEasAsync()).Name);
        }
        if (HasStreams)
        {
            // A stream open shows (and sets) its file's EAs.
            var (s, _) = await Volume.OpenAsync("f.txt", OpenStream("s", CreateDisposition.Create));
            await using (s)
                Assert.Equal("SECOND", Assert.Single(await s.GetEasAsync()).Name);
        }
    }
}
