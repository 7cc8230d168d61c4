using SmbCopy.Protocol.Fscc;

namespace SmbCopy.Gateway.Smb.Handlers.Ioctl;

/// <summary>FSCTL_SRV_COPYCHUNK (0x001440F2): needs read and write access on the destination.</summary>
public sealed class CopyChunkFsctl : IFsctlHandler
{
    public uint CtlCode => FsctlCodes.SrvCopyChunk;
    public ValueTask<FsctlResult> HandleAsync(FsctlContext context) => CopyChunkProcessor.HandleAsync(context, isWrite: false);
}
