using System.Diagnostics;
using System.Security.Cryptography;
using SmbCopy.Storage.Nfs;
using Xunit.Abstractions;

namespace SmbCopy.Storage.Tests.Nfs;

/// <summary>NFS-specific behaviour against the test VM: COPY and CLONE offload (btrfs and ext4 exports), recovery
/// after an nfsd restart, lease renewal while idle, and a COPY vs READ+WRITE measurement.</summary>
[Collection(NfsServerCollection.Name)]
public sealed class NfsDriverTests(NfsServerFixture server, ITestOutputHelper output) : IAsyncLifetime
{
    private const int MiB = 1024 * 1024;
    private readonly string _base = "n-" + Guid.NewGuid().ToString("N");
    private IStorageVolume? _volume;
    private IStorageVolume Volume => _volume!;

    public async Task InitializeAsync()
    {
        await NfsPlanter.MakeDirectoriesAsync(server.Admin, _base);
        _volume = await server.OpenAsync("/" + _base);
    }

    public async Task DisposeAsync()
    {
        if (_volume is not null)
            await _volume.DisposeAsync();
    }

    private static readonly OpenRequest Create = new(CreateDisposition.Create, StorageAccess.ReadWrite, ObjectKind.File);
    private static readonly OpenRequest Read = new(CreateDisposition.Open, StorageAccess.Read, ObjectKind.File);

    private static async Task<byte[]> WriteRandomAsync(IStorageVolume volume, string path, int size, int seed)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        var (h, _) = await volume.OpenAsync(path, Create);
        await using (h)
        {
            await h.WriteAsync(0, data);
            await h.FlushAsync();
        }
        return SHA256.HashData(data);
    }

    private static async Task<(byte[] Hash, long Length)> HashAsync(IStorageVolume volume, string path)
    {
        var (h, _) = await volume.OpenAsync(path, Read);
        await using (h)
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[MiB];
            long offset = 0;
            while (true)
            {
                int n = await h.ReadAsync(offset, buffer);
                if (n == 0) break;
                sha.AppendData(buffer, 0, n);
                offset += n;
            }
            return (sha.GetHashAndReset(), offset);
        }
    }

    [Fact]
    public void Capabilities_AreProbed_OnBtrfs()
    {
        output.WriteLine($"capabilities: {Volume.Capabilities}; clone alignment {Volume.CloneAlignment}");
        Assert.True(Volume.Capabilities.HasFlag(StorageCapabilities.CloneRange));
        Assert.True(Volume.Capabilities.HasFlag(StorageCapabilities.RangeCopy));
        Assert.True(Volume.CloneAlignment >= 512);
    }

    [Fact]
    public async Task Copy64MiB_AndClone64MiB_DestinationHashesMatch()
    {
        const int size = 64 * MiB;
        var hash = await WriteRandomAsync(Volume, "src.bin", size, 1);
        var (src, _) = await Volume.OpenAsync("src.bin", Read);
        await using (src)
        {
            var (copy, _) = await Volume.OpenAsync("copy.bin", Create);
            var sw = Stopwatch.StartNew();
            long copied;
            await using (copy)
                copied = await Volume.CopyRangeAsync(src, 0, copy, 0, size);
            output.WriteLine($"COPY 64 MiB: {sw.ElapsedMilliseconds} ms");
            Assert.Equal(size, copied);

            var (clone, _) = await Volume.OpenAsync("clone.bin", Create);
            sw.Restart();
            await using (clone)
            {
                await clone.SetEndOfFileAsync(size);
                await Volume.CloneRangeAsync(src, 0, clone, 0, size);
            }
            output.WriteLine($"CLONE 64 MiB: {sw.ElapsedMilliseconds} ms");

            // a copy that asks past the source's end stops there
            var (tail, _) = await Volume.OpenAsync("tail.bin", Create);
            await using (tail)
                Assert.Equal(MiB, await Volume.CopyRangeAsync(src, size - MiB, tail, 0, 8 * MiB));
            // clone alignment is enforced before the server is asked
            var (bad, _) = await Volume.OpenAsync("bad.bin", Create);
            await using (bad)
            {
                var e = await Assert.ThrowsAsync<StorageException>(() => Volume.CloneRangeAsync(src, 1, bad, 0, 4096).AsTask());
                Assert.Equal(StorageError.InvalidParameter, e.Error);
            }
        }
        foreach (var name in new[] { "copy.bin", "clone.bin" })
        {
            var (h, length) = await HashAsync(Volume, name);
            Assert.Equal(size, length);
            Assert.Equal(Convert.ToHexString(hash), Convert.ToHexString(h));
        }
        output.WriteLine($"source, copy and clone SHA-256: {Convert.ToHexString(hash)[..16]}...");
    }

    [Fact]
    public async Task Ext4Export_CloneIsNotSupported_ButCopyWorks()
    {
        await NfsPlanter.MakeDirectoriesAsync(server.Admin, "ext4/" + _base);
        await using var ext4 = await server.OpenAsync("/ext4/" + _base, "ext4");
        output.WriteLine($"ext4 capabilities: {ext4.Capabilities}; clone alignment {ext4.CloneAlignment}");
        Assert.False(ext4.Capabilities.HasFlag(StorageCapabilities.CloneRange));
        Assert.Equal(0, ext4.CloneAlignment);
        Assert.True(ext4.Capabilities.HasFlag(StorageCapabilities.RangeCopy));
        const int size = 8 * MiB;
        var hash = await WriteRandomAsync(ext4, "a.bin", size, 2);
        var (src, _) = await ext4.OpenAsync("a.bin", Read);
        await using (src)
        {
            var (dst, _) = await ext4.OpenAsync("b.bin", Create);
            await using (dst)
            {
                var e = await Assert.ThrowsAsync<StorageException>(() => ext4.CloneRangeAsync(src, 0, dst, 0, size).AsTask());
                Assert.Equal(StorageError.NotSupported, e.Error);
                output.WriteLine("CLONE on ext4: " + e.Message);
                Assert.Equal(size, await ext4.CopyRangeAsync(src, 0, dst, 0, size));
            }
        }
        Assert.Equal(Convert.ToHexString(hash), Convert.ToHexString((await HashAsync(ext4, "b.bin")).Hash));
        await DeleteAsync(ext4, "a.bin", "b.bin");
    }

    [Fact]
    public async Task AcrossFileSystemsOfOneVolume_CloneIsCrossDevice_CopyIsDoneByTheServer_AndOtherVolumesAreCrossDevice()
    {
        await NfsPlanter.MakeDirectoriesAsync(server.Admin, "ext4/" + _base);
        var admin = server.Admin;
        var hash = await WriteRandomAsync(admin, _base + "/x.bin", MiB, 3);
        var (src, _) = await admin.OpenAsync(_base + "/x.bin", Read);
        await using (src)
        {
            var (dst, _) = await admin.OpenAsync("ext4/" + _base + "/x.bin", Create);
            await using (dst)
            {
                var e = await Assert.ThrowsAsync<StorageException>(() => admin.CloneRangeAsync(src, 0, dst, 0, MiB).AsTask());
                Assert.Equal(StorageError.CrossDevice, e.Error);
                output.WriteLine("CLONE btrfs -> ext4: " + e.Message);
                // Linux nfsd copies across its own file systems (splice): still server-side
                Assert.Equal(MiB, await admin.CopyRangeAsync(src, 0, dst, 0, MiB));
            }
            var (other, _) = await Volume.OpenAsync("y.bin", Create);
            await using (other)
            {
                var e = await Assert.ThrowsAsync<StorageException>(() => Volume.CopyRangeAsync(src, 0, other, 0, 10).AsTask());
                Assert.Equal(StorageError.CrossDevice, e.Error);
            }
        }
        Assert.Equal(Convert.ToHexString(hash), Convert.ToHexString((await HashAsync(admin, "ext4/" + _base + "/x.bin")).Hash));
    }

    [Fact]
    public async Task NfsdRestart_SessionRecovers_AndTheNextOperationsSucceed()
    {
        var volume = (NfsVolume)Volume;
        var hash = await WriteRandomAsync(Volume, "before.bin", 2 * MiB, 4);
        var (h, _) = await Volume.OpenAsync("open.bin", Create);
        await using (h)
        {
            await h.WriteAsync(0, "written before"u8.ToArray());
            await h.FlushAsync();
            int generation = volume.Session.StateGeneration;

            var sw = Stopwatch.StartNew();
            output.WriteLine("restart: " + await server.RestartNfsdAsync());

            // the open handle keeps working: new client id, the file reopened by handle once the grace period is over
            await h.WriteAsync(14, " and after"u8.ToArray());
            await h.FlushAsync();
            output.WriteLine($"first operation after the restart done in {sw.ElapsedMilliseconds} ms");
            Assert.True(volume.Session.StateGeneration > generation, "the client should have been re-established");
            var buffer = new byte[64];
            int n = await h.ReadAsync(0, buffer);
            Assert.Equal("written before and after", System.Text.Encoding.ASCII.GetString(buffer, 0, n));
        }
        Assert.Equal(Convert.ToHexString(hash), Convert.ToHexString((await HashAsync(Volume, "before.bin")).Hash));
        await WriteRandomAsync(Volume, "after.bin", MiB, 5);
        var names = new List<string>();
        var (d, _) = await Volume.OpenAsync("", new OpenRequest(CreateDisposition.Open, StorageAccess.Read, ObjectKind.Directory));
        await using (d)
            await foreach (var e in d.EnumerateAsync())
                names.Add(e.Name);
        Assert.Equal(["after.bin", "before.bin", "open.bin"], names.Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public async Task IdleLongerThanTheLease_StateIsKeptByRenewal()
    {
        var volume = (NfsVolume)Volume;
        int lease = volume.Session.LeaseSeconds;
        var (h, _) = await Volume.OpenAsync("idle.bin", Create);
        await using (h)
        {
            await h.WriteAsync(0, "x"u8.ToArray());
            int generation = volume.Session.StateGeneration;
            await Task.Delay(TimeSpan.FromSeconds(lease * 1.5 + 2));
            await h.WriteAsync(1, "y"u8.ToArray());
            Assert.Equal(generation, volume.Session.StateGeneration); // no recovery was needed
        }
        output.WriteLine($"idle {lease * 1.5 + 2:F0} s with a {lease} s lease: state kept");
    }

    [Fact]
    public Task Benchmark_Copy_vs_ReadWrite_64MiB_Btrfs() => BenchmarkAsync(Volume, "btrfs: COPY is a reflink inside the server");

    [Fact]
    public async Task Benchmark_Copy_vs_ReadWrite_64MiB_Ext4()
    {
        await NfsPlanter.MakeDirectoriesAsync(server.Admin, "ext4/" + _base);
        await using var ext4 = await server.OpenAsync("/ext4/" + _base, "ext4");
        await BenchmarkAsync(ext4, "ext4: COPY moves the bytes inside the server");
    }

    private async Task BenchmarkAsync(IStorageVolume volume, string label)
    {
        const int size = 64 * MiB;
        await WriteRandomAsync(volume, "bench.bin", size, 6);
        var (src, _) = await volume.OpenAsync("bench.bin", Read);
        await using (src)
        {
            // warm-up of both paths on 4 MiB
            var (w, _) = await volume.OpenAsync("warm.bin", Create);
            await using (w)
            {
                await volume.CopyRangeAsync(src, 0, w, 0, 4 * MiB);
                await StreamCopyAsync(src, w, 4 * MiB);
            }

            var (c, _) = await volume.OpenAsync("by-copy.bin", Create);
            var sw = Stopwatch.StartNew();
            await using (c)
                Assert.Equal(size, await volume.CopyRangeAsync(src, 0, c, 0, size));
            double copyMs = sw.Elapsed.TotalMilliseconds;

            var (s, _) = await volume.OpenAsync("by-stream.bin", Create);
            sw.Restart();
            await using (s)
                await StreamCopyAsync(src, s, size);
            double streamMs = sw.Elapsed.TotalMilliseconds;

            double cloneMs = double.NaN;
            if (volume.Capabilities.HasFlag(StorageCapabilities.CloneRange))
            {
                var (k, _) = await volume.OpenAsync("by-clone.bin", Create);
                sw.Restart();
                await using (k)
                    await volume.CloneRangeAsync(src, 0, k, 0, size);
                cloneMs = sw.Elapsed.TotalMilliseconds;
            }

            output.WriteLine($"64 MiB through the NFS driver (qemu TCG VM; {label}):");
            output.WriteLine($"  COPY (server-side)    {copyMs,8:F0} ms  {size / MiB / (copyMs / 1000),7:F1} MiB/s");
            output.WriteLine($"  READ+WRITE (gateway)  {streamMs,8:F0} ms  {size / MiB / (streamMs / 1000),7:F1} MiB/s");
            output.WriteLine($"  CLONE                 {cloneMs,8:F0} ms");
            output.WriteLine($"  READ+WRITE / COPY time ratio: {streamMs / copyMs:F2}");
        }
        Assert.Equal((await HashAsync(volume, "by-copy.bin")).Hash, (await HashAsync(volume, "by-stream.bin")).Hash);
        await DeleteAsync(volume, "bench.bin", "warm.bin", "by-copy.bin", "by-stream.bin", "by-clone.bin");
    }

    /// <summary>The VM's ext4 disk is 512 MiB for the whole test run (storage and end-to-end tests): big files go.</summary>
    private static async Task DeleteAsync(IStorageVolume volume, params string[] names)
    {
        foreach (var name in names)
        {
            try { await volume.DeleteAsync(name); } catch (StorageException e) when (e.Error == StorageError.NotFound) { }
        }
    }

    /// <summary>What the copy engine's streamed fallback does: 1 MiB chunks, the read of n+1 overlapping the write of n.</summary>
    private static async Task StreamCopyAsync(IStorageHandle src, IStorageHandle dst, long length)
    {
        var a = new byte[MiB];
        var b = new byte[MiB];
        long offset = 0;
        int n = await src.ReadAsync(0, a.AsMemory(0, (int)Math.Min(MiB, length)));
        while (n > 0)
        {
            var write = dst.WriteAsync(offset, a.AsMemory(0, n)).AsTask();
            long next = offset + n;
            var read = next < length ? src.ReadAsync(next, b.AsMemory(0, (int)Math.Min(MiB, length - next))).AsTask() : Task.FromResult(0);
            await write;
            int m = await read;
            offset = next;
            (a, b) = (b, a);
            n = m;
        }
        await dst.FlushAsync();
    }
}
