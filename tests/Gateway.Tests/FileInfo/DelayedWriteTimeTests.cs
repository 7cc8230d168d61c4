using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Gateway.Tests.Kit;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Storage;

namespace SmbCopy.Gateway.Tests.FileInfo;

/// <summary>
/// Delayed LastWriteTime updates of an open on a real local volume, as smb2.timestamps.delayed-* expect from
/// Windows and Samba 4.17: the first write schedules the update, later writes leave it to the close, FLUSH /
/// SET_INFO apply a pending one, an explicit time cancels them.
/// </summary>
public sealed class DelayedWriteTimeTests : IAsyncLifetime
{
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(400);
    private LocalVolumeKit _kit = null!;

    public async Task InitializeAsync() => _kit = await LocalVolumeKit.CreateAsync("smbcopy-dwt-");

    public Task DisposeAsync() => _kit.DisposeAsync().AsTask();

    private async Task<FileOpen> OpenAsync(string name)
    {
        var handle = await _kit.OpenHandleAsync(name);
        var metadata = await handle.GetInfoAsync();
        var node = _kit.Tree.Share.Nodes.Acquire(metadata.FileId);
        node.WriteTime.Observe(metadata); // as the CREATE answer does
        var open = new FileOpen(1, 1, _kit.Tree, AccessMask.GenericAll, ShareAccess.Read | ShareAccess.Write, handle, node, _kit.Volume);
        lock (node.Gate) node.AddOpen(open);
        open.WriteTime.Delay = Delay;
        return open;
    }

    /// <summary>What WRITE does around the storage write (WriteHandler).</summary>
    private static async Task WriteAsync(FileOpen open)
    {
        await Task.Delay(30); // past the file system's time granularity
        await open.WriteTime.BeforeWriteAsync(default);
        await open.Handle.WriteAsync(0, new byte[] { 1 });
        open.WriteTime.AfterWrite();
    }

    /// <summary>The LastWriteTime clients see (QUERY_INFO's view: storage's, overlaid by the node's held time).</summary>
    private static async Task<DateTime> LastWriteAsync(FileOpen open) => open.Node.WriteTime.Observe(await open.Handle.GetInfoAsync()).LastWriteTime;

    private static async Task<DateTime> OnDiskAsync(FileOpen open) => (await open.Handle.GetInfoAsync()).LastWriteTime;

    [Fact]
    public async Task The_first_write_moves_the_time_only_after_the_delay()
    {
        var open = await OpenAsync("a.txt");
        var before = await LastWriteAsync(open);

        await WriteAsync(open);
        Assert.Equal(before, await LastWriteAsync(open));
        Assert.True(await OnDiskAsync(open) > before); // storage moved it; the node holds what clients see
        Assert.True(open.WriteTime.Pending);

        await Task.Delay(Delay * 3);
        Assert.True(await LastWriteAsync(open) > before);
        Assert.Equal(await LastWriteAsync(open), await OnDiskAsync(open)); // the update is stored
        Assert.False(open.WriteTime.Pending);
        await open.CloseAsync();
    }

    [Fact]
    public async Task Writes_after_the_update_leave_the_time_to_the_close()
    {
        var open = await OpenAsync("b.txt");
        await WriteAsync(open);
        await Task.Delay(Delay * 3);
        var updated = await LastWriteAsync(open);

        await WriteAsync(open);
        await Task.Delay(Delay * 2);
        Assert.Equal(updated, await LastWriteAsync(open)); // the second write did not move it

        await Task.Delay(30);
        await open.WriteTime.CloseAsync(default);
        Assert.True(await LastWriteAsync(open) > updated);
        Assert.Equal(await LastWriteAsync(open), await OnDiskAsync(open));
        await open.CloseAsync();
    }

    [Fact]
    public async Task Flush_applies_a_pending_update_and_the_close_then_keeps_it()
    {
        var open = await OpenAsync("c.txt");
        var before = await LastWriteAsync(open);
        await WriteAsync(open);

        await Task.Delay(30);
        await open.WriteTime.ApplyPendingAsync(default);
        var flushed = await LastWriteAsync(open);
        Assert.True(flushed > before);

        await Task.Delay(Delay * 2);
        await open.WriteTime.CloseAsync(default);
        Assert.Equal(flushed, await LastWriteAsync(open));
        await open.CloseAsync();
    }

    [Fact]
    public async Task Closing_the_open_without_a_close_request_applies_a_pending_update()
    {
        // Cleanup on disconnect or logoff (FileOpen.CloseAsync) settles the time as Windows' cleanup does.
        var open = await OpenAsync("e.txt");
        var before = await LastWriteAsync(open);
        await WriteAsync(open);
        await Task.Delay(30);

        await open.CloseAsync();

        Assert.True(File.GetLastWriteTimeUtc(_kit.PathOf("e.txt")) > before);
    }

    [Fact]
    public async Task An_explicit_time_cancels_the_pending_update()
    {
        // smb2.timestamps.delayed-write-vs-seteof: a time set through another open survives this open's close.
        var open = await OpenAsync("d.txt");
        await WriteAsync(open);
        var set = new DateTime(2030, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        await open.Handle.SetInfoAsync(new FileInfoUpdate(LastWriteTime: set));
        open.WriteTime.ExplicitlySet(set);

        await Task.Delay(Delay * 3);
        Assert.Equal(set, await LastWriteAsync(open));
        await open.WriteTime.CloseAsync(default);
        Assert.Equal(set, await LastWriteAsync(open));
        Assert.Equal(set, await OnDiskAsync(open));
        await open.CloseAsync();
    }
}
