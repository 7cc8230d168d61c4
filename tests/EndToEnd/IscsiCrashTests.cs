using System.Globalization;
using System.Text.RegularExpressions;
using SmbCopy.EndToEnd.Tests.Infrastructure;

namespace SmbCopy.EndToEnd.Tests;

/// <summary>
/// Issue 6, acceptance 4: the gateway process is SIGKILLed during a large write and during a copy, and restarted on
/// the same LUN regions and metadata files. Each time the volumes mount, the mount-time consistency check (no unit
/// both free and in use, reference counts equal to the map, leaks and orphans reclaimed) logs "no problems", and every
/// file closed before the kill reads back with its hash. Shares: <c>crash</c> on LUN 0 (768 MiB–1 GiB; copies into it
/// go by READ/WRITE, so a 96 MiB copy lasts long enough to be killed half way) and <c>crashsrc</c> on LUN 1 (768 MiB–1 GiB).
/// </summary>
[Collection(IscsiCollection.Name)]
public sealed partial class IscsiCrashTests(IscsiRig rig, ITestOutputHelper output) : IAsyncLifetime
{
    private const long MiB = IscsiGateway.MiB;
    private IscsiGateway _gw = null!;

    public async Task InitializeAsync()
    {
        _gw = new IscsiGateway(rig, [new IscsiShare("crash", 0, 768, 256, ExtendedCopy: false), new IscsiShare("crashsrc", 1, 768, 256)]);
        await _gw.StartAsync(format: true);
    }

    public async Task DisposeAsync() => await _gw.DisposeAsync();

    /// <summary>The consistency check lines of the current gateway process, one per share, each "no problems".</summary>
    private void AssertMountChecksClean(string when)
    {
        var lines = CheckLine().Matches(_gw.Process.Output).Select(m => m.Value).ToList();
        output.WriteLine($"{when}:\n  " + string.Join("\n  ", lines));
        Assert.True(lines.Count >= 2 && lines.Any(l => l.Contains("crash:", StringComparison.Ordinal))
                && lines.Any(l => l.Contains("crashsrc:", StringComparison.Ordinal)),
            $"{when}: a consistency check line per share\n{_gw.OutputTail()}");
        Assert.True(lines.All(l => l.EndsWith("no problems", StringComparison.Ordinal)), $"{when}: the checks found nothing wrong:\n" + string.Join('\n', lines));
    }

    private async Task AssertHashesAsync(Dictionary<(string Share, string Name), string> files, string when)
    {
        foreach (var ((share, name), hash) in files)
            Assert.True(hash == await _gw.HashAsync(share, name), $"{when}: {share}\\{name} has its hash");
    }

    /// <summary>Waits until <paramref name="progress"/> (from /metrics) reaches <paramref name="atLeast"/> while
    /// <paramref name="client"/> runs; false when the client finished first.</summary>
    private async Task<bool> WaitForProgressAsync(Task client, Func<Dictionary<string, double>, double> progress, double atLeast)
    {
        while (!client.IsCompleted)
        {
            if (progress(await _gw.MetricsAsync()) >= atLeast) return true;
            await Task.Delay(50);
        }
        return false;
    }

    [Fact]
    public async Task Sigkill_during_a_large_write_and_during_a_copy_leaves_a_consistent_volume_and_closed_files_intact()
    {
        var files = new Dictionary<(string, string), string>();
        for (int i = 0; i < 3; i++) files[("crash", $"closed{i}.bin")] = await _gw.PutAsync("crash", $"closed{i}.bin", 8 * MiB + i * 1000, (ulong)(20 + i));
        files[("crashsrc", "src.bin")] = await _gw.PutAsync("crashsrc", "src.bin", 96 * MiB, 30);
        AssertMountChecksClean("first start");

        // 1. kill during a 96 MiB write (smbclient put), once 16 MiB have gone out to the target
        var local = Path.Combine(_gw.WorkDir, "big.local");
        FileServiceKit.WritePseudoRandomFile(local, 96 * MiB, seed: 31);
        var baseline = IscsiGateway.Sum(await _gw.MetricsAsync(), "smbcopy_iscsi_bytes_total", "direction=out");
        var put = _gw.SmbClientAsync("crash", $"put {local} big.bin", TimeSpan.FromSeconds(300));
        bool midWrite = await WaitForProgressAsync(put, m => IscsiGateway.Sum(m, "smbcopy_iscsi_bytes_total", "direction=out") - baseline, 16 * MiB);
        await _gw.KillAsync();
        var putResult = await put;
        output.WriteLine($"put killed: {putResult.Output.Trim().Split('\n').LastOrDefault()}");
        Assert.True(midWrite, $"the write was still running when the gateway was killed\n{putResult}");

        await _gw.StartAsync(format: false);
        AssertMountChecksClean("after the kill during a write");
        await AssertHashesAsync(files, "after the kill during a write");
        var ls = await _gw.SmbClientAsync("crash", "ls");
        output.WriteLine(ls.StdOut);
        Assert.True(ls.ExitCode == 0, $"the share lists\n{ls}");
        var del = await _gw.SmbClientAsync("crash", "del big.bin"); // what the killed write left (any length) goes
        output.WriteLine($"del big.bin: exit {del.ExitCode} {del.Output.Trim()}");

        // 2. kill during a 96 MiB copy-chunk from crashsrc into crash (READ/WRITE through the gateway), once 8 MiB are copied
        var before = await _gw.MetricsAsync();
        var copy = _gw.SmbOpRawAsync("copychunk", "crashsrc", "src.bin", "crash", "copy.bin", (96 * MiB).ToString(CultureInfo.InvariantCulture));
        bool midCopy = await WaitForProgressAsync(copy, m => IscsiGateway.Sum(m, "smbcopy_iscsi_copy_bytes_total", "share=crash", "method=read_write")
            - IscsiGateway.Sum(before, "smbcopy_iscsi_copy_bytes_total", "share=crash", "method=read_write"), 8 * MiB);
        await _gw.KillAsync();
        var copyResult = await copy;
        output.WriteLine($"copy killed: {copyResult.Output.Trim().Split('\n').LastOrDefault()}");
        Assert.True(midCopy && copyResult.ExitCode != 0, $"the copy was still running when the gateway was killed\n{copyResult}");

        await _gw.StartAsync(format: false);
        AssertMountChecksClean("after the kill during a copy");
        await AssertHashesAsync(files, "after the kill during a copy");
        // what the killed copy committed (whole chunks) is the source's bytes, not garbage from uncommitted units
        var partial = await _gw.SmbOpAsync("sha", "crash", "copy.bin", "0", (96 * MiB).ToString(CultureInfo.InvariantCulture));
        long copied = partial.GetProperty("length").GetInt64();
        var prefix = await _gw.SmbOpAsync("sha", "crashsrc", "src.bin", "0", copied.ToString(CultureInfo.InvariantCulture));
        output.WriteLine($"the killed copy left {copied} bytes");
        Assert.True(copied < 96 * MiB, $"the copy did not finish ({copied} bytes)");
        Assert.Equal(prefix.GetProperty("sha256").GetString(), partial.GetProperty("sha256").GetString());

        // the volume goes on working: a new file, the old ones untouched by its allocation
        files[("crash", "after.bin")] = await _gw.PutAsync("crash", "after.bin", 32 * MiB, 40);
        await AssertHashesAsync(files, "after a write following the restarts");
    }

    [GeneratedRegex(@"iSCSI volume \S+: consistency check: [^\r\n]*")]
    private static partial Regex CheckLine();
}
