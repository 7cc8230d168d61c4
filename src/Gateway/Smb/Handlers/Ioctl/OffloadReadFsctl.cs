using SmbCopy.Gateway.Smb.Copy;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Gateway.Smb.Handlers.Ioctl;

/// <summary>
/// FSCTL_OFFLOAD_READ (MS-FSCC 2.3.41/2.3.42, MS-SMB2 3.3.5.15.8): hands out a token for a range of the source that
/// FSCTL_OFFLOAD_WRITE redeems, on this or another share (<see cref="OffloadTokenTable"/>). The range must be readable
/// by this open; it is clipped to the end of file (the rest of the request reads as zeros: ALL_ZERO_BEYOND_CURRENT_RANGE).
/// </summary>
public sealed class OffloadReadFsctl : IFsctlHandler
{
    /// <summary>Logical sector size offsets and lengths are aligned to.</summary>
    public const long SectorSize = 512;

    public uint CtlCode => FsctlCodes.OffloadRead;

    public async ValueTask<FsctlResult> HandleAsync(FsctlContext context)
    {
        var log = context.Request.Connection.Logger;
        FsctlResult Refuse(NtStatus status, string why)
        {
            log.LogInformation("OFFLOAD_READ on {Path}: {Status}: {Why}", context.Open?.DisplayName, status, why);
            return FsctlResult.Error(status);
        }

        if (context.Input.Length < OffloadReadInput.StructSize) return Refuse(NtStatus.InvalidParameter, "input shorter than 32 bytes");
        var input = OffloadReadInput.Parse(context.Input);
        if (input.Size != OffloadReadInput.StructSize) return Refuse(NtStatus.InvalidParameter, $"Size {input.Size} is not 32");
        if (context.MaxOutput < OffloadReadOutput.Size) return Refuse(NtStatus.InvalidParameter, "MaxOutputResponse < 528");
        if (context.Open is not FileOpen open) return Refuse(NtStatus.InvalidDeviceRequest, "not a file of a disk share");
        if (open.IsDirectory) return Refuse(NtStatus.InvalidParameter, "a directory");
        if (!open.Has(AccessMask.FileReadData)) return Refuse(NtStatus.AccessDenied, "the open lacks FILE_READ_DATA");
        if (input.FileOffset % SectorSize != 0 || input.CopyLength % SectorSize != 0
            || input.FileOffset > long.MaxValue || input.CopyLength > (ulong)(long.MaxValue - (long)input.FileOffset))
            return Refuse(NtStatus.InvalidParameter, $"range {input.FileOffset}+{input.CopyLength} not sector aligned");

        var info = await open.Handle.GetInfoAsync(context.Request.Cancellation).ConfigureAwait(false);
        long offset = (long)input.FileOffset, length = (long)input.CopyLength;
        if (length == 0) return Output(0, 0, StorageOffloadToken.ZeroData());
        if (info.EndOfFile < SectorSize) return Refuse(NtStatus.InvalidParameter, "file smaller than one sector");
        if (offset >= info.EndOfFile) return Refuse(NtStatus.EndOfFile, $"offset {offset} at or past the end {info.EndOfFile}");
        if (open.Node.IoConflicts(open, (ulong)offset, (ulong)length, write: false))
            return Refuse(NtStatus.FileLockConflict, "byte-range lock");

        long data = Math.Min(length, info.EndOfFile - offset);
        long transfer = Math.Min(length, (data + SectorSize - 1) / SectorSize * SectorSize);
        uint flags = offset + length > info.EndOfFile ? OffloadReadOutput.FlagAllZeroBeyondCurrentRange : 0;
        var token = OffloadTokenTable.Create(open, offset, transfer, data, info, input.TokenTimeToLive);
        log.LogDebug("OFFLOAD_READ on {Path}: token for {Offset}+{Length} ({Data} bytes of data)", open.Handle.Path, offset, transfer, data);
        return Output(flags, transfer, new StorageOffloadToken(OffloadTokenTable.TokenType, token.Id));
    }

    private static FsctlResult Output(uint flags, long transfer, StorageOffloadToken token)
    {
        using var w = new WireWriter(OffloadReadOutput.Size);
        new OffloadReadOutput(flags, (ulong)transfer, token).WriteTo(w);
        return FsctlResult.Ok(w.ToArray());
    }
}
