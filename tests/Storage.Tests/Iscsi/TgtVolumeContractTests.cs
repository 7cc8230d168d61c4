using SmbCopy.Storage.Iscsi.Initiator;
using SmbCopy.Storage.Iscsi.Scsi;
using SmbCopy.Storage.Iscsi.Volume;

namespace SmbCopy.Storage.Tests.Iscsi;

/// <summary>The storage contract on an iSCSI volume on tgt (no EXTENDED COPY: range copies and copy on write go by
/// READ/WRITE through the gateway): a fresh volume formatted on tgt's second disk (its last 256 MiB) for each test.</summary>
[Collection(TgtCollection.Name)]
public sealed class TgtVolumeContractTests(TgtTargetFixture target) : StorageContractTests
{
    private readonly string _dir = Directory.CreateTempSubdirectory("smbcopy-tgt-volume-").FullName;
    private IscsiVolume? _volume;

    protected override async Task<IStorageVolume> CreateVolumeAsync()
    {
        Directory.CreateDirectory(OutsideDirectory);
        var client = await IscsiClient.ConnectAsync(target.Options());
        var device = await ScsiBlockDevice.OpenAsync(client, target.Lun1);
        Assert.False(device.SupportsExtendedCopy, "tgt has no copy manager (this class is the fallback's contract run)");
        _volume = await IscsiVolume.MountAsync(device,
            new IscsiVolumeOptions("contract-tgt", Path.Combine(_dir, "meta.db"), IscsiVolumeContractTests.VolumeFirstLba,
                IscsiVolumeContractTests.VolumeBlocks, Format: true), owned: client);
        return _volume;
    }

    protected override Task CreateSymbolicLinkAsync(string linkPath, string target) => _volume!.PlantSpecialAsync(linkPath, NodeKind.SymbolicLink, target);
    protected override Task CreateFifoAsync(string path) => _volume!.PlantSpecialAsync(path, NodeKind.Fifo);
    protected override Task CreateDeviceAsync(string path) => _volume!.PlantSpecialAsync(path, NodeKind.Device);
    protected override string OutsideDirectory => Path.Combine(_dir, "outside");
    protected override Task<string[]> ListOutsideAsync() => Task.FromResult(Directory.GetFileSystemEntries(OutsideDirectory));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
