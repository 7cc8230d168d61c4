using System.Diagnostics;
using System.Security.Cryptography;
using SmbCopy.Storage.Iscsi.Initiator;
using SmbCopy.Storage.Iscsi.Scsi;
using Xunit.Abstractions;

namespace SmbCopy.Storage.Tests.Iscsi;

/// <summary>READ/WRITE, EXTENDED COPY, sense decoding and connection loss against a real LIO target. Each test uses its
/// own LBA region, so the tests of the collection may share the two LUNs.</summary>
[Collection(LioCollection.Name)]
public sealed class LioDataPathTests(LioTargetFixture target, ITestOutputHelper output)
{
    private const int MiB = 1024 * 1024;
    private const long RegionBlocks = 64L * MiB / 512;

    // LBA regions of 64 MiB (512-byte blocks) on the 1 GiB LUNs: each test its own, so none depends on another's data
    private static long Region(int n) => n * RegionBlocks;

    private static byte[] RandomBytes(int n)
    {
        var b = GC.AllocateUninitializedArray<byte>(n);
        Random.Shared.NextBytes(b);
        return b;
    }

    private static string Hash(ReadOnlySpan<byte> b) => Convert.ToHexString(SHA256.HashData(b))[..16];

    [Fact]
    public async Task Write_then_read_round_trip_keeps_the_bytes()
    {
        await using var client = await IscsiClient.ConnectAsync(target.Options());
        var lun = await ScsiBlockDevice.OpenAsync(client, target.Lun0);
        var data = RandomBytes(8 * MiB + 4096); // not a multiple of the 4 MiB command size: a short last command
        var before = client.Counters.Snapshot();
        var sw = Stopwatch.StartNew();
        await lun.WriteAsync(Region(0) + 8, data);
        await lun.SynchronizeCacheAsync();
        var wrote = sw.Elapsed;
        var back = new byte[data.Length];
        sw.Restart();
        await lun.ReadAsync(Region(0) + 8, back);
        var read = sw.Elapsed;
        var d = client.Counters.Snapshot() - before;
        output.WriteLine($"write {data.Length / MiB} MiB: {wrote.TotalMilliseconds:0} ms, read: {read.TotalMilliseconds:0} ms; {d}; " +
                         $"R2T {client.Counters.ReadyToTransfers}, Data-Out PDUs {client.Counters.DataOutPdus}, Data-In PDUs {client.Counters.DataInPdus}");
        Assert.Equal(Hash(data), Hash(back));
        Assert.Equal(3, d.WriteCommands);
        Assert.Equal(3, d.ReadCommands);
        Assert.Equal(data.Length, d.BytesOut);
        Assert.Equal(data.Length, d.BytesIn);
    }

    [Fact]
    public async Task Many_commands_in_flight_on_one_connection_are_matched_by_task_tag()
    {
        await using var client = await IscsiClient.ConnectAsync(target.Options());
        var lun = await ScsiBlockDevice.OpenAsync(client, target.Lun0);
        const int n = 64, size = 64 * 1024;
        var data = RandomBytes(n * size);
        await Task.WhenAll(Enumerable.Range(0, n).Select(i =>
            client.ExecuteAsync(new ScsiCommand(lun.Lun, Cdb.Write16((ulong)(Region(1) + i * size / 512), size / 512),
                DataOut: data.AsMemory(i * size, size)))));
        var back = new byte[data.Length];
        // reversed order of issue: completions arrive interleaved, each lands in its own buffer
        await Task.WhenAll(Enumerable.Range(0, n).Reverse().Select(i =>
            client.ExecuteAsync(new ScsiCommand(lun.Lun, Cdb.Read16((ulong)(Region(1) + i * size / 512), size / 512),
                DataIn: back.AsMemory(i * size, size)))));
        Assert.Equal(Hash(data), Hash(back));
        Assert.Equal(0, client.Counters.Reconnects);
    }

    [Fact]
    public async Task Out_of_range_lba_is_a_decoded_illegal_request()
    {
        await using var client = await IscsiClient.ConnectAsync(target.Options());
        var lun = await ScsiBlockDevice.OpenAsync(client, target.Lun0);
        var retries = client.Counters.Retries;
        var e = await Assert.ThrowsAsync<ScsiCommandException>(() => lun.ReadAsync(lun.Blocks, new byte[4096]));
        output.WriteLine(e.Message);
        Assert.Equal(ScsiStatus.CheckCondition, e.Status);
        Assert.Equal(SenseKey.IllegalRequest, e.Sense!.Key);
        Assert.Equal(0x21, e.Sense.Asc);
        Assert.Equal(0x00, e.Sense.Ascq);
        Assert.Contains("ILLEGAL REQUEST", e.Message);
        Assert.Contains("LOGICAL BLOCK ADDRESS OUT OF RANGE", e.Message);
        Assert.Contains("READ(16)", e.Message);
        Assert.Equal(StorageError.InvalidParameter, e.ToStorageError());
        Assert.False(e.IsTransient);
        Assert.Equal(retries, client.Counters.Retries); // not retried

        var w = await Assert.ThrowsAsync<ScsiCommandException>(() => lun.WriteAsync(lun.Blocks - 1, new byte[1024]));
        output.WriteLine(w.Message);
        Assert.Equal(0x21, w.Sense!.Asc);
        // the connection is still good
        await lun.ReadAsync(0, new byte[512]);
    }

    [Fact]
    public async Task Extended_copy_64MiB_within_one_lun_moves_no_data_through_the_gateway()
    {
        await using var client = await IscsiClient.ConnectAsync(target.Options());
        var lun = await ScsiBlockDevice.OpenAsync(client, target.Lun0);
        var data = RandomBytes(64 * MiB);
        await lun.WriteAsync(Region(2), data);
        var before = client.Counters.Snapshot();
        var sw = Stopwatch.StartNew();
        var result = await new ScsiCopyEngine().CopyAsync(lun, Region(2), lun, Region(3), RegionBlocks);
        sw.Stop();
        var d = client.Counters.Snapshot() - before;
        output.WriteLine($"XCOPY 64 MiB LUN0→LUN0: {sw.ElapsedMilliseconds} ms, {result}; counters {d}");
        Assert.Equal(ScsiCopyMethod.ExtendedCopy, result.Method);
        Assert.Null(result.FallbackReason);
        Assert.Equal(3, d.ExtendedCopyCommands);          // 131,072 blocks / 65,535 per command
        Assert.Equal(0, d.ReadCommands);
        Assert.Equal(0, d.WriteCommands);
        Assert.True(d.BytesIn + d.BytesOut < 4096, $"only parameter lists cross the wire, not {d.BytesIn + d.BytesOut} bytes");
        var back = new byte[data.Length];
        await lun.ReadAsync(Region(3), back);
        Assert.Equal(Hash(data), Hash(back));
    }

    [Fact]
    public async Task Extended_copy_64MiB_across_luns()
    {
        await using var client = await IscsiClient.ConnectAsync(target.Options());
        var lun0 = await ScsiBlockDevice.OpenAsync(client, target.Lun0);
        var lun1 = await ScsiBlockDevice.OpenAsync(client, target.Lun1);
        var data = RandomBytes(64 * MiB);
        await lun0.WriteAsync(Region(4), data);
        var before = client.Counters.Snapshot();
        var sw = Stopwatch.StartNew();
        var result = await new ScsiCopyEngine().CopyAsync(lun0, Region(4), lun1, 7, RegionBlocks); // unaligned destination
        sw.Stop();
        var d = client.Counters.Snapshot() - before;
        output.WriteLine($"XCOPY 64 MiB LUN0→LUN1: {sw.ElapsedMilliseconds} ms, {result}; counters {d}");
        Assert.Equal(ScsiCopyMethod.ExtendedCopy, result.Method);
        Assert.Equal(3, d.ExtendedCopyCommands);
        Assert.Equal(0, d.ReadCommands + d.WriteCommands);
        var back = new byte[data.Length];
        await lun1.ReadAsync(7, back);
        Assert.Equal(Hash(data), Hash(back));
    }

    /// <summary>Every wait of the drop tests is bounded: a regression (a command that never completes, a send stuck on
    /// a dead socket, a disposal that waits for ever) fails with the initiator's state instead of hanging the test host.
    /// Normal runs take seconds; the bound leaves room for one login timeout of a slow TCG guest.</summary>
    private static readonly TimeSpan DropBound = TimeSpan.FromSeconds(150);

    private static async Task BoundedAsync(Task task, string what, IscsiClient client, TcpDropProxy proxy)
    {
        if (await Task.WhenAny(task, Task.Delay(DropBound)) != task)
        {
            var c = client.Counters;
            var conn = client.CurrentConnection;
            Assert.Fail($"{what}: not done after {DropBound.TotalSeconds:0} s (hang). Initiator: {c.Snapshot()}, R2T {c.ReadyToTransfers}, " +
                        $"Data-Out PDUs {c.DataOutPdus}; current connection {(conn == null ? "none usable" : $"usable, {conn.InFlight} in flight")}; " +
                        $"proxy: {proxy.Connections} connection(s), {proxy.BytesRelayed} bytes relayed");
        }
        await task;
    }

    [Fact]
    public async Task Connection_dropped_mid_write_reconnects_and_the_write_completes()
    {
        var proxy = new TcpDropProxy(target.Host, target.Port);
        IscsiClient? client = null;
        try
        {
            client = await IscsiClient.ConnectAsync(target.Options("127.0.0.1", proxy.Port)).WaitAsync(DropBound);
            var lun = await ScsiBlockDevice.OpenAsync(client, target.Lun0).WaitAsync(DropBound);
            var data = RandomBytes(32 * MiB);
            long start = proxy.BytesRelayed;
            var write = lun.WriteAsync(Region(5), data);
            var sw = Stopwatch.StartNew();
            while (proxy.BytesRelayed - start < 6 * MiB && !write.IsCompleted && sw.Elapsed < DropBound) await Task.Delay(5);
            int dropped = proxy.DropAll();
            output.WriteLine($"dropped {dropped} connection(s) after {(proxy.BytesRelayed - start) / MiB} MiB relayed");
            Assert.False(write.IsCompleted, "the write finished before the drop; the test proves nothing");
            sw.Restart();
            await BoundedAsync(write, "the write after the drop", client, proxy); // completes after reconnect + retry of the commands in flight
            output.WriteLine($"write completed {sw.ElapsedMilliseconds} ms after the drop");
            Assert.True(client.Counters.Reconnects >= 1);
            Assert.True(client.Counters.Retries >= 1);
            Assert.True(proxy.Connections >= 2);
            var back = new byte[data.Length];
            await BoundedAsync(lun.ReadAsync(Region(5), back), "the read-back", client, proxy);
            Assert.Equal(Hash(data), Hash(back));
            output.WriteLine($"reconnects {client.Counters.Reconnects}, retries {client.Counters.Retries}");
        }
        finally
        {
            if (client != null) await BoundedAsync(client.DisposeAsync().AsTask(), "IscsiClient.DisposeAsync", client, proxy);
            await proxy.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    [Fact]
    public async Task Connection_dropped_mid_extended_copy_reconnects_and_the_copy_completes()
    {
        var proxy = new TcpDropProxy(target.Host, target.Port);
        IscsiClient? client = null;
        try
        {
            client = await IscsiClient.ConnectAsync(target.Options("127.0.0.1", proxy.Port)).WaitAsync(DropBound);
            var lun0 = await ScsiBlockDevice.OpenAsync(client, target.Lun0).WaitAsync(DropBound);
            var lun1 = await ScsiBlockDevice.OpenAsync(client, target.Lun1).WaitAsync(DropBound);
            var data = RandomBytes(64 * MiB);
            await BoundedAsync(lun0.WriteAsync(Region(6), data), "the source write", client, proxy);
            long before = client.Counters.ExtendedCopyCommands;
            var copy = new ScsiCopyEngine().CopyAsync(lun0, Region(6), lun1, Region(6), data.Length / 512);
            var sw = Stopwatch.StartNew();
            while (client.Counters.ExtendedCopyCommands == before && !copy.IsCompleted && sw.Elapsed < DropBound) await Task.Delay(1);
            proxy.DropAll(); // the first of 3 EXTENDED COPY commands is in flight
            Assert.False(copy.IsCompleted, "the copy finished before the drop; the test proves nothing");
            await BoundedAsync(copy, "the copy after the drop", client, proxy);
            var result = await copy;
            long reconnects = client.Counters.Reconnects, retries = client.Counters.Retries;
            output.WriteLine($"{result}; reconnects {reconnects}, retries {retries}");
            Assert.Equal(ScsiCopyMethod.ExtendedCopy, result.Method);
            Assert.True(reconnects >= 1 && retries >= 1);
            var back = new byte[data.Length];
            await BoundedAsync(lun1.ReadAsync(Region(6), back), "the read-back", client, proxy);
            Assert.Equal(Hash(data), Hash(back));
        }
        finally
        {
            if (client != null) await BoundedAsync(client.DisposeAsync().AsTask(), "IscsiClient.DisposeAsync", client, proxy);
            await proxy.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    [Fact]
    public async Task Target_unreachable_after_drop_is_a_clean_error()
    {
        var proxy = new TcpDropProxy(target.Host, target.Port);
        var options = target.Options("127.0.0.1", proxy.Port) with
        {
            MaxRetryAttempts = 2,
            RetryDelay = TimeSpan.FromMilliseconds(50),
            ConnectTimeout = TimeSpan.FromSeconds(2),
        };
        await using var client = await IscsiClient.ConnectAsync(options);
        var lun = await ScsiBlockDevice.OpenAsync(client, target.Lun0);
        await proxy.DisposeAsync(); // listener gone and connections reset: nothing to reconnect to
        var e = await Assert.ThrowsAsync<IscsiConnectionException>(() => lun.ReadAsync(0, new byte[4096]));
        output.WriteLine(e.Message);
        Assert.True(client.Counters.Retries >= 2);
    }

    [Fact]
    public async Task Digests_crc32c_round_trip()
    {
        await using var client = await IscsiClient.ConnectAsync(target.Options() with { HeaderDigest = true, DataDigest = true });
        var p = await client.GetParametersAsync();
        Assert.True(p.Digests.Header && p.Digests.Data, $"LIO accepts CRC32C: {p.Digests}");
        var lun = await ScsiBlockDevice.OpenAsync(client, target.Lun1);
        var data = RandomBytes(2 * MiB + 1536);
        await lun.WriteAsync(Region(7), data);
        var back = new byte[data.Length];
        await lun.ReadAsync(Region(7), back);
        Assert.Equal(Hash(data), Hash(back));
    }

    [Fact]
    public async Task Unmap_when_the_lun_supports_it()
    {
        await using var client = await IscsiClient.ConnectAsync(target.Options());
        var lun = await ScsiBlockDevice.OpenAsync(client, target.Lun1);
        Assert.True(lun.SupportsUnmap, lun.ToString());
        await lun.WriteAsync(Region(8), RandomBytes(MiB));
        await lun.UnmapAsync(Region(8), MiB / 512);
        output.WriteLine($"LBPRZ {lun.Capacity.Lbprz}, limits {lun.Limits}");
        if (lun.Capacity.Lbprz)
        {
            var back = new byte[MiB];
            await lun.ReadAsync(Region(8), back);
            Assert.True(back.All(b => b == 0));
        }
    }

    /// <summary>Not a timed assertion: prints EXTENDED COPY vs READ/WRITE through the gateway for 64 MiB.</summary>
    [Fact]
    public async Task Benchmark_64MiB_extended_copy_vs_read_write()
    {
        await using var client = await IscsiClient.ConnectAsync(target.Options());
        var lun0 = await ScsiBlockDevice.OpenAsync(client, target.Lun0);
        var lun1 = await ScsiBlockDevice.OpenAsync(client, target.Lun1);
        var data = RandomBytes(64 * MiB);
        await lun0.WriteAsync(Region(9), data);
        await lun0.SynchronizeCacheAsync();

        var b0 = client.Counters.Snapshot();
        var sw = Stopwatch.StartNew();
        var x = await new ScsiCopyEngine().CopyAsync(lun0, Region(9), lun1, Region(10), RegionBlocks);
        await lun1.SynchronizeCacheAsync();
        var tx = sw.Elapsed;
        var dx = client.Counters.Snapshot() - b0;

        b0 = client.Counters.Snapshot();
        sw.Restart();
        var rw = await new ScsiCopyEngine { UseExtendedCopy = false }.CopyAsync(lun0, Region(9), lun1, Region(11), RegionBlocks);
        await lun1.SynchronizeCacheAsync();
        var trw = sw.Elapsed;
        var drw = client.Counters.Snapshot() - b0;

        double mbx = 64 / tx.TotalSeconds, mbrw = 64 / trw.TotalSeconds;
        output.WriteLine($"BENCH iSCSI 64 MiB LUN0→LUN1: EXTENDED COPY {tx.TotalMilliseconds:0} ms ({mbx:0.0} MiB/s, {dx.ExtendedCopyCommands} commands, " +
                         $"{dx.BytesIn + dx.BytesOut} bytes through the gateway); READ/WRITE {trw.TotalMilliseconds:0} ms ({mbrw:0.0} MiB/s, " +
                         $"{drw.ReadCommands} READ + {drw.WriteCommands} WRITE, {(drw.BytesIn + drw.BytesOut) / MiB} MiB through the gateway); " +
                         $"ratio {trw / tx:0.00}x");
        Assert.Equal(ScsiCopyMethod.ExtendedCopy, x.Method);
        Assert.Equal(ScsiCopyMethod.ReadWrite, rw.Method);
        Assert.Equal(2L * 64 * MiB, drw.BytesIn + drw.BytesOut);
        var back = new byte[data.Length];
        await lun1.ReadAsync(Region(11), back);
        Assert.Equal(Hash(data), Hash(back));
        await lun1.ReadAsync(Region(10), back);
        Assert.Equal(Hash(data), Hash(back));
    }
}
