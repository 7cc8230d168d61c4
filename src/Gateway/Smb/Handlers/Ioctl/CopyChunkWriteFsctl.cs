using SmbCopy.Protocol.Fscc;

namespace SmbCopy.Gateway.Smb.Handlers.Ioctl;

/// <summary>FSCTL_SRV_COPYCHUNK_WRITE (0x001480F2): like COPYCHUNK but the destination needs write access only.</summary>
public sealed class CopyChunkWriteFsctl : IFsctlHandler
{
    public uint CtlCode => FsctlCodes.SrvCopyChunkWrite;
    public ValueTask<FsctlResult> HandleAsync(FsctlContext context) => CopyChunkProcessor.HandleAsync(context, isWrite: true);
}
