using SmbCopy.Storage.Copy;
using SmbCopy.Storage.Tests.Local;

namespace SmbCopy.Storage.Tests.Copy;

public sealed class CopyEngineTests : IAsyncLifetime
{
    private readonly LocalTempShare _share = new();
    private IStorageVolume _volume = null!;

    public async Task InitializeAsync() => _volume = await _share.OpenAsync();

    public async Task DisposeAsync()
    {
        await _volume.DisposeAsync();
        _share.Dispose();
    }

    private async Task<IStorageHandle> FileAsync(IStorageVolume volume, string name, byte[]? content = null)
    {
        var (handle, _) = await volume.OpenAsync(name, new OpenRequest(CreateDisposition.OverwriteIf, StorageAccess.ReadWrite));
        if (content is not null) await handle.WriteAsync(0, content);
        return handle;
    }

    private static byte[] Pattern(int size, int seed = 1)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static async Task<byte[]> ReadAllAsync(IStorageHandle handle)
    {
        var info = await handle.GetInfoAsync();
        var data = new byte[info.EndOfFile];
        int done = 0;
        while (done < data.Length) done += await handle.ReadAsync(done, data.AsMemory(done));
        return data;
    }

    [Fact]
    public async Task SameVolume_UsesTheCheapestMethodTheFileSystemHas()
    {
        var data = Pattern(3 * 65536 + 100);
        await using var src = await FileAsync(_volume, "src", data);
        await using var dst = await FileAsync(_volume, "dst");
        var result = await new CopyEngine().CopyAsync(new(_volume, src, 0), new(_volume, dst, 0), data.Length);

        Assert.Null(result.Error);
        Assert.Equal(data.Length, result.BytesCopied);
        Assert.Equal(data, await ReadAllAsync(dst));
        if (_volume.Capabilities.HasFlag(StorageCapabilities.CloneRange))
        {
            Assert.Equal(CopyMethod.Clone, result.Method);
            Assert.Equal(CopyFallbackReason.None, result.FallbackReason);
        }
        else
        {
            // ext4, tmpfs: copy_file_range, and the record says why not a clone.
            Assert.Equal(CopyMethod.Offload, result.Method);
            Assert.Equal(CopyFallbackReason.CloneUnsupported, result.FallbackReason);
            Assert.Equal([new CopyFallback(CopyMethod.Clone, CopyFallbackReason.CloneUnsupported)], result.Fallbacks);
        }
    }

    [Fact]
    public async Task DifferentBackends_AreStreamedThroughPooledBuffers()
    {
        await using var other = new StreamOnlyVolume(await _share.OpenAsync(name: "other"));
        var data = Pattern(10 * 4096 + 7, seed: 2);
        await using var src = await FileAsync(_volume, "a", data);
        await using var dst = await FileAsync(other, "b");
        var engine = new CopyEngine(blockSize: 4096);
        var result = await engine.CopyAsync(new(_volume, src, 0), new(other, dst, 100), data.Length);

        Assert.Null(result.Error);
        Assert.Equal(CopyMethod.Streamed, result.Method);
        Assert.Equal(data.Length, result.BytesCopied);
        var copied = await ReadAllAsync(dst);
        Assert.Equal(new byte[100], copied[..100]);
        Assert.Equal(data, copied[100..]);
        Assert.Contains(result.Fallbacks, f => f.From == CopyMethod.Offload);
    }

    [Theory]
    [InlineData(0, 3000, 10000)]   // destination after the source, overlapping: copied backwards
    [InlineData(3000, 0, 10000)]   // destination before the source: forwards
    [InlineData(2040, 2048 - 8 + 2040, 2048)]
    public async Task SameFileOverlappingRanges_ReadEverythingBeforeOverwriting(int source, int target, int length)
    {
        var data = Pattern(20000, seed: 3);
        await using var file = await FileAsync(_volume, "same", data);
        var expected = (byte[])data.Clone();
        Array.Copy(data, source, expected, target, length); // Array.Copy is memmove
        var result = await new CopyEngine(blockSize: 1024).CopyAsync(new(_volume, file, source), new(_volume, file, target), length);

        Assert.Null(result.Error);
        Assert.Equal(length, result.BytesCopied);
        Assert.Equal(CopyMethod.Streamed, result.Method);
        Assert.Equal(CopyFallbackReason.OverlappingRanges, result.FallbackReason);
        Assert.Equal(expected, await ReadAllAsync(file));
    }

    [Fact]
    public async Task SourceEndingEarly_CopiesWhatThereIs()
    {
        var data = Pattern(5000, seed: 4);
        await using var src = await FileAsync(_volume, "short", data);
        await using var dst = await FileAsync(_volume, "short-dst");
        var result = await new CopyEngine().CopyAsync(new(_volume, src, 1000), new(_volume, dst, 0), 10000);
        Assert.Null(result.Error);
        Assert.Equal(4000, result.BytesCopied);
        Assert.Equal(data[1000..], await ReadAllAsync(dst));

        var none = await new CopyEngine().CopyAsync(new(_volume, src, 6000), new(_volume, dst, 0), 10);
        Assert.Equal(0, none.BytesCopied);
        Assert.Equal(CopyMethod.None, none.Method);
    }

    [Fact]
    public async Task WriteFailure_IsReportedWithTheProgress_NotThrown()
    {
        await using var other = new StreamOnlyVolume(await _share.OpenAsync(name: "ro-target"));
        var data = Pattern(8192, seed: 5);
        await using var src = await FileAsync(_volume, "w-src", data);
        (await FileAsync(other, "w-dst")).Dispose();
        var (readOnly, _) = await other.OpenAsync("w-dst", new OpenRequest(CreateDisposition.Open, StorageAccess.Read));
        await using (readOnly)
        {
            var result = await new CopyEngine(blockSize: 4096).CopyAsync(new(_volume, src, 0), new(other, readOnly, 0), data.Length);
            Assert.NotNull(result.Error);
            Assert.Equal(StorageError.AccessDenied, result.Error!.Error);
            Assert.Equal(0, result.BytesCopied);
        }
    }

    [Fact]
    public async Task AtomicClone_IsNeverTurnedIntoACopy()
    {
        var block = Math.Max(_volume.CloneAlignment, 4096);
        var data = Pattern(2 * block, seed: 6);
        await using var src = await FileAsync(_volume, "c-src", data);
        await using var dst = await FileAsync(_volume, "c-dst", new byte[2 * block]);
        var engine = new CopyEngine();
        if (_volume.Capabilities.HasFlag(StorageCapabilities.CloneRange))
        {
            var result = await engine.CloneAsync(new(_volume, src, 0), new(_volume, dst, 0), 2 * block);
            Assert.Equal(CopyMethod.Clone, result.Method);
            Assert.Equal(data, await ReadAllAsync(dst));
        }
        else
        {
            var e = await Assert.ThrowsAsync<StorageException>(() => engine.CloneAsync(new(_volume, src, 0), new(_volume, dst, 0), 2 * block).AsTask());
            Assert.Equal(StorageError.NotSupported, e.Error);
            Assert.Equal(new byte[2 * block], await ReadAllAsync(dst));
        }
        await using var other = new StreamOnlyVolume(await _share.OpenAsync(name: "x"));
        var cross = await Assert.ThrowsAsync<StorageException>(() => engine.CloneAsync(new(_volume, src, 0), new(other, dst, 0), block).AsTask());
        Assert.Equal(StorageError.CrossDevice, cross.Error);
    }

    [Fact]
    public void Overlaps_IsExact()
    {
        Assert.True(CopyEngine.Overlaps(0, 4095, 4096));
        Assert.False(CopyEngine.Overlaps(0, 4096, 4096));
        Assert.False(CopyEngine.Overlaps(4096, 0, 4096));
        Assert.False(CopyEngine.Overlaps(0, 0, 0));
    }

    [Fact]
    public async Task A_source_end_of_file_from_the_caller_is_used_instead_of_a_query()
    {
        // The caller (copy-chunk) has just read the source's size: the engine copies up to that, without asking again.
        var data = Pattern(3 * 4096);
        await using var src = await FileAsync(_volume, "src", data);
        await using var dst = await FileAsync(_volume, "dst");
        var result = await new CopyEngine().CopyAsync(new(_volume, src, 0), new(_volume, dst, 0), data.Length,
            new CopyOptions(SourceEndOfFile: 4096 + 100));

        Assert.Null(result.Error);
        Assert.Equal(4096 + 100, result.BytesCopied);
        Assert.Equal(data.AsSpan(0, 4096 + 100).ToArray(), await ReadAllAsync(dst));
    }

    /// <summary>A volume of another "driver" that can neither clone nor range-copy (forces the streamed path).</summary>
    private sealed class StreamOnlyVolume(IStorageVolume inner) : IStorageVolume
    {
        public string Name => inner.Name;
        public StorageCapabilities Capabilities => inner.Capabilities & ~(StorageCapabilities.CloneRange | StorageCapabilities.RangeCopy);
        public int CloneAlignment => 0;
        public ValueTask<VolumeInfo> GetVolumeInfoAsync(CancellationToken cancellationToken = default) => inner.GetVolumeInfoAsync(cancellationToken);
        public ValueTask<OpenResult> OpenAsync(string path, OpenRequest request, CancellationToken cancellationToken = default) => inner.OpenAsync(path, request, cancellationToken);
        public ValueTask RenameAsync(string path, string newPath, bool replaceIfExists, CancellationToken cancellationToken = default) => inner.RenameAsync(path, newPath, replaceIfExists, cancellationToken);
        public ValueTask DeleteAsync(string path, CancellationToken cancellationToken = default) => inner.DeleteAsync(path, cancellationToken);
        public ValueTask CloneRangeAsync(IStorageHandle source, long sourceOffset, IStorageHandle destination, long destinationOffset, long length, CancellationToken cancellationToken = default) =>
            throw new StorageException(StorageError.NotSupported, "no clone");
        public ValueTask<long> CopyRangeAsync(IStorageHandle source, long sourceOffset, IStorageHandle destination, long destinationOffset, long length, CancellationToken cancellationToken = default) =>
            throw new StorageException(StorageError.NotSupported, "no range copy");
        public ValueTask DisposeAsync() => inner.DisposeAsync();
        public void Dispose() => inner.Dispose();
    }
}
