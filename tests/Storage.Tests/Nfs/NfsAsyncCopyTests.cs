using System.Diagnostics;
using System.Security.Cryptography;
using SmbCopy.Storage.Copy;
using SmbCopy.Storage.Nfs;
using Xunit.Abstractions;

namespace SmbCopy.Storage.Tests.Nfs;

/// <summary>
/// Asynchronous NFS COPY (RFC 7862 §15.2 with ca_synchronous = FALSE) against the kernel server in the VM, on the ext4
/// export where COPY really moves bytes (on btrfs Linux turns it into a reflink): completion by CB_OFFLOAD on the
/// session's backchannel, OFFLOAD_CANCEL when the caller's token is cancelled through the copy engine (the server stops
/// and the destination holds only source bytes), and a copy in flight across an nfsd restart.
/// </summary>
[Collection(NfsServerCollection.Name)]
public sealed class NfsAsyncCopyTests(NfsServerFixture server, ITestOutputHelper output) : IAsyncLifetime
{
    private const int MiB = 1024 * 1024;
    private readonly string _base = "a-" + Guid.NewGuid().ToString("N");
    private NfsVolume? _volume, _root;
    private NfsVolume Volume => _volume!;

    public async Task InitializeAsync()
    {
        await NfsPlanter.MakeDirectoriesAsync(server.Admin, "ext4/" + _base);
        await NfsPlanter.MakeDirectoriesAsync(server.Admin, _base);
        // every range of 1 MiB or more goes asynchronous
        _volume = await OpenAsync("/ext4/" + _base);
        _root = await OpenAsync("/");
    }

    private async Task<NfsVolume> OpenAsync(string export) =>
        (NfsVolume)await new NfsStorageDriver(NfsTestLog.Factory).OpenVolumeAsync(new StorageVolumeOptions("async", "", false,
            new Dictionary<string, string?>
            {
                ["Server"] = "127.0.0.1", ["Port"] = server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Export"] = export, ["AsyncCopyMinBytes"] = MiB.ToString(System.Globalization.CultureInfo.InvariantCulture),
            }));

    public async Task DisposeAsync()
    {
        if (_volume is not null)
        {
            foreach (var name in new[] { "src.bin", "dst.bin" })
            {
                try { await _volume.DeleteAsync(name); } catch (StorageException) { }
            }
            await _volume.DisposeAsync();
        }
        if (_root is not null)
        {
            foreach (var name in new[] { _base + "/cancel-src.bin", "ext4/" + _base + "/cancel-dst.bin", "ext4/" + _base + "/after.bin",
                         _base + "/restart-src.bin", "ext4/" + _base + "/restart-dst.bin" })
            {
                try { await _root.DeleteAsync(name); } catch (StorageException) { }
            }
            await _root.DisposeAsync();
        }
    }

    private static readonly OpenRequest Create = new(CreateDisposition.OverwriteIf, StorageAccess.ReadWrite, ObjectKind.File);
    private static readonly OpenRequest Read = new(CreateDisposition.Open, StorageAccess.Read, ObjectKind.File);

    /// <summary>A source of <paramref name="size"/> bytes: 16 MiB of random bytes written, then repeated by server-side
    /// copies (writing every byte from here is slow in the TCG VM). Returns the expected content.</summary>
    private static async Task<byte[]> WriteRandomAsync(IStorageVolume volume, string path, int size, int seed)
    {
        const int tile = 16 * MiB;
        var data = new byte[size];
        new Random(seed).NextBytes(data.AsSpan(0, Math.Min(tile, size)));
        for (int at = tile; at < size; at += tile)
            data.AsSpan(0, Math.Min(tile, size - at)).CopyTo(data.AsSpan(at));
        var (h, _) = await volume.OpenAsync(path, Create);
        await using (h)
        {
            await h.WriteAsync(0, data.AsMemory(0, Math.Min(tile, size)));
            for (int at = tile; at < size; at += tile)
                Assert.Equal(Math.Min(tile, size - at), await volume.CopyRangeAsync(h, 0, h, at, Math.Min(tile, size - at)));
            await h.FlushAsync();
        }
        return data;
    }

    private static async Task<byte[]> ReadAllAsync(IStorageVolume volume, string path)
    {
        var (h, _) = await volume.OpenAsync(path, Read);
        await using (h)
        {
            var info = await h.GetInfoAsync();
            var data = new byte[info.EndOfFile];
            int offset = 0;
            while (offset < data.Length)
            {
                int n = await h.ReadAsync(offset, data.AsMemory(offset, Math.Min(MiB, data.Length - offset)));
                if (n == 0) break;
                offset += n;
            }
            return data[..offset];
        }
    }

    [Fact]
    public async Task LargeCopy_GoesAsynchronous_AndEndsByCbOffload_OnTheBackchannel()
    {
        Assert.True(Volume.Session.CallbacksUp, "the session was created with a backchannel the server accepted");
        const int size = 32 * MiB;
        var data = await WriteRandomAsync(Volume, "src.bin", size, 11);
        var (src, _) = await Volume.OpenAsync("src.bin", Read);
        await using (src)
        {
            var (dst, _) = await Volume.OpenAsync("dst.bin", Create);
            await using (dst)
            {
                var sw = Stopwatch.StartNew();
                long copied = await Volume.CopyRangeAsync(src, 0, dst, 0, size);
                output.WriteLine($"asynchronous COPY of {size / MiB} MiB: {sw.ElapsedMilliseconds} ms; async {Volume.AsyncCopies}, "
                    + $"by CB_OFFLOAD {Volume.AsyncByCallback}, by OFFLOAD_STATUS {Volume.AsyncByStatus}, redone synchronously {Volume.AsyncResumedSync}");
                Assert.Equal(size, copied);
            }
        }
        Assert.True(Volume.AsyncCopies >= 1, "the server took the COPY asynchronously");
        Assert.True(Volume.AsyncByCallback >= 1, "CB_OFFLOAD arrived on the backchannel and ended the wait");
        Assert.Equal(0, Volume.AsyncResumedSync);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(data)), Convert.ToHexString(SHA256.HashData(await ReadAllAsync(Volume, "dst.bin"))));
    }

    /// <summary>
    /// The token given to the copy engine (as the copy-chunk handler gives its request's) reaches the driver's range
    /// copy: cancelled while the asynchronous COPY runs, the driver sends OFFLOAD_CANCEL (NFS4_OK: the server stopped
    /// it), the engine's caller gets OperationCanceledException, the destination stops growing short of the whole
    /// range, and it holds exactly a prefix of the source. The copy goes from the btrfs export to the ext4 one (nfsd
    /// splices across file systems, slowly enough to be caught midway; within btrfs COPY is a reflink), and the ext4
    /// disk (512 MiB for the whole run) only holds the destination's copied part.
    /// </summary>
    [Fact]
    public async Task CancelledCopy_SendsOffloadCancel_AndTheServerStops()
    {
        const int size = 192 * MiB;
        var root = _root!;
        string srcPath = _base + "/cancel-src.bin", dstPath = "ext4/" + _base + "/cancel-dst.bin";
        var data = await WriteRandomAsync(root, srcPath, size, 12);
        var (src, _) = await root.OpenAsync(srcPath, Read);
        await using (src)
        {
            var (dst, _) = await root.OpenAsync(dstPath, Create);
            await using (dst)
            {
                using var cts = new CancellationTokenSource();
                int before = root.AsyncCopies;
                var sw = Stopwatch.StartNew();
                var copy = CopyEngine.Shared.CopyAsync(new CopyEndpoint(root, src, 0), new CopyEndpoint(root, dst, 0), size,
                    new CopyOptions(Share: "async"), cts.Token).AsTask();
                while (root.AsyncCopies == before && !copy.IsCompleted && sw.Elapsed < TimeSpan.FromSeconds(30))
                    await Task.Delay(5);
                await Task.Delay(100);
                cts.Cancel();
                var e = await Record.ExceptionAsync(() => copy);
                output.WriteLine($"cancelled after {sw.ElapsedMilliseconds} ms: {e?.GetType().Name}; OFFLOAD_CANCEL {Nfs4.StatusName(root.LastOffloadCancelStatus)}");
                Assert.IsAssignableFrom<OperationCanceledException>(e);
                Assert.Equal(1, root.AsyncCancelled);
                Assert.Equal(Nfs4.Ok, root.LastOffloadCancelStatus);
            }
        }
        // the server stopped: the destination no longer changes
        var first = await ReadAllAsync(root, dstPath);
        await Task.Delay(2000);
        var got = await ReadAllAsync(root, dstPath);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(first)), Convert.ToHexString(SHA256.HashData(got)));
        output.WriteLine($"destination: {got.Length} of {size} bytes, a prefix of the source: {got.AsSpan().SequenceEqual(data.AsSpan(0, got.Length))}");
        Assert.True(got.Length < size, "the copy stopped before the end of the range");
        Assert.True(got.AsSpan().SequenceEqual(data.AsSpan(0, got.Length)), "the destination holds source bytes only");
        // the volume keeps working after the cancel
        var (s2, _) = await root.OpenAsync(srcPath, Read);
        await using (s2)
        {
            var (d2, _) = await root.OpenAsync("ext4/" + _base + "/after.bin", Create);
            await using (d2)
                Assert.Equal(MiB, await root.CopyRangeAsync(s2, 0, d2, 0, MiB));
        }
    }

    /// <summary>An asynchronous COPY in flight when nfsd restarts (its state and the copy are gone): the driver notices
    /// (new client state, or a copy the server no longer knows without a CB_OFFLOAD), copies the range again, and the
    /// result is the whole range, identical. btrfs → ext4 as above: Linux 6.1 leaks the files of an asynchronous copy
    /// cut by the restart, so only the destination's 64 MiB are lost from the small ext4 disk (the btrfs one is large).</summary>
    [Fact]
    public async Task AsyncCopyAcrossAnNfsdRestart_IsCompleteAndIdentical()
    {
        const int size = 64 * MiB;
        var root = _root!;
        string srcPath = _base + "/restart-src.bin", dstPath = "ext4/" + _base + "/restart-dst.bin";
        var data = await WriteRandomAsync(root, srcPath, size, 13);
        var (src, _) = await root.OpenAsync(srcPath, Read);
        await using (src)
        {
            var (dst, _) = await root.OpenAsync(dstPath, Create);
            await using (dst)
            {
                int before = root.AsyncCopies;
                var sw = Stopwatch.StartNew();
                var copy = root.CopyRangeAsync(src, 0, dst, 0, size).AsTask();
                while (root.AsyncCopies == before && !copy.IsCompleted && sw.Elapsed < TimeSpan.FromSeconds(30))
                    await Task.Delay(5);
                var restarted = await server.RestartNfsdAsync();
                long copied = await copy;
                output.WriteLine($"{restarted}; copy returned {copied} after {sw.ElapsedMilliseconds} ms; async {root.AsyncCopies}, "
                    + $"by CB_OFFLOAD {root.AsyncByCallback}, redone synchronously {root.AsyncResumedSync}");
                Assert.Equal(size, copied);
            }
        }
        Assert.Equal(Convert.ToHexString(SHA256.HashData(data)), Convert.ToHexString(SHA256.HashData(await ReadAllAsync(root, dstPath))));
    }
}
