using System.Security.Cryptography;
using SmbCopy.Storage.Iscsi.Initiator;
using SmbCopy.Storage.Iscsi.Scsi;
using SmbCopy.Storage.Iscsi.Volume;
using Xunit.Abstractions;

namespace SmbCopy.Storage.Tests.Iscsi;

/// <summary>Acceptance 5 at the volume: the target connection is reset (a TCP proxy between the initiator and LIO)
/// in the middle of a file write and of a range copy — both complete, bytes intact — and then the target goes away
/// in the middle of a write: a clean <see cref="StorageException"/> (Unavailable), nothing committed, and a remount
/// on a direct connection finds a consistent volume with every earlier file intact. LUN 1, 512–768 MiB.</summary>
[Collection(LioCollection.Name)]
public sealed class IscsiVolumeReconnectTests(LioTargetFixture target, ITestOutputHelper output) : IAsyncLifetime
{
    private const int MiB = 1024 * 1024;
    private const long RegionLba = 512L * MiB / 512, RegionBlocks = 256L * MiB / 512;
    private static readonly OpenRequest Create = new(CreateDisposition.Create, StorageAccess.ReadWrite, ObjectKind.File);
    private readonly string _dir = Directory.CreateTempSubdirectory("smbcopy-iscsi-drop-").FullName;
    private string Db => Path.Combine(_dir, "drop.db");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        return Task.CompletedTask;
    }

    private static byte[] RandomBytes(int n)
    {
        var b = new byte[n];
        Random.Shared.NextBytes(b);
        return b;
    }

    private static async Task<byte[]> ReadAllAsync(IStorageVolume v, string path)
    {
        var (h, _) = await v.OpenAsync(path, new OpenRequest(CreateDisposition.Open));
        await using (h)
        {
            var buffer = new byte[(await h.GetInfoAsync()).EndOfFile];
            for (int at = 0; at < buffer.Length;) at += await h.ReadAsync(at, buffer.AsMemory(at));
            return buffer;
        }
    }

    /// <summary>Runs <paramref name="operation"/> and resets every proxied connection once <paramref name="afterBytes"/>
    /// more bytes have crossed the proxy; true when the reset happened while the operation was running.</summary>
    private static async Task<bool> DropDuringAsync(TcpDropProxy proxy, long afterBytes, Func<Task> operation, bool stop = false)
    {
        long start = proxy.BytesRelayed;
        var task = operation();
        while (!task.IsCompleted && proxy.BytesRelayed - start < afterBytes) await Task.Delay(5);
        bool during = !task.IsCompleted;
        if (stop) await proxy.DisposeAsync();
        else proxy.DropAll();
        try { await task; } catch when (stop) { throw; }
        return during;
    }

    [Fact]
    public async Task Connection_resets_mid_write_and_mid_copy_complete_and_a_target_gone_mid_write_is_a_clean_error_with_nothing_corrupted()
    {
        var proxy = new TcpDropProxy(target.Host, target.Port);
        var options = target.Options("127.0.0.1", proxy.Port) with
        {
            MaxRetryAttempts = 3,
            RetryDelay = TimeSpan.FromMilliseconds(100),
            ConnectTimeout = TimeSpan.FromSeconds(3),
        };
        var client = await IscsiClient.ConnectAsync(options);
        var volume = await IscsiVolume.MountAsync(await ScsiBlockDevice.OpenAsync(client, target.Lun1),
            new IscsiVolumeOptions("drop", Db, RegionLba, RegionBlocks, Format: true));
        byte[] a = RandomBytes(32 * MiB), c = RandomBytes(8 * MiB);
        try
        {
            // 1. reset after 6 MiB of a 32 MiB write: the initiator logs in again, the write is retried, the bytes are right
            var (ha, _) = await volume.OpenAsync("a.bin", Create);
            await using (ha)
                Assert.True(await DropDuringAsync(proxy, 6 * MiB, () => ha.WriteAsync(0, a).AsTask()), "the reset came during the write");
            Assert.True(client.Counters.Reconnects >= 1, "reconnected");
            Assert.Equal(SHA256.HashData(a), SHA256.HashData(await ReadAllAsync(volume, "a.bin")));

            // 2. reset during a range copy (EXTENDED COPY: a few commands, so the reset lands between or in them)
            long reconnects = client.Counters.Reconnects;
            var (src, _) = await volume.OpenAsync("a.bin", new OpenRequest(CreateDisposition.Open));
            var (dst, _) = await volume.OpenAsync("b.bin", Create);
            await using (src)
            await using (dst)
            {
                var copy = volume.CopyRangeAsync(src, 0, dst, 0, a.Length).AsTask();
                await Task.Delay(5);
                bool during = !copy.IsCompleted;
                proxy.DropAll();
                Assert.Equal(a.Length, await copy);
                Assert.True(during, "the reset came during the copy");
                Assert.True(client.Counters.Reconnects > reconnects, "reconnected during the copy");
            }
            output.WriteLine($"reconnects: {client.Counters.Reconnects}, retries: {client.Counters.Retries}");
            Assert.Equal(SHA256.HashData(a), SHA256.HashData(await ReadAllAsync(volume, "b.bin")));

            // 3. the target goes away after 2 MiB of an 8 MiB write: a clean storage error, nothing of it committed
            var (hc, _) = await volume.OpenAsync("c.bin", Create);
            await using (hc)
            {
                var e = await Assert.ThrowsAsync<StorageException>(() => DropDuringAsync(proxy, 2 * MiB, () => hc.WriteAsync(0, c).AsTask(), stop: true));
                output.WriteLine($"target gone: {e.Error}: {e.Message}");
                Assert.Equal(StorageError.Unavailable, e.Error);
                Assert.Equal(0, (await hc.GetInfoAsync()).EndOfFile);
            }
        }
        finally
        {
            try { await volume.DisposeAsync(); } catch (Exception e) when (e is IscsiException or StorageException or ObjectDisposedException) { }
            await client.DisposeAsync();
            await proxy.DisposeAsync();
        }

        // remount on a direct connection: consistent, a.bin and b.bin intact, c.bin empty
        await using var direct = await IscsiClient.ConnectAsync(target.Options());
        await using var again = await IscsiVolume.MountAsync(await ScsiBlockDevice.OpenAsync(direct, target.Lun1),
            new IscsiVolumeOptions("drop", Db, RegionLba, RegionBlocks));
        output.WriteLine("remount: " + again.MountCheck);
        Assert.True(again.MountCheck.Clean, again.MountCheck.ToString());
        Assert.Equal(SHA256.HashData(a), SHA256.HashData(await ReadAllAsync(again, "a.bin")));
        Assert.Equal(SHA256.HashData(a), SHA256.HashData(await ReadAllAsync(again, "b.bin")));
        Assert.Empty(await ReadAllAsync(again, "c.bin"));
        Assert.Equal(32 * 2 * MiB / again.UnitSize, again.MountCheck.UnitsInUse);
    }
}
