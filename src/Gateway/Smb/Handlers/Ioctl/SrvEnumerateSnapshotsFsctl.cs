using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Gateway.Smb.Handlers.Ioctl;

/// <summary>
/// FSCTL_SRV_ENUMERATE_SNAPSHOTS (MS-SMB2 3.3.5.15.1, 2.2.32.2): "Previous Versions". No snapshots are offered,
/// so the answer is the empty SRV_SNAPSHOT_ARRAY; MaxOutputResponse below the fixed part → INVALID_PARAMETER.
/// </summary>
public sealed class SrvEnumerateSnapshotsFsctl : IFsctlHandler
{
    private const uint MinimumOutput = 16;

    public uint CtlCode => FsctlCodes.SrvEnumerateSnapshots;

    public ValueTask<FsctlResult> HandleAsync(FsctlContext context)
    {
        if (context.Open is not FileOpen) return ValueTask.FromResult(FsctlResult.Error(NtStatus.InvalidDeviceRequest));
        if (context.MaxOutput < MinimumOutput)
        {
            context.Request.Connection.Logger.LogDebug("SRV_ENUMERATE_SNAPSHOTS with MaxOutputResponse {Max}", context.MaxOutput);
            return ValueTask.FromResult(FsctlResult.Error(NtStatus.InvalidParameter));
        }
        using var w = new WireWriter(16);
        SrvSnapshotArray.WriteEmpty(w);
        return ValueTask.FromResult(FsctlResult.Ok(w.ToArray()));
    }
}
