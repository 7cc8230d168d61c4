using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using SmbCopy.EndToEnd.Tests.Infrastructure;

namespace SmbCopy.EndToEnd.Tests;

/// <summary>
/// Issue 6, acceptance 2 and 3, through the gateway with real clients: a gateway whose shares are volumes on the LIO
/// target (<see cref="IscsiRig"/>): <c>san</c> and <c>san2</c> are two regions of LUN 0, <c>lun1</c> is on LUN 1 —
/// one iSCSI session for all. The driver's counters on /metrics (smbcopy_iscsi_commands_total by kind,
/// smbcopy_iscsi_bytes_total, smbcopy_iscsi_copy_bytes_total by share and method) show what crossed the gateway.
/// </summary>
[Collection(IscsiCollection.Name)]
public sealed class IscsiSmbTests(IscsiRig rig, ITestOutputHelper output) : IAsyncLifetime
{
    private const long MiB = IscsiGateway.MiB;
    private IscsiGateway _gw = null!;

    public async Task InitializeAsync()
    {
        _gw = new IscsiGateway(rig,
        [
            new IscsiShare("san", 0, 0, 384), new IscsiShare("san2", 0, 384, 384), new IscsiShare("lun1", 1, 0, 768),
        ]);
        await _gw.StartAsync(format: true);
    }

    public async Task DisposeAsync() => await _gw.DisposeAsync();

    private static double D(Dictionary<string, double> after, Dictionary<string, double> before, string name, params string[] labels) =>
        IscsiGateway.Sum(after, name, labels) - IscsiGateway.Sum(before, name, labels);

    /// <summary>Copies settle on /metrics (the exporter caches a scrape for 300 ms) before a baseline is taken.</summary>
    private async Task<Dictionary<string, double>> BaselineAsync()
    {
        await Task.Delay(1000);
        return await _gw.MetricsAsync();
    }

    /// <summary>Acceptance 2: 64 MiB of copy-chunk (FSCTL_SRV_COPYCHUNK_WRITE, 1 MiB chunks) from <c>san</c> to another region
    /// of the same LUN and to the other LUN is EXTENDED COPY: no READ or WRITE command, no data through the gateway,
    /// the destination identical. Inside one share the same copy-chunk is a clone (no SCSI command at all).</summary>
    [Fact]
    public async Task CopyChunk_of_64_MiB_within_one_lun_and_across_luns_is_extended_copy_only()
    {
        const long size = 64 * MiB;
        var hash = await _gw.PutAsync("san", "src.bin", size, seed: 6);
        foreach (var dst in new[] { "san2", "lun1" })
        {
            var before = await BaselineAsync();
            var clock = Stopwatch.StartNew();
            var r = await _gw.SmbOpAsync("copychunk", "san", "src.bin", dst, "copy.bin", size.ToString(CultureInfo.InvariantCulture));
            clock.Stop();
            Assert.Equal(size, r.GetProperty("written").GetInt64());
            var after = await _gw.MetricsWhenAsync(m => D(m, before, "smbcopy_iscsi_copy_bytes_total", $"share={dst}", "method=extended_copy") >= size);
            string metrics = IscsiGateway.Describe(after);
            double xcopy = D(after, before, "smbcopy_iscsi_commands_total", "kind=extended_copy");
            double reads = D(after, before, "smbcopy_iscsi_commands_total", "kind=read");
            double writes = D(after, before, "smbcopy_iscsi_commands_total", "kind=write");
            double bytes = D(after, before, "smbcopy_iscsi_bytes_total");
            output.WriteLine($"san -> {dst}: 64 MiB copy-chunk in {clock.Elapsed.TotalMilliseconds:F0} ms: {xcopy} EXTENDED COPY, {reads} READ, "
                + $"{writes} WRITE, {bytes} data bytes through the gateway");
            Assert.True(xcopy >= 1, $"EXTENDED COPY commands sent for {dst}\n{metrics}\n{_gw.OutputTail()}");
            Assert.True(reads == 0 && writes == 0, $"no READ/WRITE during the copy to {dst}: {reads} READ, {writes} WRITE\n{metrics}");
            Assert.True(bytes < MiB, $"no data through the gateway: {bytes} bytes\n{metrics}");
            Assert.Equal(size, D(after, before, "smbcopy_iscsi_copy_bytes_total", $"share={dst}", "method=extended_copy"));
            Assert.Equal(0, D(after, before, "smbcopy_iscsi_copy_bytes_total", $"share={dst}", "method=read_write"));
            Assert.Equal(size, D(after, before, "smbcopy_copy_bytes_total", $"share={dst}", "method=offload"));
            Assert.Equal(hash, await _gw.HashAsync(dst, "copy.bin"));
        }

        // inside one volume the copy engine clones first: shared units, not even an EXTENDED COPY
        var b2 = await BaselineAsync();
        await _gw.SmbOpAsync("copychunk", "san", "src.bin", "san", "clone.bin", size.ToString(CultureInfo.InvariantCulture));
        var a2 = await _gw.MetricsWhenAsync(m => D(m, b2, "smbcopy_copy_bytes_total", "share=san", "method=clone") >= size);
        Assert.Equal(size, D(a2, b2, "smbcopy_copy_bytes_total", "share=san", "method=clone"));
        Assert.Equal(0, D(a2, b2, "smbcopy_iscsi_commands_total", "kind=extended_copy") + D(a2, b2, "smbcopy_iscsi_commands_total", "kind=read")
            + D(a2, b2, "smbcopy_iscsi_commands_total", "kind=write"));
        Assert.Equal(hash, await _gw.HashAsync("san", "clone.bin"));
    }

    /// <summary>Acceptance 3: FSCTL_DUPLICATE_EXTENTS_TO_FILE of a 1 GiB file (16,384 allocation units, built from
    /// 16 clones of a 64 MiB random block) takes milliseconds and sends no SCSI data command; a later write into the
    /// clone copies one unit and leaves the source's hash unchanged.</summary>
    [Fact]
    public async Task Duplicate_extents_of_a_1_GiB_file_moves_no_data_and_a_later_write_leaves_the_source_unchanged()
    {
        const long block = 64 * MiB, size = 1L << 30;
        await _gw.PutAsync("lun1", "block.bin", block, seed: 7);
        await _gw.SmbOpAsync("eof", "lun1", "big.bin", size.ToString(CultureInfo.InvariantCulture));
        for (long at = 0; at < size; at += block)
        {
            var d = await _gw.SmbOpAsync("dup", "lun1", "block.bin", "lun1", "big.bin", "0", at.ToString(CultureInfo.InvariantCulture),
                block.ToString(CultureInfo.InvariantCulture));
            Assert.Equal(0, d.GetProperty("status").GetInt64());
        }
        await _gw.SmbOpAsync("eof", "lun1", "big-clone.bin", size.ToString(CultureInfo.InvariantCulture));

        var before = await BaselineAsync();
        var r = await _gw.SmbOpAsync("dup", "lun1", "big.bin", "lun1", "big-clone.bin", "0", "0", size.ToString(CultureInfo.InvariantCulture));
        var after = await _gw.MetricsWhenAsync(m => D(m, before, "smbcopy_copy_bytes_total", "share=lun1", "method=clone") >= size);
        double seconds = r.GetProperty("seconds").GetDouble();
        double data = D(after, before, "smbcopy_iscsi_commands_total", "kind=read") + D(after, before, "smbcopy_iscsi_commands_total", "kind=write")
            + D(after, before, "smbcopy_iscsi_commands_total", "kind=extended_copy");
        output.WriteLine($"DUPLICATE_EXTENTS_TO_FILE of 1 GiB: {seconds * 1000:F1} ms (SMB round trip), {data} SCSI data commands, "
            + $"{D(after, before, "smbcopy_iscsi_bytes_total")} bytes through the gateway");
        Assert.Equal(0, r.GetProperty("status").GetInt64());
        Assert.Equal(size, D(after, before, "smbcopy_copy_bytes_total", "share=lun1", "method=clone"));
        Assert.True(data == 0, $"no READ/WRITE/EXTENDED COPY for the clone\n{IscsiGateway.Describe(after)}");
        Assert.True(seconds < 1.0, $"the 1 GiB clone took {seconds * 1000:F0} ms");

        // copy on write: 4 bytes into the clone at 300 MiB + 123
        long at2 = 300 * MiB + 123;
        byte[] patch = [0xDE, 0xAD, 0xBE, 0xEF];
        await _gw.SmbOpAsync("writeat", "lun1", "big-clone.bin", at2.ToString(CultureInfo.InvariantCulture), Convert.ToHexString(patch));

        // hashes of the 64 MiB stretch holding the write, in the source and in the clone, and of another stretch of
        // the clone (reading the whole 2 GiB back from the emulated target takes minutes; the other units are the
        // very units of block.bin, shared, which no write touched)
        var local = Path.Combine(_gw.WorkDir, "block.local");
        var blockHash = FileServiceKit.WritePseudoRandomFile(local, block, seed: 7);
        var blockBytes = await File.ReadAllBytesAsync(local);
        File.Delete(local);
        long segment = at2 / block * block;
        patch.CopyTo(blockBytes, (int)(at2 - segment));
        var patchedHash = Convert.ToHexStringLower(SHA256.HashData(blockBytes));
        async Task<string> RangeHash(string name, long offset)
        {
            var h = await _gw.SmbOpAsync("sha", "lun1", name, offset.ToString(CultureInfo.InvariantCulture), block.ToString(CultureInfo.InvariantCulture));
            Assert.Equal(block, h.GetProperty("length").GetInt64());
            return h.GetProperty("sha256").GetString()!;
        }
        Assert.Equal(blockHash, await RangeHash("big.bin", segment));            // the source: unchanged
        Assert.Equal(patchedHash, await RangeHash("big-clone.bin", segment));    // the clone: the write
        Assert.Equal(blockHash, await RangeHash("big-clone.bin", segment + block)); // the clone elsewhere: still shared data
        Assert.Equal(blockHash, await RangeHash("block.bin", 0));
    }
}
