using System.Buffers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SmbCopy.Storage.Iscsi.Initiator;

namespace SmbCopy.Storage.Iscsi.Scsi;

/// <summary>How a block range was copied.</summary>
public enum ScsiCopyMethod
{
    /// <summary>EXTENDED COPY (LID1): the target's copy manager moved the blocks; no data crossed the gateway.</summary>
    ExtendedCopy,
    /// <summary>READ / WRITE through the gateway (no copy manager, different targets, or the copy manager refused).</summary>
    ReadWrite,
}

/// <summary>Outcome of <see cref="ScsiCopyEngine.CopyAsync"/>: blocks copied by each method, commands issued, and why
/// it fell back (null when it did not).</summary>
public sealed record ScsiCopyResult(long ExtendedCopyBlocks, long ReadWriteBlocks, int ExtendedCopyCommands, int ReadWriteCommands,
    string? FallbackReason)
{
    public ScsiCopyMethod Method => ReadWriteBlocks == 0 ? ScsiCopyMethod.ExtendedCopy : ScsiCopyMethod.ReadWrite;
}

/// <summary>
/// Copies block ranges between LUNs with SCSI EXTENDED COPY (LID1: two 0xE4 identification CSCD descriptors from
/// VPD 0x83, 0x02 block→block segments), sized by the copy manager's operating parameters (LIO: 1 segment of at
/// most 65,535 blocks per command, so the engine loops), and falls back to a pipelined READ/WRITE through the
/// gateway when EXTENDED COPY is not available or is refused.
/// </summary>
public sealed class ScsiCopyEngine(ILogger? logger = null)
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    /// <summary>Bytes per READ/WRITE in the fallback (also capped by each device's MAXIMUM TRANSFER LENGTH).</summary>
    public int FallbackChunkBytes { get; init; } = 1024 * 1024;

    /// <summary>Chunks in flight in the fallback (read of chunk n+1 overlaps the write of chunk n).</summary>
    public int FallbackDepth { get; init; } = 4;

    /// <summary>Use EXTENDED COPY when possible (false: always READ/WRITE, for comparisons).</summary>
    public bool UseExtendedCopy { get; init; } = true;

    /// <summary>Why EXTENDED COPY cannot be used between these two devices; null when it can.</summary>
    public static string? ExtendedCopyUnavailableReason(ScsiBlockDevice source, ScsiBlockDevice destination)
    {
        if (!ReferenceEquals(source.Client, destination.Client)) return "source and destination are on different iSCSI sessions";
        if (!destination.SupportsExtendedCopy) return $"LUN {destination.Lun} has no usable EXTENDED COPY (LID1) copy manager";
        if (source.CopyDesignator == null) return $"LUN {source.Lun} has no NAA designator in VPD 0x83";
        if (source.BlockSize != destination.BlockSize) return "block sizes differ";
        if (destination.CopyParameters!.MaxTargetDescriptors < (source.Lun == destination.Lun ? 1 : 2))
            return "copy manager takes too few target descriptors";
        return null;
    }

    /// <summary>Copies <paramref name="blocks"/> blocks from <paramref name="source"/> at <paramref name="sourceLba"/> to
    /// <paramref name="destination"/> at <paramref name="destinationLba"/>. Overlapping ranges on one LUN are not
    /// supported (the caller's extent allocator never produces them).</summary>
    public async Task<ScsiCopyResult> CopyAsync(ScsiBlockDevice source, long sourceLba, ScsiBlockDevice destination, long destinationLba,
        long blocks, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(blocks);
        if (source.BlockSize != destination.BlockSize && !UseExtendedCopy)
            throw new StorageException(StorageError.InvalidParameter, "block sizes differ");
        string? reason = UseExtendedCopy ? ExtendedCopyUnavailableReason(source, destination) : "EXTENDED COPY disabled";
        long xBlocks = 0;
        int xCommands = 0;
        if (reason == null)
        {
            var p = destination.CopyParameters!;
            var targets = new List<CopyTarget>
            {
                new(source.CopyDesignator!.RawDescriptor, source.BlockSize),
                new(destination.CopyDesignator!.RawDescriptor, destination.BlockSize),
            };
            long perSegment = ushort.MaxValue;
            if (p.MaxSegmentLength > 0) perSegment = Math.Min(perSegment, p.MaxSegmentLength / source.BlockSize);
            int segmentsPerCommand = (int)Math.Max(1, Math.Min(p.MaxSegmentDescriptors,
                p.MaxDescriptorListLength == 0 ? 64
                    : (p.MaxDescriptorListLength - 2 * ExtendedCopyParameters.TargetDescriptorLength) / ExtendedCopyParameters.SegmentDescriptorLength));
            segmentsPerCommand = Math.Min(segmentsPerCommand, 64);
            while (xBlocks < blocks)
            {
                var segments = new List<CopySegment>(segmentsPerCommand);
                long planned = 0;
                while (segments.Count < segmentsPerCommand && xBlocks + planned < blocks)
                {
                    long n = Math.Min(perSegment, blocks - xBlocks - planned);
                    segments.Add(new CopySegment(0, 1, (ushort)n, (ulong)(sourceLba + xBlocks + planned), (ulong)(destinationLba + xBlocks + planned)));
                    planned += n;
                }
                var list = ExtendedCopyParameters.Build(targets, segments);
                try
                {
                    await destination.Client.ExecuteAsync(new ScsiCommand(destination.Lun, Cdb.ExtendedCopyLid1((uint)list.Length), DataOut: list),
                        cancellationToken).ConfigureAwait(false);
                }
                catch (ScsiCommandException e) when (IsRefusal(e))
                {
                    reason = "EXTENDED COPY refused: " + e.Message;
                    _logger.LogInformation("iSCSI copy falls back to READ/WRITE: {Reason}", reason);
                    break;
                }
                xBlocks += planned;
                xCommands++;
            }
        }
        if (xBlocks == blocks) return new ScsiCopyResult(xBlocks, 0, xCommands, 0, null);
        int rw = await ReadWriteCopyAsync(source, sourceLba + xBlocks, destination, destinationLba + xBlocks, blocks - xBlocks, cancellationToken)
            .ConfigureAwait(false);
        return new ScsiCopyResult(xBlocks, blocks - xBlocks, xCommands, rw, reason);
    }

    /// <summary>The copy manager said no (not implemented, descriptor not supported, target unreachable) rather than
    /// the data being bad: a READ/WRITE copy may still work.</summary>
    private static bool IsRefusal(ScsiCommandException e) => e.Sense is { } s && (
        (s.Key == SenseKey.IllegalRequest && s.Asc is 0x20 or 0x24 or 0x26) ||
        (s.Key == SenseKey.CopyAborted && s.Asc == 0x0D));

    private async Task<int> ReadWriteCopyAsync(ScsiBlockDevice source, long sourceLba, ScsiBlockDevice destination, long destinationLba,
        long blocks, CancellationToken cancellationToken)
    {
        uint bs = source.BlockSize;
        long chunkBlocks = Math.Max(1, Math.Min(FallbackChunkBytes / bs, Math.Min(source.MaxTransferBlocks, destination.MaxTransferBlocks)));
        int commands = 0;
        using var gate = new SemaphoreSlim(FallbackDepth);
        var tasks = new List<Task>();
        Exception? failure = null;
        for (long done = 0; done < blocks && Volatile.Read(ref failure) == null; done += chunkBlocks)
        {
            long n = Math.Min(chunkBlocks, blocks - done);
            long at = done;
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            tasks.Add(Task.Run(async () =>
            {
                byte[] buffer = ArrayPool<byte>.Shared.Rent((int)(n * bs));
                try
                {
                    var mem = buffer.AsMemory(0, (int)(n * bs));
                    await source.ReadAsync(sourceLba + at, mem, cancellationToken).ConfigureAwait(false);
                    await destination.WriteAsync(destinationLba + at, mem, cancellationToken: cancellationToken).ConfigureAwait(false);
                    Interlocked.Add(ref commands, 2);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref failure, e, null);
                    throw;
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    gate.Release();
                }
            }, CancellationToken.None));
        }
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch when (failure != null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
        return commands;
    }
}
