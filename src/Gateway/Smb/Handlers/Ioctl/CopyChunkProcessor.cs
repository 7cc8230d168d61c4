using System.Diagnostics;
using SmbCopy.Gateway.Observability;
using SmbCopy.Gateway.Smb.Copy;
using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Storage;
using SmbCopy.Storage.Copy;

namespace SmbCopy.Gateway.Smb.Handlers.Ioctl;

/// <summary>
/// FSCTL_SRV_COPYCHUNK and FSCTL_SRV_COPYCHUNK_WRITE (MS-SMB2 3.3.5.15.6): the checks in the spec's order, then the
/// chunks in array order through <see cref="CopyEngine"/>. The two codes differ only in the destination's access
/// check: COPYCHUNK also wants FILE_READ_DATA on it (3.3.5.15.6.1 / .6.2).
/// </summary>
public static class CopyChunkProcessor
{
    /// <summary>Go async (interim STATUS_PENDING) once a copy ran this long in all, or one engine call ran
    /// <see cref="InterimResponse.After"/>.</summary>
    private static readonly TimeSpan AsyncAfter = TimeSpan.FromMilliseconds(500);

    public static async ValueTask<FsctlResult> HandleAsync(FsctlContext context, bool isWrite)
    {
        var request = context.Request;
        var log = request.Connection.Logger;
        string name = isWrite ? "COPYCHUNK_WRITE" : "COPYCHUNK";
        var limits = request.Server.Options.Limits;
        uint maxChunks = (uint)Math.Max(1, limits.CopyChunkMaxChunks);
        uint maxChunkSize = (uint)Math.Max(1, limits.CopyChunkMaxChunkSize);
        uint maxData = (uint)Math.Max(1, limits.CopyChunkMaxDataSize);
        var input = context.Input;

        // 1. The source: an open named by the resume key, in this session (any of its tree connects).
        if (input.Length < ResumeKeyTable.KeySize)
        {
            log.LogInformation("{Fsctl}: input of {Length} bytes has no resume key", name, input.Length);
            return context.MaxOutput >= SrvCopyChunkResponse.Size ? LimitsResponse(maxChunks, maxChunkSize, maxData)
                : FsctlResult.Error(NtStatus.InvalidParameter);
        }
        var source = ResumeKeyTable.Find(input[..ResumeKeyTable.KeySize]);
        if (source is null || !ReferenceEquals(source.Session, request.Session))
        {
            log.LogInformation("{Fsctl}: unknown resume key (or an open of another session)", name);
            return FsctlResult.Error(NtStatus.ObjectNameNotFound);
        }

        // 2. Room for the response.
        if (context.MaxOutput < SrvCopyChunkResponse.Size)
        {
            log.LogInformation("{Fsctl}: MaxOutputResponse {Max} < 12", name, context.MaxOutput);
            return FsctlResult.Error(NtStatus.InvalidParameter);
        }

        // 3. The limits response: malformed or oversized requests, named pipes.
        if (!SrvCopyChunkCopy.TryParse(input, out var copy) || context.Open is not FileOpen destination
            || copy!.ChunkCount > maxChunks)
        {
            log.LogInformation("{Fsctl}: {Reason}; sending the limits", name,
                context.Open is not FileOpen ? "destination is not a file of a disk share" : "chunk count / input length");
            return LimitsResponse(maxChunks, maxChunkSize, maxData);
        }
        ulong sum = 0;
        foreach (var chunk in copy.Chunks)
        {
            sum += chunk.Length;
            bool badTarget = chunk.TargetOffset > long.MaxValue && chunk.TargetOffset != ulong.MaxValue;
            if (chunk.Length == 0 || chunk.Length > maxChunkSize || badTarget || sum > maxData)
            {
                log.LogInformation("{Fsctl}: chunk {Source}+{Length}→{Target} outside the limits; sending them", name,
                    chunk.SourceOffset, chunk.Length, chunk.TargetOffset);
                return LimitsResponse(maxChunks, maxChunkSize, maxData);
            }
        }

        // 4. Access (3.3.5.15.6.1 / .6.2); Windows also takes FILE_EXECUTE as read access on the source.
        if (!source.Has(AccessMask.FileReadData | AccessMask.FileExecute)
            || !destination.Has(AccessMask.FileWriteData | AccessMask.FileAppendData)
            || (!isWrite && !destination.Has(AccessMask.FileReadData)))
        {
            log.LogInformation("{Fsctl}: access denied (source 0x{Src:X}, destination 0x{Dst:X})", name, (uint)source.Access, (uint)destination.Access);
            return FsctlResult.Error(NtStatus.AccessDenied);
        }
        if (source.IsDirectory || destination.IsDirectory)
        {
            log.LogInformation("{Fsctl}: a directory is not a data stream", name);
            return FsctlResult.Error(NtStatus.InvalidDeviceRequest);
        }
        if (destination.Tree.Share.ReadOnly)
            return FsctlResult.Error(NtStatus.MediaWriteProtected);

        // 6. Byte-range locks on any chunk: copy nothing.
        foreach (var chunk in copy.Chunks)
        {
            bool targetAtEnd = chunk.TargetOffset == ulong.MaxValue;
            if (source.Node.IoConflicts(source, chunk.SourceOffset, chunk.Length, write: false)
                || (!targetAtEnd && destination.Node.IoConflicts(destination, chunk.TargetOffset, chunk.Length, write: true)))
            {
                log.LogInformation("{Fsctl}: byte-range lock conflict on {Path}", name, destination.Handle.Path);
                return CopyFailure(NtStatus.FileLockConflict, 0, 0, 0);
            }
        }

        // 7. The chunks in order; stop at the first failure and say exactly what was written. Chunks that continue
        // each other in both files (Windows and smbclient send 16 x 1 MiB back to back) go to the engine as one
        // range: one copy_file_range loop / clone instead of 16 thread-pool round trips with their size queries
        // (bench/copy.sh). Not within one file: there each chunk must see what the previous one wrote.
        var clock = Stopwatch.StartNew();
        uint chunksWritten = 0, total = 0;
        var chunks = copy.Chunks;
        bool mergeable = !CopyEngine.IsSameFile(new CopyEndpoint(source.Volume, source.Handle, 0),
            new CopyEndpoint(destination.Volume, destination.Handle, 0));
        bool changed = false;
        try
        {
            int next = 0;
            while (next < chunks.Count)
            {
                var first = chunks[next];
                int end = next + 1;
                long length = first.Length;
                if (mergeable && first.TargetOffset != ulong.MaxValue)
                {
                    while (end < chunks.Count && chunks[end].TargetOffset != ulong.MaxValue
                        && chunks[end].SourceOffset == chunks[end - 1].SourceOffset + chunks[end - 1].Length
                        && chunks[end].TargetOffset == chunks[end - 1].TargetOffset + chunks[end - 1].Length)
                    {
                        length += chunks[end].Length;
                        end++;
                    }
                }

                // Reads past the source's end fail the chunk that does so (after the ones before it are copied).
                var srcInfo = await source.Handle.GetInfoAsync(request.Cancellation).ConfigureAwait(false);
                int pastEnd = -1;
                long inRange = 0;
                for (int i = next; i < end; i++)
                {
                    if (chunks[i].SourceOffset > long.MaxValue || (long)chunks[i].SourceOffset + chunks[i].Length > srcInfo.EndOfFile)
                    {
                        pastEnd = i;
                        break;
                    }
                    inRange += chunks[i].Length;
                }
                if (pastEnd == next)
                {
                    log.LogInformation("{Fsctl}: chunk {Index} reads {Offset}+{Length} past the source's end {Eof}", name,
                        chunksWritten, chunks[pastEnd].SourceOffset, chunks[pastEnd].Length, srcInfo.EndOfFile);
                    return CopyFailure(NtStatus.InvalidViewSize, chunksWritten, 0, total);
                }
                if (pastEnd > 0)
                {
                    end = pastEnd;
                    length = inRange;
                }

                long target = first.TargetOffset == ulong.MaxValue
                    ? (await destination.Handle.GetInfoAsync(request.Cancellation).ConfigureAwait(false)).EndOfFile
                    : (long)first.TargetOffset;
                if (target > long.MaxValue - length)
                    return CopyFailure(NtStatus.InvalidParameter, chunksWritten, 0, total);

                var result = await InterimResponse.AwaitAsync(request, CopyActivityLog.TrackAsync(context, name, source, destination, length,
                    () => CopyEngine.Shared.CopyAsync(new CopyEndpoint(source.Volume, source.Handle, (long)first.SourceOffset),
                        new CopyEndpoint(destination.Volume, destination.Handle, target), length,
                        new CopyOptions(Share: destination.Tree.Share.Name, SourceEndOfFile: srcInfo.EndOfFile), request.Cancellation))).ConfigureAwait(false);
                if (result.BytesCopied > 0)
                {
                    changed = true;
                    CopyHooks.DataChanged(destination, target, result.BytesCopied);
                }
                if (result.Error is not null || result.BytesCopied < length)
                {
                    // Whole chunks of the run first, then the bytes of the chunk it stopped in (ChunkBytesWritten).
                    long left = result.BytesCopied;
                    int i = next;
                    while (i < end && left >= chunks[i].Length)
                    {
                        left -= chunks[i].Length;
                        total += chunks[i].Length;
                        chunksWritten++;
                        i++;
                    }
                    var status = result.Error is null ? NtStatus.InvalidViewSize : StatusMapper.FromException(result.Error);
                    log.LogInformation(result.Error, "{Fsctl}: chunk {Index} stopped after {Bytes} of {Length} bytes ({Method}): {Status}",
                        name, chunksWritten, left, i < end ? chunks[i].Length : 0, result.Method, status);
                    return CopyFailure(status, chunksWritten, (uint)left, total + (uint)left);
                }
                log.LogDebug("{Fsctl}: chunks {First}..{Last}, {Length} bytes by {Method} (fallback: {Reason})", name, next, end - 1, length,
                    result.Method, result.FallbackReason);
                chunksWritten += (uint)(end - next);
                total += (uint)length;
                next = end;
                if (pastEnd >= 0)
                {
                    log.LogInformation("{Fsctl}: chunk {Index} reads {Offset}+{Length} past the source's end {Eof}", name,
                        chunksWritten, chunks[pastEnd].SourceOffset, chunks[pastEnd].Length, srcInfo.EndOfFile);
                    return CopyFailure(NtStatus.InvalidViewSize, chunksWritten, 0, total);
                }
                if (request.AsyncId == 0 && clock.Elapsed > AsyncAfter && chunksWritten < copy.ChunkCount)
                    await request.GoAsyncAsync().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (request.Cancellation.IsCancellationRequested)
        {
            log.LogInformation("{Fsctl}: cancelled after {Chunks} chunks", name, chunksWritten);
            return CopyFailure(NtStatus.Cancelled, chunksWritten, 0, total);
        }
        finally
        {
            if (changed) destination.Tree.Share.Notifications?.Publish(destination.Handle.Path, ChangeKind.Modified, false);
        }

        // 8. Success.
        return FsctlResult.Ok(new SrvCopyChunkResponse(copy.ChunkCount, 0, total).ToBytes());
    }

    /// <summary>Status INVALID_PARAMETER with the server's maxima in the response fields (3.3.5.15.6).</summary>
    private static FsctlResult LimitsResponse(uint maxChunks, uint maxChunkSize, uint maxData) =>
        FsctlResult.ErrorWithOutput(NtStatus.InvalidParameter, SrvCopyChunkResponse.Limits(maxChunks, maxChunkSize, maxData).ToBytes());

    /// <summary>The copy-failure response: the error with what was already written.</summary>
    private static FsctlResult CopyFailure(NtStatus status, uint chunks, uint chunkBytes, uint total) =>
        FsctlResult.ErrorWithOutput(status, new SrvCopyChunkResponse(chunks, chunkBytes, total).ToBytes());
}
