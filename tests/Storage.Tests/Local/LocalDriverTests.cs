using System.Buffers.Binary;
using System.Text;
using SmbCopy.Storage.Interop;

namespace SmbCopy.Storage.Tests.Local;

/// <summary>What only the local driver has: offload primitives, the xattr layout, probing, read-only shares,
/// changes made behind the driver's back.</summary>
public sealed class LocalDriverTests : IAsyncLifetime
{
    private readonly LocalTempShare _share = new();
    private IStorageVolume _volume = null!;

    private static readonly OpenRequest CreateFile = new(CreateDisposition.Create, StorageAccess.ReadWrite, ObjectKind.File);
    private static readonly OpenRequest OpenRead = new(CreateDisposition.Open, StorageAccess.Read);

    public async Task InitializeAsync() => _volume = await _share.OpenAsync();

    public async Task DisposeAsync()
    {
        await _volume.DisposeAsync();
        _share.Dispose();
    }

    private async Task<IStorageHandle> CreateWithAsync(string path, byte[] data)
    {
        var (h, _) = await _volume.OpenAsync(path, CreateFile);
        await h.WriteAsync(0, data);
        return h;
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static async Task<byte[]> ReadAllAsync(IStorageHandle h)
    {
        var data = new byte[(await h.GetInfoAsync()).EndOfFile];
        int total = 0;
        while (total < data.Length)
            total += await h.ReadAsync(total, data.AsMemory(total));
        return data;
    }

    private static unsafe byte[]? GetXattr(string path, string name)
    {
        byte[] buffer = new byte[64];
        byte[] p = Encoding.UTF8.GetBytes(path + "\0");
        byte[] n = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* pp = p, pn = n, pb = buffer)
        {
            nint len = Libc.Lgetxattr(pp, pn, pb, (nuint)buffer.Length);
            return len < 0 ? null : buffer[..(int)len];
        }
    }

    private async Task<string> FileSystemNameAsync() => (await _volume.GetVolumeInfoAsync()).FileSystemName;

    [Fact]
    public async Task Concurrent_writes_on_one_handle_all_land_and_writes_racing_a_close_fail_cleanly()
    {
        // Writes on one handle take turns (LocalHandle's write gate): 64 writers racing on 2 cores must all land.
        var (h, _) = await _volume.OpenAsync("race.bin", CreateFile);
        const int Writers = 64, Block = 256 * 1024;
        var expected = RandomBytes(Writers * Block, 7);
        await Task.WhenAll(Enumerable.Range(0, Writers).Select(i => Task.Run(async () =>
            await h.WriteAsync((long)i * Block, expected.AsMemory(i * Block, Block)))));
        Assert.Equal(expected, await ReadAllAsync(h));

        // Writers racing the close either land or fail with a storage error, never anything else.
        var writes = Enumerable.Range(0, 16).Select(i => Task.Run(async () =>
        {
            try { await h.WriteAsync((long)i * Block, expected.AsMemory(0, Block)); return (Exception?)null; }
            catch (Exception e) { return e; }
        })).ToArray();
        await h.DisposeAsync();
        foreach (var e in await Task.WhenAll(writes))
            Assert.True(e is null or StorageException or ObjectDisposedException, $"unexpected {e?.GetType().Name}: {e?.Message}");
    }

    // ------------------------------------------------------------------ probing

    [Fact]
    public async Task Capabilities_ProbedOnTheTempDirectory_MatchItsFileSystem()
    {
        string fs = await FileSystemNameAsync();
        var caps = _volume.Capabilities;
        Assert.True(caps.HasFlag(StorageCapabilities.RangeCopy), caps.ToString());
        Assert.True(caps.HasFlag(StorageCapabilities.CaseSensitiveBackingStore), caps.ToString());
        if (fs is "ext4" or "xfs" or "btrfs")
        {
            Assert.True(caps.HasFlag(StorageCapabilities.ExtendedAttributes), caps.ToString());
            Assert.True(caps.HasFlag(StorageCapabilities.PersistentCreationTime), caps.ToString());
            Assert.True(caps.HasFlag(StorageCapabilities.PersistentDosAttributes), caps.ToString());
            Assert.True(caps.HasFlag(StorageCapabilities.SparseFiles), caps.ToString());
            Assert.True(caps.HasFlag(StorageCapabilities.Preallocation), caps.ToString());
            Assert.True(caps.HasFlag(StorageCapabilities.NativeBirthTime), caps.ToString());
        }
        if (fs is "ext4" or "tmpfs")
        {
            Assert.False(caps.HasFlag(StorageCapabilities.CloneRange), $"{fs} cannot reflink");
            Assert.Equal(0, _volume.CloneAlignment);
        }
        else if (caps.HasFlag(StorageCapabilities.CloneRange))
        {
            Assert.True(_volume.CloneAlignment >= 512);
        }
        // the probe leaves nothing in the share
        Assert.Empty(Directory.GetFileSystemEntries(_share.Root));
    }

    // ------------------------------------------------------------------ offload primitives

    [Fact]
    public async Task CloneRange_ClonesWhenTheFileSystemCan_ElseIsNotSupported()
    {
        int block = Math.Max(_volume.CloneAlignment, 4096);
        var data = RandomBytes(4 * block, 1);
        await using var src = await CreateWithAsync("src.bin", data);
        var (dst, _) = await _volume.OpenAsync("dst.bin", CreateFile);
        await using (dst)
        {
            if (_volume.Capabilities.HasFlag(StorageCapabilities.CloneRange))
            {
                await _volume.CloneRangeAsync(src, block, dst, 0, 2 * block);
                var copy = await ReadAllAsync(dst);
                Assert.Equal(data.AsSpan(block, 2 * block).ToArray(), copy);
            }
            else
            {
                var e = await Assert.ThrowsAsync<StorageException>(() => _volume.CloneRangeAsync(src, 0, dst, 0, block).AsTask());
                Assert.Equal(StorageError.NotSupported, e.Error);
                Assert.Equal(0, (await dst.GetInfoAsync()).EndOfFile); // never silently turned into a copy
            }
        }
    }

    [Fact]
    public async Task CloneRange_RefusesDirectoriesAndReadOnlyDestination()
    {
        await using var src = await CreateWithAsync("s.bin", RandomBytes(4096, 2));
        var (ro, _) = await _volume.OpenAsync("s.bin", OpenRead);
        await using (ro)
        {
            var e = await Assert.ThrowsAsync<StorageException>(() => _volume.CloneRangeAsync(src, 0, ro, 0, 4096).AsTask());
            Assert.Equal(StorageError.AccessDenied, e.Error);
        }
        var (dir, _) = await _volume.OpenAsync("", new OpenRequest(CreateDisposition.Open, StorageAccess.Read, ObjectKind.Directory));
        await using (dir)
        {
            var e = await Assert.ThrowsAsync<StorageException>(() => _volume.CopyRangeAsync(src, 0, dir, 0, 10).AsTask());
            Assert.Equal(StorageError.IsADirectory, e.Error);
        }
        var neg = await Assert.ThrowsAsync<StorageException>(() => _volume.CopyRangeAsync(src, -1, src, 0, 10).AsTask());
        Assert.Equal(StorageError.InvalidParameter, neg.Error);
    }

    [Fact]
    public async Task CopyRange_CopiesInsideTheKernel_AndStopsAtSourceEof()
    {
        var data = RandomBytes(3 * 1024 * 1024 + 123, 3);
        await using var src = await CreateWithAsync("big.bin", data);
        var (dst, _) = await _volume.OpenAsync("copy.bin", CreateFile);
        await using (dst)
        {
            long copied = await _volume.CopyRangeAsync(src, 0, dst, 7, data.Length);
            Assert.Equal(data.Length, copied);
            var all = await ReadAllAsync(dst);
            Assert.Equal(data.Length + 7, all.Length);
            Assert.True(all.AsSpan(7).SequenceEqual(data));
            Assert.All(all[..7], b => Assert.Equal(0, b));

            long tail = await _volume.CopyRangeAsync(src, data.Length - 100, dst, 0, 1000);
            Assert.Equal(100, tail);
            Assert.Equal(0, await _volume.CopyRangeAsync(src, data.Length, dst, 0, 1000));
            Assert.Equal(0, await _volume.CopyRangeAsync(src, 0, dst, 0, 0));
        }
    }

    [Fact]
    public async Task CopyRange_BetweenTwoSharesOnTheSameFileSystem()
    {
        using var other = new LocalTempShare();
        await using var second = await other.OpenAsync(name: "other");
        var data = RandomBytes(100_000, 4);
        await using var src = await CreateWithAsync("a.bin", data);
        var (dst, _) = await second.OpenAsync("b.bin", CreateFile);
        await using (dst)
        {
            Assert.Equal(data.Length, await _volume.CopyRangeAsync(src, 0, dst, 0, data.Length));
            Assert.Equal(data, await ReadAllAsync(dst));
        }
    }

    // ------------------------------------------------------------------ Windows metadata on disk

    [Fact]
    public async Task Metadata_IsKeptInUserXattrs()
    {
        var (h, _) = await _volume.OpenAsync("m.txt", CreateFile);
        var creation = new DateTime(1999, 12, 31, 23, 59, 59, DateTimeKind.Utc);
        await using (h)
            await h.SetInfoAsync(new FileInfoUpdate(CreationTime: creation, Attributes: StorageFileAttributes.Hidden | StorageFileAttributes.ReadOnly));
        string onDisk = _share.OnDisk("m.txt");
        var dos = GetXattr(onDisk, "user.smbcopy.dosattr");
        Assert.NotNull(dos);
        Assert.Equal(0x3u, BinaryPrimitives.ReadUInt32LittleEndian(dos));
        var btime = GetXattr(onDisk, "user.smbcopy.btime");
        Assert.NotNull(btime);
        Assert.Equal(creation.ToFileTimeUtc(), BinaryPrimitives.ReadInt64LittleEndian(btime));
    }

    // ------------------------------------------------------------------ changes behind the driver's back

    [Fact]
    public async Task ExternalChanges_AreSeenByCaseInsensitiveLookup()
    {
        var (h, _) = await _volume.OpenAsync("Foo.txt", CreateFile);
        h.Dispose();
        var (f, _) = await _volume.OpenAsync("foo.TXT", OpenRead); // fills the name cache
        f.Dispose();

        File.WriteAllText(Path.Combine(_share.Root, "Bar.TXT"), "external");
        var (b, _) = await _volume.OpenAsync("bar.txt", OpenRead);
        await using (b)
            Assert.Equal("Bar.TXT", b.Path);

        File.Move(Path.Combine(_share.Root, "Foo.txt"), Path.Combine(_share.Root, "FOO2.txt"));
        var e = await Assert.ThrowsAsync<StorageException>(() => _volume.OpenAsync("foo.txt", OpenRead).AsTask());
        Assert.Equal(StorageError.NotFound, e.Error);
        var (g, _) = await _volume.OpenAsync("foo2.TXT", OpenRead);
        await using (g)
            Assert.Equal("FOO2.txt", g.Path);
    }

    [Fact]
    public async Task NamesWindowsCannotUse_AreNotListed()
    {
        File.WriteAllText(Path.Combine(_share.Root, "back\\slash"), "");
        File.WriteAllText(Path.Combine(_share.Root, "co:lon"), "");
        File.WriteAllText(Path.Combine(_share.Root, "fine.txt"), "");
        byte[] raw = [0x62, 0x61, 0x64, 0xFF, 0xFE]; // not UTF-8
        RawName(raw, create: true);
        try
        {
            var names = new List<string>();
            var (d, _) = await _volume.OpenAsync("", OpenRead);
            await using (d)
                await foreach (var e in d.EnumerateAsync())
                    names.Add(e.Name);
            Assert.Equal(["fine.txt"], names);
        }
        finally
        {
            RawName(raw, create: false);
        }
    }

    private unsafe void RawName(byte[] name, bool create)
    {
        byte[] path = [.. Encoding.UTF8.GetBytes(_share.Root + "/"), .. name, 0];
        fixed (byte* p = path)
        {
            if (!create)
            {
                Assert.Equal(0, TestLibc.Unlink(p));
                return;
            }
            int fd = Libc.OpenatRaw(Libc.AT_FDCWD, p, Libc.O_CREAT | Libc.O_WRONLY | Libc.O_CLOEXEC, 0x1A4);
            Assert.True(fd >= 0, "could not create a non-UTF-8 name");
            Libc.Close(fd);
        }
    }

    [Fact]
    public async Task SymlinkToFifoInsideTheShare_IsRefused()
    {
        LocalTempShare.MakeFifo(_share.OnDisk("pipe"));
        File.CreateSymbolicLink(_share.OnDisk("to-pipe"), "pipe");
        var e = await Assert.ThrowsAsync<StorageException>(() => _volume.OpenAsync("to-pipe", OpenRead).AsTask());
        Assert.Equal(StorageError.NotSupported, e.Error);
    }

    [Fact]
    public async Task DeleteOnClose_ThatFailsAtClose_DoesNotThrow()
    {
        var (d, _) = await _volume.OpenAsync("dir", new OpenRequest(CreateDisposition.Create, StorageAccess.Read, ObjectKind.Directory));
        await d.SetDeleteOnCloseAsync(true);
        File.WriteAllText(Path.Combine(_share.Root, "dir", "late.txt"), "x"); // someone fills it meanwhile
        await d.DisposeAsync();
        Assert.True(File.Exists(Path.Combine(_share.Root, "dir", "late.txt")));
    }

    [Fact]
    public async Task ConcurrentPositionalIo_OnOneHandle()
    {
        const int blocks = 32, size = 64 * 1024;
        var (h, _) = await _volume.OpenAsync("par.bin", CreateFile);
        await using (h)
        {
            await Task.WhenAll(Enumerable.Range(0, blocks).Select(i =>
                h.WriteAsync((long)i * size, Enumerable.Repeat((byte)i, size).ToArray()).AsTask()));
            var results = await Task.WhenAll(Enumerable.Range(0, blocks).Select(async i =>
            {
                var buf = new byte[size];
                int n = await h.ReadAsync((long)i * size, buf);
                return n == size && buf.All(b => b == (byte)i);
            }));
            Assert.All(results, Assert.True);
        }
    }

    // ------------------------------------------------------------------ read-only share

    [Fact]
    public async Task ReadOnlyShare_RefusesEveryChange()
    {
        var (h, _) = await _volume.OpenAsync("existing.txt", CreateFile);
        await h.WriteAsync(0, "data"u8.ToArray());
        h.Dispose();
        await using var ro = await _share.OpenAsync(readOnly: true, name: "ro");

        async Task Refused(Func<Task> action)
        {
            var e = await Assert.ThrowsAsync<StorageException>(action);
            Assert.Equal(StorageError.ReadOnly, e.Error);
        }
        await Refused(() => ro.OpenAsync("new.txt", CreateFile).AsTask());
        await Refused(() => ro.OpenAsync("existing.txt", new OpenRequest(CreateDisposition.Open, StorageAccess.ReadWrite)).AsTask());
        await Refused(() => ro.OpenAsync("existing.txt", new OpenRequest(CreateDisposition.Overwrite, StorageAccess.ReadWrite)).AsTask());
        await Refused(() => ro.RenameAsync("existing.txt", "other.txt", false).AsTask());
        await Refused(() => ro.DeleteAsync("existing.txt").AsTask());
        var (r, _) = await ro.OpenAsync("EXISTING.txt", OpenRead);
        await using (r)
        {
            Assert.Equal("data"u8.ToArray(), await ReadAllAsync(r));
            await Refused(() => r.SetInfoAsync(new FileInfoUpdate(Attributes: StorageFileAttributes.Hidden)).AsTask());
            await Refused(() => r.WriteAsync(0, new byte[1]).AsTask());
        }
        Assert.Equal(["existing.txt"], Directory.GetFileSystemEntries(_share.Root).Select(p => Path.GetFileName(p)!).ToArray());
    }

    [Fact]
    public async Task MissingShareDirectory_IsNotFound()
    {
        var e = await Assert.ThrowsAsync<StorageException>(() => new SmbCopy.Storage.Local.LocalStorageDriver()
            .OpenVolumeAsync(new StorageVolumeOptions("x", Path.Combine(_share.Base, "nope"))).AsTask());
        Assert.Equal(StorageError.NotFound, e.Error);
    }
}

internal static unsafe partial class TestLibc
{
    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "unlink", SetLastError = true)]
    public static partial int Unlink(byte* path);
}
