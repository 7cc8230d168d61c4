using SmbCopy.Gateway.Smb.Copy;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Smb.Handlers.Ioctl;

/// <summary>
/// FSCTL_SRV_REQUEST_RESUME_KEY (MS-SMB2 3.3.5.15.5): the 24-byte key that names this open as a copy-chunk source,
/// followed by ContextLength 0 and 4 zero bytes as Windows sends them (32 bytes).
/// </summary>
public sealed class RequestResumeKeyFsctl : IFsctlHandler
{
    public uint CtlCode => FsctlCodes.SrvRequestResumeKey;

    public ValueTask<FsctlResult> HandleAsync(FsctlContext context)
    {
        var log = context.Request.Connection.Logger;
        if (context.MaxOutput < SrvRequestResumeKeyResponse.Size)
        {
            log.LogInformation("REQUEST_RESUME_KEY: MaxOutputResponse {Max} < 32", context.MaxOutput);
            return ValueTask.FromResult(FsctlResult.Error(NtStatus.InvalidParameter));
        }
        if (context.Open is not FileOpen open)
        {
            log.LogInformation("REQUEST_RESUME_KEY on {Name}: not a file of a disk share", context.Open?.DisplayName);
            return ValueTask.FromResult(FsctlResult.Error(NtStatus.InvalidDeviceRequest));
        }
        var key = ResumeKeyTable.GetOrCreate(open);
        return ValueTask.FromResult(FsctlResult.Ok(SrvRequestResumeKeyResponse.ToBytes(key)));
    }
}
