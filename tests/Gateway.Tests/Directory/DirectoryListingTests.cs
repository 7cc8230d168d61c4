using System.Buffers.Binary;
using System.Text;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Wire;
using SmbCopy.Storage;
using SmbCopy.Storage.Local;
using StorageDisposition = SmbCopy.Storage.CreateDisposition;

namespace SmbCopy.Gateway.Tests.DirectoryCommands;

/// <summary>QUERY_DIRECTORY's object-store half (MS-FSA 2.1.5.6.3) on a real local volume.</summary>
public sealed class DirectoryListingTests : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("smbcopy-dir-").FullName;
    private IStorageVolume _volume = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Path.Combine(_root, "sub", "deeper"));
        File.WriteAllText(Path.Combine(_root, "sub", "a.txt"), "a");
        File.WriteAllText(Path.Combine(_root, "sub", "B.doc"), "bb");
        _volume = await new LocalStorageDriver().OpenVolumeAsync(new StorageVolumeOptions("t", _root));
    }

    public async Task DisposeAsync()
    {
        await _volume.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    private async Task<IStorageHandle> OpenDirAsync(string path) =>
        (await _volume.OpenAsync(path, new OpenRequest(StorageDisposition.Open, StorageAccess.None, ObjectKind.Directory))).Handle;

    /// <summary>Parses a FileNamesInformation / FileIdBothDirectoryInformation buffer into (name, fileId).</summary>
    private static List<(string Name, ulong FileId)> Parse(ReadOnlySpan<byte> buffer, FileInformationClass c)
    {
        var result = new List<(string, ulong)>();
        int offset = 0;
        while (true)
        {
            var e = buffer[offset..];
            uint next = BinaryPrimitives.ReadUInt32LittleEndian(e);
            if (c == FileInformationClass.Names)
            {
                int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(e[8..]);
                result.Add((Encoding.Unicode.GetString(e.Slice(12, len)), 0));
            }
            else
            {
                int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(e[60..]);
                result.Add((Encoding.Unicode.GetString(e.Slice(104, len)), BinaryPrimitives.ReadUInt64LittleEndian(e[96..])));
            }
            if (next == 0) return result;
            Assert.Equal(0u, next % 8);
            offset += (int)next;
        }
    }

    private static (NtStatus Status, List<(string Name, ulong FileId)> Entries) Query(DirectorySearch search, bool first, int length,
        FileInformationClass c = FileInformationClass.IdBothDirectory, bool single = false)
    {
        using var w = new WireWriter(length);
        var r = DirectoryListing.Fill(search, first, c, single, length, w);
        Assert.True(w.Length <= length);
        return (r.Status, w.Length == 0 ? [] : Parse(w.WrittenSpan, c));
    }

    [Fact]
    public async Task Dot_and_dotdot_come_first_then_the_entries()
    {
        await using var dir = await OpenDirAsync("sub");
        var search = await DirectoryListing.StartAsync(dir, _volume, "*", default);
        var (status, entries) = Query(search, true, 65536);
        Assert.Equal(NtStatus.Success, status);
        Assert.Equal(".", entries[0].Name);
        Assert.Equal("..", entries[1].Name);
        Assert.Equal(["B.doc", "a.txt", "deeper"], entries.Skip(2).Select(e => e.Name).Order(StringComparer.Ordinal));
        // FileId of "." is the directory's, of ".." the parent's (the share root here).
        Assert.Equal(dir.FileId, entries[0].FileId);
        await using var root = await OpenDirAsync("");
        Assert.Equal(root.FileId, entries[1].FileId);
        Assert.Equal(NtStatus.NoMoreFiles, Query(search, false, 65536).Status);
    }

    [Fact]
    public async Task Share_root_dotdot_describes_the_root()
    {
        await using var root = await OpenDirAsync("");
        var search = await DirectoryListing.StartAsync(root, _volume, "*", default);
        var (_, entries) = Query(search, true, 65536);
        Assert.Equal((".", root.FileId), entries[0]);
        Assert.Equal(("..", root.FileId), entries[1]);
    }

    [Theory]
    [InlineData("*.txt", new[] { "a.txt" })]
    [InlineData("A.TXT", new[] { "a.txt" })]     // exact name, case-insensitive
    [InlineData("?.*", new[] { "..", "a.txt", "B.doc" })] // ".." matches too, as in FsRtlIsNameInExpression
    [InlineData("<.doc", new[] { "B.doc" })]
    [InlineData(".", new[] { "." })]
    [InlineData("..", new[] { ".." })]
    public async Task Patterns_select_names(string pattern, string[] expected)
    {
        await using var dir = await OpenDirAsync("sub");
        var search = await DirectoryListing.StartAsync(dir, _volume, pattern, default);
        var (status, entries) = Query(search, true, 65536, FileInformationClass.Names);
        Assert.Equal(NtStatus.Success, status);
        Assert.Equal(expected.Order(StringComparer.Ordinal), entries.Select(e => e.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task No_match_on_first_query_is_no_such_file_and_later_no_more_files()
    {
        await using var dir = await OpenDirAsync("sub");
        var search = await DirectoryListing.StartAsync(dir, _volume, "nothere", default);
        Assert.Equal(NtStatus.NoSuchFile, Query(search, true, 65536).Status);
        Assert.Equal(NtStatus.NoMoreFiles, Query(search, false, 65536).Status);
    }

    [Fact]
    public async Task Single_entry_and_truncated_first_entry()
    {
        await using var dir = await OpenDirAsync("sub");
        var search = await DirectoryListing.StartAsync(dir, _volume, "*", default);
        var one = Query(search, true, 65536, single: true);
        Assert.Equal((NtStatus.Success, 1), (one.Status, one.Entries.Count));
        Assert.Equal(".", one.Entries[0].Name);

        // ".." needs 104 + 4 bytes; 105 bytes hold the fixed part only: truncated, BUFFER_OVERFLOW, consumed.
        using var w = new WireWriter(256);
        var r = DirectoryListing.Fill(search, false, FileInformationClass.IdBothDirectory, false, 105, w);
        Assert.Equal(NtStatus.BufferOverflow, r.Status);
        Assert.Equal(104, w.Length);
        Assert.Equal(4u, BinaryPrimitives.ReadUInt32LittleEndian(w.WrittenSpan[60..])); // full FileNameLength
        var rest = Query(search, false, 65536);
        Assert.Equal(3, rest.Entries.Count);
        Assert.DoesNotContain(rest.Entries, e => e.Name is "." or "..");
    }

    [Fact]
    public async Task Ten_thousand_entries_are_listed_exactly_once_across_small_buffers()
    {
        string big = Path.Combine(_root, "big");
        Directory.CreateDirectory(big);
        for (int i = 0; i < 10_000; i++) File.Create(Path.Combine(big, $"file_{i:D5}_{new string('x', i % 37)}")).Dispose();
        await using var dir = await OpenDirAsync("big");
        var search = await DirectoryListing.StartAsync(dir, _volume, "*", default);
        var seen = new List<string>();
        bool first = true;
        int calls = 0;
        while (true)
        {
            // A buffer size that is not a multiple of an entry's size, so boundaries move around.
            var (status, entries) = Query(search, first, 4093);
            first = false;
            if (status == NtStatus.NoMoreFiles) break;
            Assert.Equal(NtStatus.Success, status);
            Assert.NotEmpty(entries);
            seen.AddRange(entries.Select(e => e.Name));
            calls++;
        }
        Assert.True(calls > 100);
        Assert.Equal(10_002, seen.Count);
        Assert.Equal(10_002, seen.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(Enumerable.Range(0, 10_000).Select(i => $"file_{i:D5}_{new string('x', i % 37)}").Concat([".", ".."]).Order(StringComparer.Ordinal),
            seen.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Continued_listing_does_not_return_names_deleted_meanwhile()
    {
        string dirPath = Path.Combine(_root, "fixed");
        Directory.CreateDirectory(dirPath);
        for (int i = 0; i < 100; i++) File.Create(Path.Combine(dirPath, $"n{i:D3}")).Dispose();
        await using var dir = await OpenDirAsync("fixed");
        var search = await DirectoryListing.StartAsync(dir, _volume, "*", default);
        Assert.Equal(".", Query(search, true, 256, single: true).Entries.Single().Name);
        for (int i = 0; i < 100; i += 2) File.Delete(Path.Combine(dirPath, $"n{i:D3}"));

        var seen = new List<string>();
        while (true)
        {
            await DirectoryListing.RecheckAsync(dir, search, FileInformationClass.IdBothDirectory, 1024, default);
            var (status, entries) = Query(search, false, 1024);
            if (status == NtStatus.NoMoreFiles) break;
            seen.AddRange(entries.Select(e => e.Name));
        }
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"n{2 * i + 1:D3}").Append("..").Order(StringComparer.Ordinal),
            seen.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData((byte)50, true)]
    [InlineData((byte)63, true)]
    [InlineData((byte)81, true)]
    [InlineData((byte)4, false)]
    [InlineData((byte)200, false)]
    public void Known_but_unsupported_classes(byte c, bool known) =>
        Assert.Equal(known, DirectoryListing.IsKnownUnsupported((FileInformationClass)c));
}
