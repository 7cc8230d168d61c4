using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Smb.Handlers.Ioctl;

/// <summary>
/// FSCTL_DUPLICATE_EXTENTS_TO_FILE_EX (MS-SMB2 3.3.5.15.18, MS-FSA 2.1.5.10.5): as FSCTL_DUPLICATE_EXTENTS_TO_FILE,
/// with StructureSize (must be 0x30) and Flags; DUPLICATE_EXTENTS_DATA_EX_SOURCE_ATOMIC asks for all or nothing.
/// </summary>
public sealed class DuplicateExtentsExFsctl : IFsctlHandler
{
    public uint CtlCode => FsctlCodes.DuplicateExtentsToFileEx;

    public ValueTask<FsctlResult> HandleAsync(FsctlContext context)
    {
        if (context.Input.Length < DuplicateExtentsDataEx.Size)
            return ValueTask.FromResult(DuplicateExtentsProcessor.Refuse(context, NtStatus.InvalidParameter, "input shorter than 56 bytes"));
        var data = DuplicateExtentsDataEx.Parse(context.Input);
        return DuplicateExtentsProcessor.HandleAsync(context, "DUPLICATE_EXTENTS_EX", data.SourceFileId, data.SourceFileOffset,
            data.TargetFileOffset, data.ByteCount, data.HasValidStructureSize,
            atomic: (data.Flags & DuplicateExtentsDataEx.FlagSourceAtomic) != 0);
    }
}
