using SmbCopy.Gateway.Observability;
using SmbCopy.Gateway.Smb.Copy;
using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Wire;
using SmbCopy.Storage;
using SmbCopy.Storage.Copy;

namespace SmbCopy.Gateway.Smb.Handlers.Ioctl;

/// <summary>
/// FSCTL_OFFLOAD_WRITE (MS-FSCC 2.3.43/2.3.44): writes the data a token from FSCTL_OFFLOAD_READ stands for, at
/// FileOffset of this open, starting TransferOffset bytes into the token. The data is read through the token
/// creator's open and only while the source range is unchanged (else STATUS_INVALID_TOKEN); the copy itself goes
/// through <see cref="CopyEngine"/> (clone, the backend's range copy, or streamed — also across shares and backends).
/// </summary>
public sealed class OffloadWriteFsctl : IFsctlHandler
{
    private const long SectorSize = OffloadReadFsctl.SectorSize;
    private const long AsyncAboveBytes = 4L * 1024 * 1024;
    private static readonly ReadOnlyMemory<byte> Zeros = new byte[1 << 20];

    public uint CtlCode => FsctlCodes.OffloadWrite;

    public async ValueTask<FsctlResult> HandleAsync(FsctlContext context)
    {
        var request = context.Request;
        var log = request.Connection.Logger;
        var cancel = request.Cancellation;
        FsctlResult Refuse(NtStatus status, string why)
        {
            log.LogInformation("OFFLOAD_WRITE on {Path}: {Status}: {Why}", context.Open?.DisplayName, status, why);
            return FsctlResult.Error(status);
        }

        if (context.Input.Length < OffloadWriteInput.StructSize) return Refuse(NtStatus.InvalidParameter, "input shorter than 544 bytes");
        var input = OffloadWriteInput.Parse(context.Input);
        if (input.Size != OffloadWriteInput.StructSize) return Refuse(NtStatus.InvalidParameter, $"Size {input.Size} is not 544");
        if (context.MaxOutput < OffloadWriteOutput.Size) return Refuse(NtStatus.InvalidParameter, "MaxOutputResponse < 16");
        if (context.Open is not FileOpen target) return Refuse(NtStatus.InvalidDeviceRequest, "not a file of a disk share");
        if (target.IsDirectory) return Refuse(NtStatus.InvalidParameter, "a directory");
        if (!target.Has(AccessMask.FileWriteData)) return Refuse(NtStatus.AccessDenied, "the open lacks FILE_WRITE_DATA");
        if (target.Tree.Share.ReadOnly) return Refuse(NtStatus.MediaWriteProtected, "read-only share");
        if (input.FileOffset % SectorSize != 0 || input.CopyLength % SectorSize != 0 || input.TransferOffset % SectorSize != 0
            || input.FileOffset > long.MaxValue || input.CopyLength > (ulong)(long.MaxValue - (long)input.FileOffset)
            || input.TransferOffset > long.MaxValue)
            return Refuse(NtStatus.InvalidParameter, "offsets/length not sector aligned");
        long fileOffset = (long)input.FileOffset, transferOffset = (long)input.TransferOffset;
        var dstInfo = await target.Handle.GetInfoAsync(cancel).ConfigureAwait(false);
        if (fileOffset > dstInfo.EndOfFile) return Refuse(NtStatus.InvalidParameter, $"offset {fileOffset} past the end {dstInfo.EndOfFile}");

        long length;
        long written;
        if (input.Token.IsZeroData)
        {
            // The well-known zero token: the range reads as zeros.
            length = (long)input.CopyLength;
            if (target.Node.IoConflicts(target, (ulong)fileOffset, (ulong)length, write: true))
                return Refuse(NtStatus.FileLockConflict, "byte-range lock on the target");
            if (length > AsyncAboveBytes) await request.GoAsyncAsync().ConfigureAwait(false);
            written = await WriteZerosAsync(target, fileOffset, length, cancel).ConfigureAwait(false);
            return Done(target, fileOffset, written);
        }

        var token = OffloadTokenTable.Find(input.Token.TokenType, input.Token.TokenId);
        if (token is null) return Refuse(NtStatus.InvalidToken, "unknown, expired or invalidated token");
        if (transferOffset >= token.Length) return Refuse(NtStatus.InvalidParameter, $"TransferOffset {transferOffset} past the token's {token.Length} bytes");
        var source = token.Source;
        FileMetadata srcInfo;
        try { srcInfo = await source.Handle.GetInfoAsync(cancel).ConfigureAwait(false); }
        catch (StorageException e) when (e.Error == StorageError.HandleClosed) { token.Invalidate(); return Refuse(NtStatus.InvalidToken, "the source was closed"); }
        if (srcInfo.ChangeTime != token.SourceChangeTime || srcInfo.EndOfFile != token.SourceEndOfFile)
        {
            token.Invalidate();
            return Refuse(NtStatus.InvalidToken, "the source changed since the token was made");
        }

        length = Math.Min((long)input.CopyLength, token.Length - transferOffset);
        long sourceOffset = token.Offset + transferOffset;
        if (source.Node.IoConflicts(source, (ulong)sourceOffset, (ulong)length, write: false))
            return Refuse(NtStatus.FileLockConflict, "byte-range lock on the source");
        if (target.Node.IoConflicts(target, (ulong)fileOffset, (ulong)length, write: true))
            return Refuse(NtStatus.FileLockConflict, "byte-range lock on the target");
        if (length > AsyncAboveBytes) await request.GoAsyncAsync().ConfigureAwait(false);

        long data = Math.Clamp(token.DataLength - transferOffset, 0, length);
        var result = await CopyActivityLog.TrackAsync(context, "OFFLOAD_WRITE", source, target, data, () => CopyEngine.Shared.CopyAsync(
            new CopyEndpoint(source.Volume, source.Handle, sourceOffset), new CopyEndpoint(target.Volume, target.Handle, fileOffset), data,
            new CopyOptions(Share: target.Tree.Share.Name), cancel)).ConfigureAwait(false);
        written = result.BytesCopied;
        if (result.Error is null && written == data && data < length)
            written += await WriteZerosAsync(target, fileOffset + data, length - data, cancel).ConfigureAwait(false);
        if (token.IsInvalid)
        {
            // The source changed while we copied: what was written may mix old and new data.
            if (written > 0) CopyHooks.DataChanged(target, fileOffset, written);
            return Refuse(NtStatus.InvalidToken, "the source changed during the copy");
        }
        if (written < length)
        {
            long aligned = written / SectorSize * SectorSize;
            if (aligned == 0)
            {
                if (written > 0) CopyHooks.DataChanged(target, fileOffset, written);
                var status = result.Error is null ? NtStatus.InvalidToken : StatusMapper.FromException(result.Error);
                return Refuse(status, result.Error?.Message ?? "the source ended early");
            }
            log.LogInformation(result.Error, "OFFLOAD_WRITE on {Path}: stopped after {Bytes} of {Length} bytes", target.Handle.Path, written, length);
            written = aligned;
        }
        log.LogDebug("OFFLOAD_WRITE on {Path}: {Bytes} bytes by {Method} (fallback: {Reason})", target.Handle.Path, written,
            result.Method, result.FallbackReason);
        return Done(target, fileOffset, written);
    }

    private static FsctlResult Done(FileOpen target, long offset, long written)
    {
        if (written > 0)
        {
            CopyHooks.DataChanged(target, offset, written);
            target.Tree.Share.Notifications?.Publish(target.Handle.Path, ChangeKind.Modified, false);
        }
        using var w = new WireWriter(OffloadWriteOutput.Size);
        new OffloadWriteOutput(0, (ulong)written).WriteTo(w);
        return FsctlResult.Ok(w.ToArray());
    }

    private static async ValueTask<long> WriteZerosAsync(FileOpen target, long offset, long length, CancellationToken cancel)
    {
        long done = 0;
        while (done < length)
        {
            int n = (int)Math.Min(Zeros.Length, length - done);
            await target.Handle.WriteAsync(offset + done, Zeros[..n], cancel).ConfigureAwait(false);
            done += n;
        }
        return done;
    }
}
