using System.Buffers.Binary;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Gateway.Smb.Files.Info;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Smb.Handlers.Ioctl;

/// <summary>
/// FSCTL_CREATE_OR_GET_OBJECT_ID (MS-FSCC 2.3.8, MS-FSA 2.1.5.10.1): the file's object id as a
/// FILE_OBJECTID_BUFFER (2.1.3.1: ObjectId, BirthVolumeId, BirthObjectId, DomainId; 64 bytes). Our object id
/// is derived from the stable 64-bit file id and the volume, so "create" and "get" give the same answer for
/// the life of the file without storing anything; BirthVolumeId is the volume's object id
/// (FileFsObjectIdInformation), BirthObjectId the object id, DomainId zero. Samba does the same (from dev/inode).
/// </summary>
public sealed class CreateOrGetObjectIdFsctl : IFsctlHandler
{
    public const int BufferSize = 64;

    public uint CtlCode => Protocol.Fscc.FsctlCodes.CreateOrGetObjectId;

    public async ValueTask<FsctlResult> HandleAsync(FsctlContext context)
    {
        if (context.Open is not FileOpen file) return FsctlResult.Error(NtStatus.InvalidDeviceRequest);
        // MS-FSA 2.1.5.10.1: an output buffer smaller than FILE_OBJECTID_BUFFER is STATUS_INVALID_PARAMETER
        // (Windows answers BUFFER_TOO_SMALL through SMB2; either way nothing partial is returned).
        if (context.MaxOutput < BufferSize) return FsctlResult.Error(NtStatus.InvalidParameter);
        var metadata = await file.Handle.GetInfoAsync(context.Request.Cancellation).ConfigureAwait(false);
        var volume = await file.Volume.GetVolumeInfoAsync(context.Request.Cancellation).ConfigureAwait(false);
        return FsctlResult.Ok(Build(metadata.FileId, FsInfoQueries.VolumeObjectId(volume.SerialNumber, file.Volume.Name)));
    }

    /// <summary>FILE_OBJECTID_BUFFER for a file id on a volume (pure: the same inputs give the same bytes).</summary>
    public static byte[] Build(ulong fileId, Guid volumeObjectId)
    {
        var buffer = new byte[BufferSize];
        Span<byte> objectId = buffer.AsSpan(0, 16);
        BinaryPrimitives.WriteUInt64LittleEndian(objectId, fileId);
        volumeObjectId.TryWriteBytes(buffer.AsSpan(16, 16)); // BirthVolumeId
        // Second half of the object id: the volume's identity, so ids from different volumes differ.
        buffer.AsSpan(16, 8).CopyTo(objectId[8..]);
        objectId.CopyTo(buffer.AsSpan(32, 16)); // BirthObjectId
        // DomainId (48..63) stays zero.
        return buffer;
    }
}
