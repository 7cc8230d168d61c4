using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Smb.Handlers.Ioctl;

/// <summary>FSCTL_DFS_GET_REFERRALS: not a DFS server → STATUS_FS_DRIVER_REQUIRED (MS-SMB2 3.3.5.15.2).</summary>
public sealed class DfsReferralsFsctl : IFsctlHandler
{
    public uint CtlCode => FsctlCodes.DfsGetReferrals;
    public bool TakesNoFileId => true;
    public ValueTask<FsctlResult> HandleAsync(FsctlContext context) => ValueTask.FromResult(FsctlResult.Error(NtStatus.FsDriverRequired));
}

/// <summary>FSCTL_DFS_GET_REFERRALS_EX: as <see cref="DfsReferralsFsctl"/>.</summary>
public sealed class DfsReferralsExFsctl : IFsctlHandler
{
    public uint CtlCode => FsctlCodes.DfsGetReferralsEx;
    public bool TakesNoFileId => true;
    public ValueTask<FsctlResult> HandleAsync(FsctlContext context) => ValueTask.FromResult(FsctlResult.Error(NtStatus.FsDriverRequired));
}
