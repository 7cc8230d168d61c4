namespace SmbCopy.Storage.Copy;

/// <summary>How the bytes of a copy were moved, cheapest first.</summary>
public enum CopyMethod
{
    /// <summary>Nothing had to be moved (zero length, or the source ended before the range).</summary>
    None = 0,
    /// <summary>The destination now shares the source's extents (<see cref="IStorageVolume.CloneRangeAsync"/>).</summary>
    Clone,
    /// <summary>The backend copied the range itself (<see cref="IStorageVolume.CopyRangeAsync"/>: copy_file_range, NFS COPY, ...).</summary>
    Offload,
    /// <summary>The gateway read and wrote the bytes (pooled buffers, read of block n+1 overlapping the write of block n).</summary>
    Streamed,
}

/// <summary>Why a cheaper method was not used.</summary>
public enum CopyFallbackReason
{
    None = 0,
    /// <summary>A volume does not announce <see cref="StorageCapabilities.CloneRange"/>.</summary>
    CloneUnsupported,
    /// <summary>Offsets or length are not multiples of the volume's clone alignment.</summary>
    Unaligned,
    /// <summary>Source and destination are the same file and the ranges overlap.</summary>
    OverlappingRanges,
    /// <summary>The two volumes belong to different drivers (local ↔ NFS ↔ iSCSI).</summary>
    DifferentBackends,
    /// <summary>The backend said the two files are not on one device (EXDEV and the like).</summary>
    CrossDevice,
    /// <summary>The backend refused the clone at run time (not supported for these files).</summary>
    CloneRefused,
    /// <summary>A volume does not announce <see cref="StorageCapabilities.RangeCopy"/>.</summary>
    RangeCopyUnsupported,
    /// <summary>The backend refused the range copy at run time.</summary>
    RangeCopyRefused,
    /// <summary>The caller asked for no clone (for example a non-atomic duplicate-extents whose clone was refused).</summary>
    CloneNotRequested,
}

/// <summary>One step down the ladder clone → offload → streamed, and why.</summary>
public readonly record struct CopyFallback(CopyMethod From, CopyFallbackReason Reason);

/// <summary>
/// The outcome of one copy. <see cref="BytesCopied"/> is exact also on failure (bytes of the range already written at
/// the destination); it is less than asked without <see cref="Error"/> only when the source ended.
/// </summary>
/// <param name="BytesCopied">Bytes written at the destination, from its start offset.</param>
/// <param name="Method">The method that moved the (last) bytes.</param>
/// <param name="FallbackReason">Why <paramref name="Method"/> and not a cheaper one (the last fallback); None when the
/// cheapest method worked.</param>
/// <param name="Fallbacks">Every fallback step taken, in order.</param>
/// <param name="Duration">Wall time.</param>
/// <param name="Error">The failure that stopped the copy; null on success.</param>
public sealed record CopyResult(
    long BytesCopied,
    CopyMethod Method,
    CopyFallbackReason FallbackReason,
    IReadOnlyList<CopyFallback> Fallbacks,
    TimeSpan Duration,
    StorageException? Error = null)
{
    public bool Succeeded => Error is null;
}

/// <summary>One end of a copy: a volume, an open handle on it, and an offset.</summary>
public readonly record struct CopyEndpoint(IStorageVolume Volume, IStorageHandle Handle, long Offset);

/// <summary>Choices the caller makes for one copy.</summary>
/// <param name="AllowClone">Try a clone first (when the volumes can and the range is aligned).</param>
/// <param name="AllowOffload">Try the backend's range copy.</param>
/// <param name="Share">Tag for metrics (the destination share's name when null).</param>
/// <param name="CloneSkipReason">Recorded as the clone's fallback reason when <paramref name="AllowClone"/> is false.</param>
/// <param name="SourceEndOfFile">The source's end of file when the caller has just queried it (a copy-chunk request
/// checks its chunks against it): the engine then does not query it again.</param>
public sealed record CopyOptions(bool AllowClone = true, bool AllowOffload = true, string? Share = null,
    CopyFallbackReason CloneSkipReason = CopyFallbackReason.CloneNotRequested, long? SourceEndOfFile = null)
{
    public static CopyOptions Default { get; } = new();
}
