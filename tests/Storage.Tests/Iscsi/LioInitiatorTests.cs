using System.Security.Cryptography;
using SmbCopy.Storage.Iscsi.Initiator;
using SmbCopy.Storage.Iscsi.Scsi;
using Xunit.Abstractions;

namespace SmbCopy.Storage.Tests.Iscsi;

/// <summary>The initiator and the SCSI layer against a real LIO target.</summary>
[Collection(LioCollection.Name)]
public sealed class LioInitiatorTests(LioTargetFixture target, ITestOutputHelper output)
{
    [Fact]
    public async Task Login_negotiates_and_probes_both_luns()
    {
        await using var client = await IscsiClient.ConnectAsync(target.Options());
        var p = await client.GetParametersAsync();
        output.WriteLine($"negotiated: {p}");
        Assert.NotEqual(0, p.Tsih);
        Assert.Equal(0, p.ErrorRecoveryLevel);
        Assert.False(p.Digests.Header);

        var lun0 = await ScsiBlockDevice.OpenAsync(client, target.Lun0);
        var lun1 = await ScsiBlockDevice.OpenAsync(client, target.Lun1);
        output.WriteLine(lun0.ToString());
        output.WriteLine(lun1.ToString());
        foreach (var d in lun0.Designators) output.WriteLine("  0x83: " + d);
        Assert.Equal(512u, lun0.BlockSize);
        Assert.Equal(LioTargetFixture.LunBytes, lun0.Capacity.Bytes);
        Assert.Equal("LIO-ORG", lun0.Inquiry.Vendor);
        Assert.True(lun0.Inquiry.ThirdPartyCopy);
        Assert.True(lun0.SupportsExtendedCopy);
        Assert.NotNull(lun0.CopyDesignator);
        Assert.Equal(Designator.TypeNaa, lun0.CopyDesignator!.Type);
        Assert.NotEqual(Convert.ToHexString(lun0.CopyDesignator.Value), Convert.ToHexString(lun1.CopyDesignator!.Value));
        var luns = await ScsiBlockDevice.ReportLunsAsync(client);
        Assert.Equal([0, 1], luns.Order());
        await client.PingAsync();
    }
}
