using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Smb.Handlers.Ioctl;

/// <summary>
/// FSCTL_GET_REPARSE_POINT (MS-FSCC 2.3.31, MS-FSA 2.1.5.10.13): the shares expose no reparse points, so every
/// file and directory answers STATUS_NOT_A_REPARSE_POINT.
/// </summary>
public sealed class GetReparsePointFsctl : IFsctlHandler
{
    public uint CtlCode => FsctlCodes.GetReparsePoint;

    public ValueTask<FsctlResult> HandleAsync(FsctlContext context) =>
        ValueTask.FromResult(FsctlResult.Error(context.Open is FileOpen ? NtStatus.NotAReparsePoint : NtStatus.InvalidDeviceRequest));
}
