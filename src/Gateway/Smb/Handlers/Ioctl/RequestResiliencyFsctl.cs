using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Smb.Handlers.Ioctl;

/// <summary>
/// FSCTL_LMR_REQUEST_RESILIENCY (MS-SMB2 3.3.5.15.9). This server has no resilient handles (durable handles
/// cover reconnects), so it answers as the section says a server without the feature does: on SMB 2.0.2
/// STATUS_INVALID_DEVICE_REQUEST (&lt;388&gt;, the FSCTL does not exist in that dialect), otherwise
/// STATUS_NOT_SUPPORTED — never success, which would promise the client a handle that survives a disconnect.
/// </summary>
public sealed class RequestResiliencyFsctl : IFsctlHandler
{
    public uint CtlCode => FsctlCodes.LmrRequestResiliency;

    public ValueTask<FsctlResult> HandleAsync(FsctlContext context)
    {
        var dialect = context.Request.Connection.Dialect;
        context.Request.Connection.Logger.LogDebug("LMR_REQUEST_RESILIENCY on {Open}: resilient handles not supported",
            context.Open?.DisplayName);
        return ValueTask.FromResult(FsctlResult.Error(dialect == Smb2Dialect.Smb202 ? NtStatus.InvalidDeviceRequest : NtStatus.NotSupported));
    }
}
