using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using SmbCopy.Storage.Iscsi.Initiator;
using SmbCopy.Storage.Iscsi.Scsi;
using SmbCopy.Storage.Iscsi.Volume;
using Xunit.Abstractions;

namespace SmbCopy.Storage.Tests.Iscsi;

/// <summary>The mount-time consistency check (damaged metadata is found and repaired; a clean volume reports nothing),
/// range copies between two volumes of one session (other LUN, other region of the same LUN) as EXTENDED COPY only,
/// and the cost of cloning a 1 GiB file. Volumes in the 512–768 MiB regions of LIO's LUN 0 and LUN 1, formatted here.</summary>
[Collection(LioCollection.Name)]
public sealed class IscsiVolumeConsistencyTests(LioTargetFixture target, ITestOutputHelper output) : IAsyncLifetime
{
    private const int MiB = 1024 * 1024;
    private const long RegionLba = 512L * MiB / 512, RegionBlocks = 256L * MiB / 512;
    private static readonly OpenRequest Create = new(CreateDisposition.Create, StorageAccess.ReadWrite, ObjectKind.File);
    private readonly string _dir = Directory.CreateTempSubdirectory("smbcopy-iscsi-check-").FullName;
    private readonly List<IscsiVolume> _volumes = [];
    private IscsiClient _client = null!;

    public async Task InitializeAsync() => _client = await IscsiClient.ConnectAsync(target.Options());

    public async Task DisposeAsync()
    {
        foreach (var v in _volumes) await v.DisposeAsync();
        await _client.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private async Task<IscsiVolume> MountAsync(int lun, long firstLba, long blocks, string db, bool format)
    {
        var v = await IscsiVolume.MountAsync(await ScsiBlockDevice.OpenAsync(_client, lun),
            new IscsiVolumeOptions(db, Path.Combine(_dir, db), firstLba, blocks, Format: format));
        _volumes.Add(v);
        return v;
    }

    private async Task UnmountAsync(IscsiVolume v)
    {
        _volumes.Remove(v);
        await v.DisposeAsync();
    }

    private static byte[] RandomBytes(int n)
    {
        var b = new byte[n];
        Random.Shared.NextBytes(b);
        return b;
    }

    private static async Task<byte[]> HashAsync(IStorageVolume v, string path)
    {
        var (h, _) = await v.OpenAsync(path, new OpenRequest(CreateDisposition.Open));
        await using (h)
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[4 * MiB];
            for (long at = 0; ;)
            {
                int n = await h.ReadAsync(at, buffer);
                if (n == 0) break;
                sha.AppendData(buffer, 0, n);
                at += n;
            }
            return sha.GetHashAndReset();
        }
    }

    private static async Task WriteFileAsync(IStorageVolume v, string path, byte[] data)
    {
        var (h, _) = await v.OpenAsync(path, Create);
        await using (h) await h.WriteAsync(0, data);
    }

    private static void Sql(string db, string sql)
    {
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = db, Pooling = false }.ToString());
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private static long Scalar(string db, string sql)
    {
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = db, Pooling = false }.ToString());
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A schema version 1 store (one map row per unit, one unit row per physical unit) is migrated at mount
    /// to extents and reference-count runs: same files, same counts, clean check.</summary>
    [Fact]
    public async Task Version_1_metadata_is_migrated_to_extents_and_runs()
    {
        var v = await MountAsync(target.Lun1, RegionLba, RegionBlocks, "v1.db", format: true);
        byte[] a = RandomBytes(3 * MiB), b = RandomBytes(MiB / 2 + 3);
        await WriteFileAsync(v, "a.bin", a);
        await WriteFileAsync(v, "b.bin", b);
        var (ha, _) = await v.OpenAsync("a.bin", new OpenRequest(CreateDisposition.Open));
        var (hc, _) = await v.OpenAsync("c.bin", Create);
        await v.CloneRangeAsync(ha, MiB, hc, 0, MiB);
        await ha.DisposeAsync();
        await hc.DisposeAsync();
        await UnmountAsync(v);
        // rewrite the store as version 1 had it
        string db = Path.Combine(_dir, "v1.db");
        Sql(db, """
            CREATE TABLE unit(unit INTEGER PRIMARY KEY, refs INTEGER NOT NULL CHECK (refs > 0));
            CREATE TABLE map(node INTEGER NOT NULL REFERENCES node(id) ON DELETE CASCADE, idx INTEGER NOT NULL,
                unit INTEGER NOT NULL REFERENCES unit(unit), PRIMARY KEY (node, idx)) WITHOUT ROWID;
            WITH RECURSIVE r(unit, k, count, refs) AS (SELECT unit, 0, count, refs FROM refrun
                UNION ALL SELECT unit, k + 1, count, refs FROM r WHERE k + 1 < count) INSERT INTO unit SELECT unit + k, refs FROM r;
            WITH RECURSIVE e(node, idx, unit, k, count) AS (SELECT node, idx, unit, 0, count FROM extent
                UNION ALL SELECT node, idx, unit, k + 1, count FROM e WHERE k + 1 < count) INSERT INTO map SELECT node, idx + k, unit + k FROM e;
            DROP TABLE extent; DROP TABLE refrun; PRAGMA user_version = 1;
            """);
        Assert.Equal(48 + 9 + 16, Scalar(db, "SELECT count(*) FROM map"));

        v = await MountAsync(target.Lun1, RegionLba, RegionBlocks, "v1.db", format: false);
        Assert.True(v.MountCheck.Clean, v.MountCheck.ToString());
        Assert.Equal(2, Scalar(db, "PRAGMA user_version"));
        Assert.Equal(0, Scalar(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('map', 'unit')"));
        Assert.Equal(1, Scalar(db, "SELECT count(*) FROM extent WHERE node = (SELECT id FROM node WHERE name = 'c.bin')"));
        Assert.Equal(16, v.MountCheck.SharedUnits);
        Assert.Equal(SHA256.HashData(a), await HashAsync(v, "a.bin"));
        Assert.Equal(SHA256.HashData(b), await HashAsync(v, "b.bin"));
        Assert.Equal(SHA256.HashData(a.AsSpan(MiB, MiB)), await HashAsync(v, "c.bin"));
    }

    [Fact]
    public async Task Mount_check_finds_and_repairs_damaged_reference_counts_and_reclaims_orphans()
    {
        var v = await MountAsync(target.Lun1, RegionLba, RegionBlocks, "check.db", format: true);
        Assert.True(v.MountCheck.Clean, v.MountCheck.ToString());
        byte[] a = RandomBytes(2 * MiB), b = RandomBytes(MiB + 5), o = RandomBytes(MiB);
        await WriteFileAsync(v, "a.bin", a);
        await WriteFileAsync(v, "b.bin", b);
        await WriteFileAsync(v, "orphan.bin", o);
        var (ha, _) = await v.OpenAsync("a.bin", new OpenRequest(CreateDisposition.Open, StorageAccess.ReadWrite));
        var (hc, _) = await v.OpenAsync("a-clone.bin", Create);
        await v.CloneRangeAsync(ha, 0, hc, 0, a.Length);
        await ha.DisposeAsync();
        await hc.DisposeAsync();
        long free = (await v.GetVolumeInfoAsync()).FreeBytes;
        await UnmountAsync(v);

        // a clean remount finds nothing
        v = await MountAsync(target.Lun1, RegionLba, RegionBlocks, "check.db", format: false);
        Assert.True(v.MountCheck.Clean, v.MountCheck.ToString());
        Assert.Equal(4, v.MountCheck.Files);
        Assert.Equal(32, v.MountCheck.SharedUnits); // a.bin's 2 MiB shared with its clone
        await UnmountAsync(v);

        // damage: a wrong count, b.bin's units without a count (they would be handed out while in use), a leaked
        // unit, and a file left nameless as if the gateway had died with it deleted but open
        string db = Path.Combine(_dir, "check.db");
        Sql(db, """
            UPDATE refrun SET refs = refs + 3 WHERE unit = (SELECT unit FROM extent WHERE node = (SELECT id FROM node WHERE name = 'a.bin') AND idx = 0);
            DELETE FROM refrun WHERE unit = (SELECT unit FROM extent WHERE node = (SELECT id FROM node WHERE name = 'b.bin') AND idx = 0);
            INSERT INTO refrun(unit, count, refs) VALUES (3000, 1, 1);
            UPDATE node SET parent = NULL, name_key = NULL WHERE name = 'orphan.bin';
            """);
        v = await MountAsync(target.Lun1, RegionLba, RegionBlocks, "check.db", format: false);
        output.WriteLine(v.MountCheck.ToString());
        Assert.False(v.MountCheck.Clean);
        // a.bin's run of 32 units counted 5 instead of 2; b.bin's 17 units had no count; unit 3000 was counted for nothing
        Assert.Equal((32, 17, 1, 1), ((int)v.MountCheck.WrongRefcounts, (int)v.MountCheck.MissingUnitRows, (int)v.MountCheck.LeakedUnits,
            v.MountCheck.OrphansReclaimed));
        // the orphan's 16 units are free again, the leaked one too (it was not in use before the damage); b.bin's units
        // are in use again
        Assert.Equal(free + MiB, (await v.GetVolumeInfoAsync()).FreeBytes);
        // b.bin's unit is in use again: filling the free space does not overwrite it
        await WriteFileAsync(v, "fill.bin", RandomBytes(32 * MiB));
        Assert.Equal(SHA256.HashData(a), await HashAsync(v, "a.bin"));
        Assert.Equal(SHA256.HashData(a), await HashAsync(v, "a-clone.bin"));
        Assert.Equal(SHA256.HashData(b), await HashAsync(v, "b.bin"));
        await UnmountAsync(v);

        v = await MountAsync(target.Lun1, RegionLba, RegionBlocks, "check.db", format: false);
        Assert.True(v.MountCheck.Clean, "after the repair: " + v.MountCheck);
        Assert.Equal(0, v.MountCheck.OrphansReclaimed);
    }

    [Fact]
    public async Task Range_copy_to_another_lun_and_to_another_region_of_the_same_lun_is_extended_copy_only()
    {
        var src = await MountAsync(target.Lun0, RegionLba, RegionBlocks / 2, "src.db", format: true);
        var sameLun = await MountAsync(target.Lun0, RegionLba + RegionBlocks / 2, RegionBlocks / 2, "same.db", format: true);
        var otherLun = await MountAsync(target.Lun1, RegionLba, RegionBlocks, "other.db", format: true);
        var data = RandomBytes(16 * MiB + 777);
        await WriteFileAsync(src, "s.bin", data);
        var (s, _) = await src.OpenAsync("s.bin", new OpenRequest(CreateDisposition.Open));
        await using (s)
            foreach (var dst in new[] { sameLun, otherLun })
            {
                var (d, _) = await dst.OpenAsync("d.bin", Create);
                await using (d)
                {
                    var before = _client.Counters.Snapshot();
                    long n = await dst.CopyRangeAsync(s, 0, d, 0, data.Length);
                    var delta = _client.Counters.Snapshot() - before;
                    output.WriteLine($"{dst.Name}: {delta}");
                    Assert.Equal(data.Length, n);
                    Assert.InRange(delta.ExtendedCopyCommands, 1, 8);
                    Assert.Equal(0, delta.ReadCommands + delta.WriteCommands);
                    Assert.True(delta.BytesIn + delta.BytesOut < 64 * 1024, $"no data through the gateway: {delta}");
                }
                Assert.Equal(SHA256.HashData(data), await HashAsync(dst, "d.bin"));
                Assert.Equal(16L * MiB + dst.UnitSize, dst.ExtendedCopyBytes); // whole units: 257
                Assert.Equal(0, dst.ReadWriteCopyBytes);
            }
        // a volume on another session cannot be the source
        await using var other = await IscsiClient.ConnectAsync(target.Options());
        var foreign = await IscsiVolume.MountAsync(await ScsiBlockDevice.OpenAsync(other, target.Lun0),
            new IscsiVolumeOptions("f", Path.Combine(_dir, "src.db"), RegionLba, RegionBlocks / 2, Format: false));
        await using (foreign)
        {
            var (fs, _) = await foreign.OpenAsync("s.bin", new OpenRequest(CreateDisposition.Open));
            var (d, _) = await otherLun.OpenAsync("d2.bin", Create);
            await using (fs)
            await using (d)
            {
                var e = await Assert.ThrowsAsync<StorageException>(() => otherLun.CopyRangeAsync(fs, 0, d, 0, MiB).AsTask());
                Assert.Equal(StorageError.CrossDevice, e.Error);
            }
        }
    }

    [Fact]
    public async Task Clone_of_a_1_GiB_file_is_a_few_statements_and_no_io()
    {
        var v = await MountAsync(target.Lun1, RegionLba, RegionBlocks, "big.db", format: true);
        var block = RandomBytes(64 * MiB);
        await WriteFileAsync(v, "block.bin", block);
        var (b, _) = await v.OpenAsync("block.bin", new OpenRequest(CreateDisposition.Open));
        var (big, _) = await v.OpenAsync("big.bin", Create);
        await using (b)
        await using (big)
        {
            for (int i = 0; i < 16; i++) await v.CloneRangeAsync(b, 0, big, (long)i * block.Length, block.Length);
            Assert.Equal(1L << 30, (await big.GetInfoAsync()).EndOfFile);
            var (copy, _) = await v.OpenAsync("big-clone.bin", Create);
            await using (copy)
            {
                var before = _client.Counters.Snapshot();
                var clock = Stopwatch.StartNew();
                await v.CloneRangeAsync(big, 0, copy, 0, 1L << 30);
                clock.Stop();
                var d = _client.Counters.Snapshot() - before;
                output.WriteLine($"clone of 1 GiB (16,384 units): {clock.Elapsed.TotalMilliseconds:F1} ms, {d}");
                Assert.Equal(0, d.ReadCommands + d.WriteCommands + d.ExtendedCopyCommands + d.OtherCommands);
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"clone of 1 GiB took {clock.Elapsed.TotalMilliseconds:F0} ms");
                // the cost is per run: the clone is 16 extents (one per 64 MiB clone of block.bin), and block.bin's 1,024
                // units are one reference-count run (count 33: block.bin, 16 in big.bin, 16 in big-clone.bin)
                string db = Path.Combine(_dir, "big.db");
                Assert.Equal(16, Scalar(db, "SELECT count(*) FROM extent WHERE node = (SELECT id FROM node WHERE name = 'big-clone.bin')"));
                Assert.Equal(1, Scalar(db, "SELECT count(*) FROM refrun"));
                Assert.Equal(33, Scalar(db, "SELECT refs FROM refrun"));
            }
        }
        await UnmountAsync(v);
        v = await MountAsync(target.Lun1, RegionLba, RegionBlocks, "big.db", format: false);
        Assert.True(v.MountCheck.Clean, v.MountCheck.ToString());
        Assert.Equal(1024, v.MountCheck.UnitsInUse);
        // delete the 1 GiB clone: one set-based release, and every count goes back
        var clock2 = Stopwatch.StartNew();
        await v.DeleteAsync("big-clone.bin");
        output.WriteLine($"delete of the 1 GiB clone: {clock2.Elapsed.TotalMilliseconds:F1} ms");
        await UnmountAsync(v);
        v = await MountAsync(target.Lun1, RegionLba, RegionBlocks, "big.db", format: false);
        Assert.True(v.MountCheck.Clean, v.MountCheck.ToString());
    }
}
