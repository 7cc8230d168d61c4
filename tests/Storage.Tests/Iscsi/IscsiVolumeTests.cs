using System.Security.Cryptography;
using SmbCopy.Storage.Iscsi;
using SmbCopy.Storage.Iscsi.Initiator;
using SmbCopy.Storage.Iscsi.Scsi;
using SmbCopy.Storage.Iscsi.Volume;
using Xunit.Abstractions;

namespace SmbCopy.Storage.Tests.Iscsi;

/// <summary>What the iSCSI volume does beyond the contract: offloaded range copies, metadata-only clones with copy on
/// write, remount, and the binding between LUN and metadata store. Same LUN region as the contract tests.</summary>
[Collection(LioCollection.Name)]
public sealed class IscsiVolumeTests(LioTargetFixture target, ITestOutputHelper output) : IAsyncLifetime
{
    private const int MiB = 1024 * 1024;
    private static readonly OpenRequest Create = new(CreateDisposition.Create, StorageAccess.ReadWrite, ObjectKind.File);
    private readonly string _dir = Directory.CreateTempSubdirectory("smbcopy-iscsi-volume-").FullName;
    private IscsiClient _client = null!;
    private IscsiVolume _volume = null!;

    private string MetadataPath => Path.Combine(_dir, "meta.db");

    public async Task InitializeAsync()
    {
        _client = await IscsiClient.ConnectAsync(target.Options());
        _volume = await MountAsync(format: true);
    }

    private async Task<IscsiVolume> MountAsync(bool format, string? metadata = null) =>
        await IscsiVolume.MountAsync(await ScsiBlockDevice.OpenAsync(_client, target.Lun1),
            new IscsiVolumeOptions("t", metadata ?? MetadataPath, IscsiVolumeContractTests.VolumeFirstLba, IscsiVolumeContractTests.VolumeBlocks,
                Format: format));

    public async Task DisposeAsync()
    {
        await _volume.DisposeAsync();
        await _client.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static byte[] RandomBytes(int n)
    {
        var b = new byte[n];
        Random.Shared.NextBytes(b);
        return b;
    }

    private static async Task<byte[]> ReadAllAsync(IStorageHandle h)
    {
        var info = await h.GetInfoAsync();
        var buffer = new byte[info.EndOfFile];
        for (int at = 0; at < buffer.Length;) at += await h.ReadAsync(at, buffer.AsMemory(at));
        return buffer;
    }

    [Fact]
    public async Task Copy_range_between_files_is_extended_copy_only()
    {
        var data = RandomBytes(8 * MiB + 1000); // a partial last unit, reaching the end of file
        var (a, _) = await _volume.OpenAsync("a.bin", Create);
        var (b, _) = await _volume.OpenAsync("b.bin", Create);
        await using (a)
        await using (b)
        {
            await a.WriteAsync(0, data);
            var before = _client.Counters.Snapshot();
            long copied = await _volume.CopyRangeAsync(a, 0, b, 0, data.Length);
            var d = _client.Counters.Snapshot() - before;
            output.WriteLine($"CopyRange 8 MiB: {d}");
            Assert.Equal(data.Length, copied);
            Assert.InRange(d.ExtendedCopyCommands, 1, 4); // contiguous units merge into few commands
            Assert.Equal(0, d.ReadCommands + d.WriteCommands);
            Assert.Equal(SHA256.HashData(data), SHA256.HashData(await ReadAllAsync(b)));
            // past the end of file: nothing, unaligned: the caller streams
            Assert.Equal(0, await _volume.CopyRangeAsync(a, data.Length, b, 0, 100));
            var e = await Assert.ThrowsAsync<StorageException>(() => _volume.CopyRangeAsync(a, 512, b, 0, 4096).AsTask());
            Assert.Equal(StorageError.NotSupported, e.Error);
        }
    }

    [Fact]
    public async Task Clone_shares_units_without_io_and_copies_on_write()
    {
        var data = RandomBytes(4 * MiB);
        var (a, _) = await _volume.OpenAsync("src.bin", Create);
        var (b, _) = await _volume.OpenAsync("clone.bin", Create);
        await using (a)
        await using (b)
        {
            await a.WriteAsync(0, data);
            long freeBefore = (await _volume.GetVolumeInfoAsync()).FreeBytes;
            var before = _client.Counters.Snapshot();
            await _volume.CloneRangeAsync(a, 0, b, 0, data.Length);
            var d = _client.Counters.Snapshot() - before;
            Assert.Equal(0, d.ReadCommands + d.WriteCommands + d.ExtendedCopyCommands); // metadata only
            Assert.Equal(freeBefore, (await _volume.GetVolumeInfoAsync()).FreeBytes);   // no space used
            Assert.Equal(SHA256.HashData(data), SHA256.HashData(await ReadAllAsync(b)));

            // a write into the clone copies that one unit (EXTENDED COPY) and leaves the source alone
            before = _client.Counters.Snapshot();
            await b.WriteAsync(100_000, new byte[] { 1, 2, 3 });
            d = _client.Counters.Snapshot() - before;
            Assert.Equal(1, d.ExtendedCopyCommands);
            Assert.Equal(freeBefore - _volume.UnitSize, (await _volume.GetVolumeInfoAsync()).FreeBytes);
            Assert.Equal(SHA256.HashData(data), SHA256.HashData(await ReadAllAsync(a)));
            var expected = (byte[])data.Clone();
            expected[100_000] = 1; expected[100_001] = 2; expected[100_002] = 3;
            Assert.Equal(SHA256.HashData(expected), SHA256.HashData(await ReadAllAsync(b)));

            var unaligned = await Assert.ThrowsAsync<StorageException>(() => _volume.CloneRangeAsync(a, 4096, b, 0, _volume.UnitSize).AsTask());
            Assert.Equal(StorageError.InvalidParameter, unaligned.Error);
        }
        // deleting both gives every unit back
        long free = (await _volume.GetVolumeInfoAsync()).FreeBytes;
        await _volume.DeleteAsync("src.bin");
        await _volume.DeleteAsync("clone.bin");
        Assert.Equal(free + 4 * MiB + _volume.UnitSize, (await _volume.GetVolumeInfoAsync()).FreeBytes);
    }

    [Fact]
    public async Task Remount_keeps_files_and_a_foreign_metadata_store_is_refused()
    {
        var data = RandomBytes(MiB + 3);
        var (h, _) = await _volume.OpenAsync("keep.bin", Create);
        await using (h) await h.WriteAsync(7, data);
        var uuid = _volume.Superblock.Uuid;
        ulong generation = _volume.Superblock.Generation;
        await _volume.DisposeAsync();

        _volume = await MountAsync(format: false);
        Assert.Equal(uuid, _volume.Superblock.Uuid);
        Assert.Equal(generation + 1, _volume.Superblock.Generation);
        var (r, _) = await _volume.OpenAsync("KEEP.BIN", new OpenRequest(CreateDisposition.Open));
        await using (r)
            Assert.Equal(SHA256.HashData([.. new byte[7], .. data]), SHA256.HashData(await ReadAllAsync(r)));

        var other = Path.Combine(_dir, "other.db");
        using (var store = MetadataStore.Open(other))
            store.InTransaction(() => { store.Format(Guid.NewGuid(), 65536, 10, 0); return 0; });
        var e = await Assert.ThrowsAsync<StorageException>(() => MountAsync(format: false, metadata: other));
        Assert.Equal(StorageError.InvalidParameter, e.Error);
        Assert.Contains("does not belong", e.Message);
    }

    [Fact]
    public async Task Driver_opens_a_volume_from_share_settings()
    {
        var driver = new IscsiStorageDriver();
        Assert.Equal("Iscsi", driver.Name);
        await using var volume = await driver.OpenVolumeAsync(new StorageVolumeOptions("san", Path.Combine(_dir, "driver.db"), Settings:
            new Dictionary<string, string?>
            {
                ["Portal"] = $"{target.Host}:{target.Port}",
                ["Target"] = target.Iqn,
                ["Lun"] = target.Lun1.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["FirstLba"] = IscsiVolumeContractTests.VolumeFirstLba.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Blocks"] = IscsiVolumeContractTests.VolumeBlocks.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Format"] = "true",
            }));
        var info = await volume.GetVolumeInfoAsync();
        Assert.Equal("SMBCOPY-ISCSI", info.FileSystemName);
        Assert.Equal(256L * MiB - 2 * MiB, info.TotalBytes);
        Assert.True(volume.Capabilities.HasFlag(StorageCapabilities.RangeCopy | StorageCapabilities.CloneRange));
        var e = await Assert.ThrowsAsync<StorageException>(() => driver.OpenVolumeAsync(new StorageVolumeOptions("bad", "x.db", Settings:
            new Dictionary<string, string?> { ["Portal"] = "127.0.0.1:1", ["Target"] = "iqn.x" })).AsTask());
        Assert.Equal(StorageError.Unavailable, e.Error);
    }
}
