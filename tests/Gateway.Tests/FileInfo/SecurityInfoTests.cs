using SmbCopy.Gateway.Smb.Files.Info;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Tests.FileInfo;

public class SecurityInfoTests
{
    private const SecurityInformation OwnerGroupDacl = SecurityInformation.Owner | SecurityInformation.Group | SecurityInformation.Dacl;

    [Fact]
    public void TheDescriptorHasThePartsAskedFor()
    {
        var answer = SecurityInfo.Query(AccessMask.ReadControl, false, SecurityInformation.Owner | SecurityInformation.Dacl, 4096);
        Assert.Equal(NtStatus.Success, answer.Status);
        var sd = SecurityDescriptor.Parse(answer.Data);
        Assert.Equal(Sid.BuiltinAdministrators, sd.Owner);
        Assert.Null(sd.Group);
        Assert.True(sd.DaclPresent);
        Assert.Contains(sd.Dacl!.Aces, a => Sid.Everyone.Equals(a.Sid));
    }

    [Fact]
    public void TooSmallABufferAsksForTheWholeSize()
    {
        var full = SecurityInfo.Query(AccessMask.ReadControl, true, OwnerGroupDacl, 4096);
        var small = SecurityInfo.Query(AccessMask.ReadControl, true, OwnerGroupDacl, (uint)full.Data.Length - 1);
        Assert.Equal(NtStatus.BufferTooSmall, small.Status);
        Assert.Equal(full.Data.Length, small.RequiredSize);
        Assert.Equal(NtStatus.Success, SecurityInfo.Query(AccessMask.ReadControl, true, OwnerGroupDacl, (uint)full.Data.Length).Status);
    }

    [Fact]
    public void ReadControlAndSystemSecurityAreChecked()
    {
        Assert.Equal(NtStatus.AccessDenied, SecurityInfo.Query(AccessMask.FileReadAttributes, false, SecurityInformation.Owner, 4096).Status);
        Assert.Equal(NtStatus.AccessDenied, SecurityInfo.Query(AccessMask.ReadControl, false, SecurityInformation.Sacl, 4096).Status);
        Assert.Equal(NtStatus.Success, SecurityInfo.Query(AccessMask.ReadControl | AccessMask.AccessSystemSecurity, false, SecurityInformation.Sacl, 4096).Status);
    }

    [Fact]
    public void SetValidatesTheDescriptorAndTheRights()
    {
        byte[] sd = SecurityInfo.For(false).ToBytes(OwnerGroupDacl);
        Assert.Equal(NtStatus.Success, SecurityInfo.ValidateSet(AccessMask.WriteDac, SecurityInformation.Dacl, sd));
        Assert.Equal(NtStatus.AccessDenied, SecurityInfo.ValidateSet(AccessMask.WriteDac, SecurityInformation.Owner, sd));
        Assert.Equal(NtStatus.AccessDenied, SecurityInfo.ValidateSet(AccessMask.WriteOwner, SecurityInformation.Dacl, sd));
        byte[] broken = (byte[])sd.Clone();
        broken[0] = 2; // revision
        Assert.Equal(NtStatus.InvalidParameter, SecurityInfo.ValidateSet(AccessMask.WriteDac, SecurityInformation.Dacl, broken));
        Assert.Equal(NtStatus.InfoLengthMismatch, SecurityInfo.ValidateSet(AccessMask.WriteDac, SecurityInformation.Dacl, sd.AsSpan(0, 10)));
    }
}
