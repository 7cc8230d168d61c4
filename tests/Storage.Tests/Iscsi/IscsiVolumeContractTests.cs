using SmbCopy.Storage.Iscsi.Initiator;
using SmbCopy.Storage.Iscsi.Scsi;
using SmbCopy.Storage.Iscsi.Volume;

namespace SmbCopy.Storage.Tests.Iscsi;

/// <summary>The storage contract on an iSCSI volume: a fresh volume formatted on LUN 1 (its last 256 MiB) of the
/// real LIO target for each test, metadata in a temporary SQLite file. Links, fifos and devices are planted as
/// metadata nodes (the volume has no other way to hold them); "outside" is a real, empty host directory that must
/// stay empty.</summary>
[Collection(LioCollection.Name)]
public sealed class IscsiVolumeContractTests(LioTargetFixture target) : StorageContractTests
{
    internal const long VolumeFirstLba = 768L * 1024 * 1024 / 512;
    internal const long VolumeBlocks = 256L * 1024 * 1024 / 512;
    private readonly string _dir = Directory.CreateTempSubdirectory("smbcopy-iscsi-volume-").FullName;
    private IscsiVolume? _volume;

    protected override async Task<IStorageVolume> CreateVolumeAsync()
    {
        Directory.CreateDirectory(OutsideDirectory);
        var client = await IscsiClient.ConnectAsync(target.Options());
        var device = await ScsiBlockDevice.OpenAsync(client, target.Lun1);
        _volume = await IscsiVolume.MountAsync(device,
            new IscsiVolumeOptions("contract", Path.Combine(_dir, "meta.db"), VolumeFirstLba, VolumeBlocks, Format: true), owned: client);
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
