using System.Buffers.Binary;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Smb.Handlers.Ioctl;

/// <summary>
/// FSCTL_CREATE_OR_GET_OBJECT_ID (MS-FSCC 2.3.8, MS-FSA 2.1.5.10.1): the file's FILE_OBJECTID_BUFFER (64 bytes). No
/// backend stores object ids, so, as Samba does, the id is derived from what identifies the file: its file id and the
/// volume serial number (stable across opens and renames; a named stream answers its file's id, as on NTFS).
/// BirthVolumeId and DomainId are zero; BirthObjectId is the object id.
/// </summary>
public sealed class CreateOrGetObjectIdFsctl : IFsctlHandler
{
    private const int BufferSize = 64;

    public uint CtlCode => FsctlCodes.CreateOrGetObjectId;

    public async ValueTask<FsctlResult> HandleAsync(FsctlContext context)
    {
        if (context.Open is not FileOpen file) return FsctlResult.Error(NtStatus.InvalidDeviceRequest);
        if (context.MaxOutput < BufferSize) return FsctlResult.Error(NtStatus.BufferTooSmall);
        var info = await file.Volume.GetVolumeInfoAsync(context.Request.Cancellation).ConfigureAwait(false);
        var output = new byte[BufferSize];
        BinaryPrimitives.WriteUInt64LittleEndian(output, file.Handle.FileId);
        BinaryPrimitives.WriteUInt32LittleEndian(output.AsSpan(8), info.SerialNumber);
        BinaryPrimitives.WriteUInt32LittleEndian(output.AsSpan(12), 0x43424D53); // "SMBC"
        output.AsSpan(0, 16).CopyTo(output.AsSpan(32)); // BirthObjectId
        return FsctlResult.Ok(output);
    }
}
