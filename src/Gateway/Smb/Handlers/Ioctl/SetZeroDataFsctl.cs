using System.Buffers;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Smb.Handlers.Ioctl;

/// <summary>
/// FSCTL_SET_ZERO_DATA (MS-FSCC 2.3.67, MS-FSA 2.1.5.10.32): [FileOffset, BeyondFinalZero) reads as zeros
/// afterwards; the part past end of file is ignored (the file never grows). Needs FILE_WRITE_DATA. The storage
/// contract has no hole-punching primitive, so the range is overwritten with zeros in 1 MiB pooled chunks — the
/// result reads the same, but a sparse file does not get its space back.
/// </summary>
public sealed class SetZeroDataFsctl : IFsctlHandler
{
    private const int ChunkSize = 1 << 20;

    public uint CtlCode => FsctlCodes.SetZeroData;

    public async ValueTask<FsctlResult> HandleAsync(FsctlContext context)
    {
        if (context.Open is not FileOpen file) return FsctlResult.Error(NtStatus.InvalidDeviceRequest);
        var log = context.Request.Connection.Logger;
        if (context.Input.Length < FileZeroDataInformation.Size) return FsctlResult.Error(NtStatus.InvalidParameter);
        var zero = FileZeroDataInformation.Parse(context.Input);
        if (zero.FileOffset < 0 || zero.BeyondFinalZero < 0 || zero.FileOffset > zero.BeyondFinalZero)
        {
            log.LogDebug("SET_ZERO_DATA on {Open}: bad range {Offset}..{Beyond}", file.DisplayName, zero.FileOffset, zero.BeyondFinalZero);
            return FsctlResult.Error(NtStatus.InvalidParameter);
        }
        if (file.IsDirectory) return FsctlResult.Error(NtStatus.InvalidParameter);
        if (!file.Has(AccessMask.FileWriteData))
        {
            log.LogDebug("SET_ZERO_DATA on {Open}: no FILE_WRITE_DATA", file.DisplayName);
            return FsctlResult.Error(NtStatus.AccessDenied);
        }
        if (file.Tree.Share.ReadOnly) return FsctlResult.Error(NtStatus.MediaWriteProtected);

        var cancel = context.Request.Cancellation;
        long endOfFile = (await file.Handle.GetInfoAsync(cancel).ConfigureAwait(false)).EndOfFile;
        long end = Math.Min(zero.BeyondFinalZero, endOfFile);
        if (zero.FileOffset >= end) return FsctlResult.Ok(ReadOnlyMemory<byte>.Empty);
        // Zeroing is a write of the range: other opens' locks (and any shared lock) block it (MS-FSA 2.1.4.10).
        if (file.Node.IoConflicts(file, (ulong)zero.FileOffset, (ulong)(end - zero.FileOffset), write: true))
            return FsctlResult.Error(NtStatus.FileLockConflict);

        byte[] buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(ChunkSize, end - zero.FileOffset));
        try
        {
            Array.Clear(buffer);
            for (long offset = zero.FileOffset; offset < end;)
            {
                int count = (int)Math.Min(buffer.Length, end - offset);
                await file.Handle.WriteAsync(offset, buffer.AsMemory(0, count), cancel).ConfigureAwait(false);
                offset += count;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        file.Tree.Share.Notifications?.Publish(file.Handle.Path, ChangeKind.Modified, false);
        return FsctlResult.Ok(ReadOnlyMemory<byte>.Empty);
    }
}
