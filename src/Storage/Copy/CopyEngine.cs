using System.Buffers;
using System.Diagnostics;

namespace SmbCopy.Storage.Copy;

/// <summary>
/// Chooses how to copy a range and does it (design.md, "Storage drivers"):
/// <list type="number">
/// <item><b>clone</b> when both volumes can clone, belong to one driver, the files are not one file with overlapping
/// ranges, and the range is aligned (a range reaching the source's end of file may end unaligned when it also reaches
/// or passes the destination's end of file);</item>
/// <item><b>offload</b>: the driver's range copy (copy_file_range, NFS COPY) when both volumes belong to one driver;</item>
/// <item><b>streamed</b>: read and write through the gateway with two pooled buffers, the read of block n+1 in flight
/// while block n is written; also between two different volumes or backends.</item>
/// </list>
/// A refusal at run time (not supported, cross device) moves one step down; any other error stops the copy and is
/// reported with the exact number of bytes already written. Every copy is recorded in <see cref="CopyMetrics"/>.
/// Source and destination may be the same file with overlapping ranges: the result is that of reading the whole
/// range before writing it (memmove), as Windows does for a copy-chunk.
/// </summary>
public sealed class CopyEngine
{
    public const int DefaultBlockSize = 1 << 20;

    public CopyEngine(int blockSize = DefaultBlockSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 512);
        BlockSize = blockSize;
    }

    /// <summary>The engine the gateway uses.</summary>
    public static CopyEngine Shared { get; } = new();

    /// <summary>Size of each of the two streaming buffers.</summary>
    public int BlockSize { get; }

    /// <summary>
    /// Copies up to <paramref name="length"/> bytes (fewer only when the source ends first). Never throws for storage
    /// failures: they come back in <see cref="CopyResult.Error"/> with the progress made.
    /// </summary>
    public async ValueTask<CopyResult> CopyAsync(CopyEndpoint source, CopyEndpoint destination, long length,
        CopyOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= CopyOptions.Default;
        CheckArguments(source, destination, length);
        var clock = Stopwatch.StartNew();
        var fallbacks = new List<CopyFallback>(2);
        long done = 0;
        var method = CopyMethod.None;
        StorageException? error = null;
        try
        {
            long want = 0;
            if (length > 0)
            {
                long sourceEof = options.SourceEndOfFile
                    ?? (await source.Handle.GetInfoAsync(cancellationToken).ConfigureAwait(false)).EndOfFile;
                want = Math.Min(length, Math.Max(0, sourceEof - source.Offset));
                if (want > 0)
                    (done, method, error) = await CopyRangeAsync(source, destination, want, sourceEof, options, fallbacks,
                        cancellationToken).ConfigureAwait(false);
            }
        }
        catch (StorageException e)
        {
            error = e;
        }
        var result = new CopyResult(done, method, fallbacks.Count > 0 && method != CopyMethod.Clone ? fallbacks[^1].Reason : CopyFallbackReason.None,
            fallbacks, clock.Elapsed, error);
        CopyMetrics.Record(options.Share ?? destination.Volume.Name, result);
        return result;
    }

    /// <summary>
    /// Clones exactly <paramref name="length"/> bytes, all or nothing, never turned into a copy (an atomic
    /// FSCTL_DUPLICATE_EXTENTS_TO_FILE_EX). Throws the driver's <see cref="StorageException"/> when it cannot.
    /// </summary>
    public async ValueTask<CopyResult> CloneAsync(CopyEndpoint source, CopyEndpoint destination, long length,
        string? share = null, CancellationToken cancellationToken = default)
    {
        CheckArguments(source, destination, length);
        var clock = Stopwatch.StartNew();
        if (length > 0)
        {
            if (source.Volume.GetType() != destination.Volume.GetType())
                throw new StorageException(StorageError.CrossDevice, "The two files belong to different storage backends.");
            if ((destination.Volume.Capabilities & StorageCapabilities.CloneRange) == 0)
                throw new StorageException(StorageError.NotSupported, $"Volume '{destination.Volume.Name}' cannot clone.");
            await CopyTracing.TraceAsync("clone", destination.Volume, length, () => destination.Volume.CloneRangeAsync(source.Handle,
                source.Offset, destination.Handle, destination.Offset, length, cancellationToken)).ConfigureAwait(false);
        }
        var result = new CopyResult(length, length > 0 ? CopyMethod.Clone : CopyMethod.None, CopyFallbackReason.None, [], clock.Elapsed);
        CopyMetrics.Record(share ?? destination.Volume.Name, result);
        return result;
    }

    // ------------------------------------------------------------------ the ladder

    private async ValueTask<(long Done, CopyMethod Method, StorageException? Error)> CopyRangeAsync(CopyEndpoint source,
        CopyEndpoint destination, long want, long sourceEof, CopyOptions options, List<CopyFallback> fallbacks,
        CancellationToken cancellationToken)
    {
        bool sameBackend = source.Volume.GetType() == destination.Volume.GetType();
        bool overlap = IsSameFile(source, destination) && Overlaps(source.Offset, destination.Offset, want);

        // 1. Clone.
        var cloneReason = !options.AllowClone ? options.CloneSkipReason
            : !Can(source.Volume, destination.Volume, StorageCapabilities.CloneRange) ? CopyFallbackReason.CloneUnsupported
            : !sameBackend ? CopyFallbackReason.DifferentBackends
            : overlap ? CopyFallbackReason.OverlappingRanges
            : CopyFallbackReason.None;
        if (cloneReason == CopyFallbackReason.None)
            cloneReason = await TryCloneAsync(source, destination, want, sourceEof, cancellationToken).ConfigureAwait(false);
        if (cloneReason == CopyFallbackReason.None)
            return (want, CopyMethod.Clone, null);
        fallbacks.Add(new CopyFallback(CopyMethod.Clone, cloneReason));

        // 2. The backend's range copy; it may copy less per call, loop.
        long done = 0;
        var offloadReason = !options.AllowOffload ? CopyFallbackReason.RangeCopyRefused
            : !Can(source.Volume, destination.Volume, StorageCapabilities.RangeCopy) ? CopyFallbackReason.RangeCopyUnsupported
            : !sameBackend ? CopyFallbackReason.DifferentBackends
            : overlap ? CopyFallbackReason.OverlappingRanges
            : CopyFallbackReason.None;
        if (offloadReason == CopyFallbackReason.None)
        {
            try
            {
                while (done < want)
                {
                    long n = await CopyTracing.TraceAsync("copy_range", destination.Volume, want - done, () => destination.Volume.CopyRangeAsync(
                        source.Handle, source.Offset + done, destination.Handle, destination.Offset + done, want - done, cancellationToken)).ConfigureAwait(false);
                    if (n <= 0) break; // the source ended (shrunk meanwhile)
                    done += n;
                }
                return (done, CopyMethod.Offload, null);
            }
            catch (StorageException e) when (IsRefusal(e.Error))
            {
                offloadReason = e.Error == StorageError.CrossDevice ? CopyFallbackReason.CrossDevice : CopyFallbackReason.RangeCopyRefused;
            }
            catch (StorageException e)
            {
                return (done, CopyMethod.Offload, e);
            }
        }
        fallbacks.Add(new CopyFallback(CopyMethod.Offload, offloadReason));

        // 3. Through the gateway.
        var (streamed, error) = await CopyTracing.TraceAsync("stream", destination.Volume, want - done,
            () => StreamAsync(source, destination, done, want - done, overlap, cancellationToken)).ConfigureAwait(false);
        return (done + streamed, CopyMethod.Streamed, error);
    }

    private static async ValueTask<CopyFallbackReason> TryCloneAsync(CopyEndpoint source, CopyEndpoint destination, long want,
        long sourceEof, CancellationToken cancellationToken)
    {
        long alignment = Math.Max(Math.Max(source.Volume.CloneAlignment, destination.Volume.CloneAlignment), 1);
        if (source.Offset % alignment != 0 || destination.Offset % alignment != 0)
            return CopyFallbackReason.Unaligned;
        if (want % alignment != 0)
        {
            // An unaligned tail is cloned only up to the source's end of file and over the destination's end.
            if (source.Offset + want != sourceEof)
                return CopyFallbackReason.Unaligned;
            var dstInfo = await destination.Handle.GetInfoAsync(cancellationToken).ConfigureAwait(false);
            if (destination.Offset + want < dstInfo.EndOfFile)
                return CopyFallbackReason.Unaligned;
        }
        try
        {
            await CopyTracing.TraceAsync("clone", destination.Volume, want, () => destination.Volume.CloneRangeAsync(source.Handle,
                source.Offset, destination.Handle, destination.Offset, want, cancellationToken)).ConfigureAwait(false);
            return CopyFallbackReason.None;
        }
        catch (StorageException e) when (IsRefusal(e.Error))
        {
            return e.Error == StorageError.CrossDevice ? CopyFallbackReason.CrossDevice : CopyFallbackReason.CloneRefused;
        }
    }

    // ------------------------------------------------------------------ streaming

    /// <summary>
    /// Streams [skip, skip + count) of the range. Two pooled buffers: the next block is read while the current one is
    /// written. When the ranges of one file overlap with the destination after the source, blocks go from the end
    /// backwards, so that every byte is read before it is overwritten (in either direction the block being read never
    /// overlaps the block being written).
    /// </summary>
    private async ValueTask<(long Done, StorageException? Error)> StreamAsync(CopyEndpoint source, CopyEndpoint destination,
        long skip, long count, bool overlap, CancellationToken cancellationToken)
    {
        if (count <= 0) return (0, null);
        // A streamed copy can take seconds, and a driver's reads and writes may complete synchronously (the local
        // one's do): return to the caller first, so that its interim-response timer can run meanwhile.
        await Task.Yield();
        bool backwards = overlap && destination.Offset > source.Offset;
        int block = (int)Math.Min(BlockSize, count);
        var pool = ArrayPool<byte>.Shared;
        byte[][] buffers = [pool.Rent(block), pool.Rent(block)];
        long done = 0;
        ValueTask<int> pending = default;
        bool reading = false;
        try
        {
            int blocks = (int)((count + block - 1) / block);
            // Block i covers [skip + i*block, ...) of the range; forward order 0..n-1, backwards n-1..0.
            (long Offset, int Length) Block(int index)
            {
                long start = (long)index * block;
                return (skip + start, (int)Math.Min(block, count - start));
            }
            int order(int step) => backwards ? blocks - 1 - step : step;

            var first = Block(order(0));
            pending = source.Handle.ReadAsync(source.Offset + first.Offset, buffers[0].AsMemory(0, first.Length), cancellationToken);
            reading = true;
            for (int step = 0; step < blocks; step++)
            {
                var current = Block(order(step));
                int n = await pending.ConfigureAwait(false);
                reading = false;
                if (n <= 0) break; // the source ended
                // A short read in the middle (rare for files): finish the block before moving on.
                while (n < current.Length)
                {
                    int more = await source.Handle.ReadAsync(source.Offset + current.Offset + n,
                        buffers[step & 1].AsMemory(n, current.Length - n), cancellationToken).ConfigureAwait(false);
                    if (more <= 0) break;
                    n += more;
                }
                if (step + 1 < blocks && n == current.Length)
                {
                    var next = Block(order(step + 1));
                    pending = source.Handle.ReadAsync(source.Offset + next.Offset, buffers[(step + 1) & 1].AsMemory(0, next.Length),
                        cancellationToken);
                    reading = true;
                }
                await destination.Handle.WriteAsync(destination.Offset + current.Offset, buffers[step & 1].AsMemory(0, n),
                    cancellationToken).ConfigureAwait(false);
                done += n;
                if (n < current.Length) break;
            }
            return (done, null);
        }
        catch (StorageException e)
        {
            // Backwards, "done" bytes sit at the end of the range: nothing before them was written, report 0.
            return (backwards ? 0 : done, e);
        }
        finally
        {
            if (reading)
            {
                try { await pending.ConfigureAwait(false); }
                catch (Exception) { /* the copy already failed; the read's outcome no longer matters */ }
            }
            pool.Return(buffers[0]);
            pool.Return(buffers[1]);
        }
    }

    // ------------------------------------------------------------------ helpers

    private static bool Can(IStorageVolume a, IStorageVolume b, StorageCapabilities capability) =>
        (a.Capabilities & capability) != 0 && (b.Capabilities & capability) != 0;

    private static bool IsRefusal(StorageError error) =>
        error is StorageError.NotSupported or StorageError.CrossDevice or StorageError.InvalidParameter;

    /// <summary>Same file: same volume object and same file id.</summary>
    public static bool IsSameFile(CopyEndpoint a, CopyEndpoint b) =>
        ReferenceEquals(a.Volume, b.Volume) && a.Handle.FileId == b.Handle.FileId;

    public static bool Overlaps(long sourceOffset, long destinationOffset, long length) =>
        length > 0 && sourceOffset < destinationOffset + length && destinationOffset < sourceOffset + length;

    private static void CheckArguments(CopyEndpoint source, CopyEndpoint destination, long length)
    {
        ArgumentNullException.ThrowIfNull(source.Volume);
        ArgumentNullException.ThrowIfNull(source.Handle);
        ArgumentNullException.ThrowIfNull(destination.Volume);
        ArgumentNullException.ThrowIfNull(destination.Handle);
        if (source.Offset < 0 || destination.Offset < 0 || length < 0
            || source.Offset > long.MaxValue - length || destination.Offset > long.MaxValue - length)
            throw new StorageException(StorageError.InvalidParameter, "Offsets and length must be non-negative and not overflow.");
    }
}
