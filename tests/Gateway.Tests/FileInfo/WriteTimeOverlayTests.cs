using System.Buffers.Binary;
using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Gateway.Smb.Files.Info;
using SmbCopy.Gateway.Smb.Handlers;
using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Gateway.Tests.Kit;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Wire;
using SmbCopy.Storage;
using Xunit.Abstractions;

namespace SmbCopy.Gateway.Tests.FileInfo;

/// <summary>
/// The LastWriteTime clients see is held in memory on the file's node (DelayedWriteTime / WriteTimeOverlay): a WRITE
/// makes no storage metadata call, QUERY_INFO and QUERY_DIRECTORY report the held time, and the last close stores it.
/// </summary>
public sealed class WriteTimeOverlayTests(ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>An IStorageHandle that counts the calls made through it.</summary>
    private sealed class CountingHandle(IStorageHandle inner) : IStorageHandle
    {
        public int Writes, GetInfos, SetInfos, Sizes, Flushes;
        public int MetadataCalls => GetInfos + SetInfos + Sizes + Flushes;
        public string Path => inner.Path;
        public bool IsDirectory => inner.IsDirectory;
        public ulong FileId => inner.FileId;
        public bool DeleteOnClose => inner.DeleteOnClose;
        public ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken c = default) => inner.ReadAsync(offset, buffer, c);
        public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken c = default) { Interlocked.Increment(ref Writes); return inner.WriteAsync(offset, data, c); }
        public ValueTask FlushAsync(CancellationToken c = default) { Interlocked.Increment(ref Flushes); return inner.FlushAsync(c); }
        public ValueTask SetEndOfFileAsync(long length, CancellationToken c = default) { Interlocked.Increment(ref Sizes); return inner.SetEndOfFileAsync(length, c); }
        public ValueTask SetAllocationSizeAsync(long size, CancellationToken c = default) { Interlocked.Increment(ref Sizes); return inner.SetAllocationSizeAsync(size, c); }
        public ValueTask<FileMetadata> GetInfoAsync(CancellationToken c = default) { Interlocked.Increment(ref GetInfos); return inner.GetInfoAsync(c); }
        public ValueTask SetInfoAsync(FileInfoUpdate update, CancellationToken c = default) { Interlocked.Increment(ref SetInfos); return inner.SetInfoAsync(update, c); }
        public IAsyncEnumerable<StorageDirectoryEntry> EnumerateAsync(string? pattern = null, CancellationToken c = default) => inner.EnumerateAsync(pattern, c);
        public ValueTask RenameAsync(string newPath, bool replaceIfExists, CancellationToken c = default) => inner.RenameAsync(newPath, replaceIfExists, c);
        public ValueTask SetDeleteOnCloseAsync(bool deleteOnClose, CancellationToken c = default) => inner.SetDeleteOnCloseAsync(deleteOnClose, c);
        public ValueTask DeleteAsync(CancellationToken c = default) => inner.DeleteAsync(c);
        public ValueTask DisposeAsync() => inner.DisposeAsync();
        public void Dispose() => inner.Dispose();
    }

    private static readonly DateTime Old = new(2020, 5, 6, 7, 8, 9, DateTimeKind.Utc);
    private LocalVolumeKit _kit = null!;
    private ulong _nextId = 1;

    public async Task InitializeAsync() => _kit = await LocalVolumeKit.CreateAsync("smbcopy-wto-");

    public Task DisposeAsync() => _kit.DisposeAsync().AsTask();

    /// <summary>An open as CREATE makes it (node acquired and added, metadata observed for the answer), on a counting handle.</summary>
    private async Task<(FileOpen Open, CountingHandle Counter)> OpenAsync(string name, ObjectKind kind = ObjectKind.File)
    {
        var handle = await _kit.OpenHandleAsync(name, kind);
        var counter = new CountingHandle(handle);
        var metadata = await handle.GetInfoAsync();
        var node = _kit.Tree.Share.Nodes.Acquire(metadata.FileId);
        ulong id = _nextId++;
        var open = new FileOpen(id, id, _kit.Tree, AccessMask.FileAllAccess, ShareAccess.Read | ShareAccess.Write, counter, node, _kit.Volume);
        lock (node.Gate) node.AddOpen(open);
        node.WriteTime.Observe(metadata);
        _kit.Tree.Session.Opens[id] = open;
        return (open, counter);
    }

    /// <summary>One SMB2 WRITE request (MS-SMB2 2.2.21) through the real handler.</summary>
    private async Task WriteAsync(FileOpen open, long offset, byte[] data)
    {
        var message = new byte[Smb2Header.Size + 48 + data.Length];
        var body = message.AsSpan(Smb2Header.Size);
        BinaryPrimitives.WriteUInt16LittleEndian(body, 49);
        BinaryPrimitives.WriteUInt16LittleEndian(body[2..], Smb2Header.Size + 48);
        BinaryPrimitives.WriteUInt32LittleEndian(body[4..], (uint)data.Length);
        BinaryPrimitives.WriteInt64LittleEndian(body[8..], offset);
        BinaryPrimitives.WriteUInt64LittleEndian(body[16..], open.PersistentId);
        BinaryPrimitives.WriteUInt64LittleEndian(body[24..], open.VolatileId);
        data.CopyTo(message.AsSpan(Smb2Header.Size + 48));
        var request = new Smb2Request
        {
            Connection = _kit.Connection, Server = _kit.Server, Header = new Smb2Header { Command = Smb2Command.Write }, Message = message,
            Session = _kit.Tree.Session, Tree = _kit.Tree,
        };
        var response = await new WriteHandler().HandleAsync(request);
        Assert.Equal(NtStatus.Success, response.Status);
    }

    private static async Task<DateTime> QueryBasicLastWriteAsync(FileOpen open)
    {
        var answer = await FileInfoQueries.QueryAsync(open, FileInformationClass.Basic, Smb2Dialect.Smb311, default);
        Assert.Equal(NtStatus.Success, answer.Status);
        return DateTime.FromFileTimeUtc(BinaryPrimitives.ReadInt64LittleEndian(answer.Data.AsSpan(16))); // FILE_BASIC_INFORMATION.LastWriteTime
    }

    private async Task<DateTime> ListedLastWriteAsync(string name)
    {
        var (dir, _) = await OpenAsync("", ObjectKind.Directory);
        using var w = new WireWriter(4096);
        var result = await DirectoryListing.QueryAsync(dir, FileInformationClass.Directory, 0, name, 4096, w, default);
        Assert.Equal(1, result.Count);
        _kit.Tree.Session.Opens.TryRemove(dir.VolatileId, out _);
        await dir.CloseAsync();
        return DateTime.FromFileTimeUtc(BinaryPrimitives.ReadInt64LittleEndian(w.WrittenSpan[24..])); // FILE_DIRECTORY_INFORMATION.LastWriteTime
    }

    private DateTime OnDisk(string name) => File.GetLastWriteTimeUtc(Path.Combine(_kit.Root, name));

    [Fact]
    public async Task A_write_makes_no_storage_metadata_call()
    {
        var (open, counter) = await OpenAsync("w.txt");
        open.WriteTime.Delay = TimeSpan.FromHours(1); // the delayed update is not part of the write path
        var (frozen, frozenCounter) = await OpenAsync("f.txt");
        // SET_INFO FileBasicInformation LastWriteTime -1 (MS-FSA 2.1.5.14.2), then FileEndOfFileInformation (the
        // storage moves its time itself), as a copy does before its writes.
        var basic = new byte[40];
        BinaryPrimitives.WriteInt64LittleEndian(basic.AsSpan(16), -1);
        Assert.Equal(NtStatus.Success, await FileInfoUpdates.SetAsync(_kit.Server, frozen, FileInformationClass.Basic, basic, default));
        Assert.True(frozen.LastWriteFrozen);
        foreach (var o in new[] { open, frozen })
            Assert.Equal(NtStatus.Success, await FileInfoUpdates.SetAsync(_kit.Server, o, FileInformationClass.EndOfFile, BitConverter.GetBytes(1600L), default));
        counter.GetInfos = counter.SetInfos = counter.Sizes = counter.Flushes = 0;
        frozenCounter.GetInfos = frozenCounter.SetInfos = frozenCounter.Sizes = frozenCounter.Flushes = 0;

        for (int i = 0; i < 100; i++)
        {
            await WriteAsync(open, i * 16, new byte[16]);
            await WriteAsync(frozen, i * 16, new byte[16]);
        }

        output.WriteLine($"100 writes: {counter.Writes} storage writes, {counter.MetadataCalls} metadata calls " +
            $"(GetInfo {counter.GetInfos}, SetInfo {counter.SetInfos}); frozen open: {frozenCounter.MetadataCalls} " +
            $"(GetInfo {frozenCounter.GetInfos}, SetInfo {frozenCounter.SetInfos})");
        Assert.Equal(100, counter.Writes);
        Assert.Equal(100, frozenCounter.Writes);
        Assert.Equal(0, counter.MetadataCalls);
        Assert.Equal(0, frozenCounter.MetadataCalls);
        Assert.True(open.WriteTime.Pending);
        foreach (var o in new[] { open, frozen })
        {
            _kit.Tree.Session.Opens.TryRemove(o.VolatileId, out _);
            await o.CloseAsync();
        }
    }

    [Fact]
    public async Task Query_info_and_the_listing_report_the_held_time_and_the_last_close_stores_it()
    {
        File.WriteAllBytes(_kit.PathOf("h.txt"), [1, 2, 3]);
        File.SetLastWriteTimeUtc(_kit.PathOf("h.txt"), Old);
        var (writer, _) = await OpenAsync("h.txt");
        writer.LastWriteFrozen = true;              // the client froze the time through this open
        var (reader, _) = await OpenAsync("h.txt"); // another open of the file, no writes

        await WriteAsync(writer, 0, new byte[100]);
        await WriteAsync(writer, 100, new byte[100]);

        Assert.NotEqual(Old, OnDisk("h.txt"));                    // storage moved its time with the writes ...
        Assert.Equal(Old, await QueryBasicLastWriteAsync(writer)); // ... clients see the held one
        Assert.Equal(Old, await QueryBasicLastWriteAsync(reader));
        Assert.Equal(Old, await ListedLastWriteAsync("h.txt"));

        _kit.Tree.Session.Opens.TryRemove(writer.VolatileId, out _);
        await writer.CloseAsync();
        Assert.Equal(Old, await QueryBasicLastWriteAsync(reader)); // still held while the file is open

        _kit.Tree.Session.Opens.TryRemove(reader.VolatileId, out _);
        await reader.CloseAsync();
        Assert.Equal(Old, OnDisk("h.txt"));                        // the last close stored what clients saw
        Assert.Equal(0, _kit.Tree.Share.Nodes.Count);
        Assert.Equal(Old, await ListedLastWriteAsync("h.txt"));    // and storage reports it from then on
    }

    [Fact]
    public async Task A_pending_update_is_reported_as_the_old_time_until_the_close_stores_now()
    {
        File.WriteAllBytes(_kit.PathOf("p.txt"), [1]);
        File.SetLastWriteTimeUtc(_kit.PathOf("p.txt"), Old);
        var (open, _) = await OpenAsync("p.txt");
        open.WriteTime.Delay = TimeSpan.FromHours(1);

        await WriteAsync(open, 0, new byte[10]);
        Assert.Equal(Old, await QueryBasicLastWriteAsync(open));
        Assert.Equal(Old, await ListedLastWriteAsync("p.txt"));

        var before = DateTime.UtcNow.AddSeconds(-5);
        _kit.Tree.Session.Opens.TryRemove(open.VolatileId, out _);
        await open.CloseAsync();
        Assert.True(OnDisk("p.txt") > before); // the close applied the pending update
    }
}
