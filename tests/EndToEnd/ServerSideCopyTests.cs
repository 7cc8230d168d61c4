using System.Text.RegularExpressions;
using SmbCopy.EndToEnd.Tests.Infrastructure;
using Xunit.Sdk;

namespace SmbCopy.EndToEnd.Tests;

/// <summary>
/// Issue 4's acceptance checks (server-side copy) against one gateway on loop-mounted btrfs, xfs (reflink) and
/// ext4 (<see cref="ServerSideCopyGateway"/>): smbtorture's copy-chunk / duplicate-extents tests, smbclient scopy of
/// 1 GiB as a clone, ODX and DUPLICATE_EXTENTS_TO_FILE_EX with impacket (tests/e2e-py/srvcopy_e2e.py), and the copy
/// method per share on /metrics. In the server collection so that it never runs beside the other heavy tests.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed partial class ServerSideCopyTests(ServerSideCopyGateway gateway, ITestOutputHelper output) : IClassFixture<ServerSideCopyGateway>
{
    private const long GiB = 1L << 30;

    /// <summary>Tests that skip themselves on a server like ours: compressed files (FSCTL_SET_COMPRESSION is not
    /// offered) and sparse_copy_chunk (skips unless the share reports sparse support the way it wants).</summary>
    private static readonly HashSet<string> MaySkip = ["dup_extents_compressed_src", "dup_extents_compressed_dest", "sparse_copy_chunk"];

    /// <summary>
    /// smb2.ioctl's resume-key, copy_chunk_*, sparse_copy_chunk and dup_extents_* tests, one smbtorture run per share.
    /// The names come from <c>smbtorture --list smb2.ioctl</c>, so a new copy_chunk_ test is picked up. Also
    /// "copy-chunk streams" (copy-chunk between named streams) and the smb2.ioctl-on-stream suite (FSCTLs on a stream handle).
    /// </summary>
    [Theory]
    [InlineData("btrfs")]
    [InlineData("xfs")]
    public async Task SmbTortureCopyChunkAndDupExtentsPass(string share)
    {
        var list = await ProcessRunner.RunAsync("smbtorture", ["--list", "smb2.ioctl"], TimeSpan.FromSeconds(60));
        var names = TortureListLine().Matches(list.StdOut).Select(m => m.Groups[1].Value).Distinct().ToList();
        Assert.Contains("smb2.ioctl.copy-chunk streams.copy-chunk streams", list.StdOut);
        names.Add("copy-chunk streams");
        Assert.True(names.Count >= 30 && names.Contains("req_resume_key") && names.Contains("dup_extents_simple"),
            $"smbtorture --list smb2.ioctl names the copy tests (found {names.Count}: {string.Join(' ', names)})\n{list}");

        var r = await ProcessRunner.RunAsync("smbtorture",
        [
            $"//127.0.0.1/{share}", "-p", gateway.SmbPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-U", $"{gateway.User}%{gateway.Password}", "--configfile=/dev/null",
            // copy_chunk_across_shares*: the second share, on the same file system
            $"--option=torture:share2={(share == "btrfs" ? "btrfs2" : share)}",
            .. names.Select(n => "smb2.ioctl." + n),
            "smb2.ioctl-on-stream",
        ], TimeSpan.FromSeconds(180));
        names.Add("ioctl-on-stream");
        output.WriteLine(r.ToString());

        var results = TortureResultLine().Matches(r.StdOut).ToDictionary(m => m.Groups[2].Value, m => m.Groups[1].Value);
        var bad = new List<string>();
        foreach (var n in names)
        {
            var result = results.GetValueOrDefault(n, "no result");
            if (result == "success" || (result == "skip" && MaySkip.Contains(n)))
            {
                continue;
            }
            bad.Add($"{n}: {result}");
        }
        output.WriteLine($"{share}: {names.Count - bad.Count} of {names.Count} as expected");
        if (bad.Count > 0 || r.TimedOut)
        {
            throw new XunitException($"smbtorture on share {share}: {bad.Count} of {names.Count} tests failed"
                + (r.TimedOut ? " (smbtorture timed out)" : "") + ":\n  " + string.Join("\n  ", bad)
                + $"\n{r}\n{gateway.OutputTail()}");
        }
    }

    /// <summary>
    /// smbclient scopy of 1 GiB (copy-chunk) on a reflink file system: an identical file whose every extent is shared,
    /// and 1 GiB more "clone" bytes on /metrics for the share. smbclient falls back to a client-side copy without a word
    /// when the server refuses, so the metric is what proves the copy was a clone.
    /// </summary>
    [Theory]
    [InlineData("btrfs")]
    [InlineData("xfs")]
    public async Task ScopyOfOneGiBIsACloneWithSharedExtents(string share)
    {
        var dir = gateway.SharePath(share);
        var src = Path.Combine(dir, "scopy-src.bin");
        var dst = Path.Combine(dir, "scopy-dst.bin");
        var hash = FileServiceKit.WritePseudoRandomFile(src, GiB, seed: 4);
        File.Delete(dst);
        var key = ("smbcopy_copy_bytes_total", share, "clone", "");
        var before = await gateway.MetricsAsync();

        var r = await gateway.SmbClientAsync(share, "scopy scopy-src.bin scopy-dst.bin", TimeSpan.FromSeconds(180));
        output.WriteLine(r.ToString());
        Assert.True(r.ExitCode == 0 && !r.Output.Contains("NT_STATUS_", StringComparison.Ordinal), $"smbclient scopy succeeded\n{r}\n{gateway.OutputTail()}");

        var after = await gateway.MetricsWhenAsync(m => m.GetValueOrDefault(key) - before.GetValueOrDefault(key) >= GiB);
        var cloned = after.GetValueOrDefault(key) - before.GetValueOrDefault(key);
        Assert.True(File.Exists(dst) && new FileInfo(dst).Length == GiB, $"{dst} is 1 GiB\n{r}");
        var dstHash = FileServiceKit.Sha256File(dst);
        Assert.True(dstHash == hash, $"destination identical: sha256 {dstHash}, source {hash}");

        var frag = await ProcessRunner.RunAsync("filefrag", ["-v", dst], TimeSpan.FromSeconds(60));
        output.WriteLine(frag.ToString());
        var extents = frag.StdOut.Split('\n').Where(l => ExtentRow().IsMatch(l)).ToList();
        var notShared = extents.Where(l => !l.Contains("shared", StringComparison.Ordinal)).ToList();
        Assert.True(frag.ExitCode == 0 && extents.Count > 0 && notShared.Count == 0,
            $"filefrag -v: every extent of the destination shared ({extents.Count - notShared.Count} of {extents.Count}); not shared:\n"
            + string.Join('\n', notShared.Take(10)) + $"\n{frag}");

        Assert.True(cloned == GiB, $"/metrics: smbcopy_copy_bytes_total{{share={share},method=clone}} grew by {cloned}, want {GiB} "
            + $"(smbclient copies client-side when the server refuses)\n{ServerSideCopyGateway.Describe(after)}\n{gateway.OutputTail()}");
        File.Delete(dst);
        File.Delete(src);
    }

    /// <summary>
    /// impacket (tests/e2e-py/srvcopy_e2e.py --only odx,dup): OFFLOAD_READ on btrfs, OFFLOAD_WRITE on btrfs2 and ext4,
    /// identical; the token refused (STATUS_INVALID_TOKEN) once its source range is overwritten; DUPLICATE_EXTENTS_TO_FILE_EX
    /// with and without SOURCE_ATOMIC on btrfs and xfs (extents shared), atomic on ext4 refused with the destination unchanged.
    /// </summary>
    [Fact]
    public async Task ImpacketOffloadAndDuplicateExtentsEx()
    {
        var r = await RunScriptAsync("odx,dup");
        AssertScript(r, expectedPasses: 10);
    }

    /// <summary>
    /// Copy-chunk inside the ext4 share goes by copy_file_range (method "offload"); from the btrfs share to the ext4 share
    /// it is done server-side by streaming (method "streamed") and /metrics records why the cheaper methods were not used
    /// (smbcopy_copy_fallbacks_total for the ext4 share). The script checks the hashes and the bytes per method.
    /// </summary>
    [Fact]
    public async Task CopyChunkOnExt4IsOffloadAndAcrossFileSystemsIsStreamedWithAFallbackReason()
    {
        var before = await gateway.MetricsAsync();
        var r = await RunScriptAsync("chunk");
        AssertScript(r, expectedPasses: 2);

        const long size = 8L << 20; // the script's copy-chunk size
        var offload = ("smbcopy_copy_bytes_total", "ext4", "offload", "");
        var streamed = ("smbcopy_copy_bytes_total", "ext4", "streamed", "");
        var after = await gateway.MetricsWhenAsync(m => m.GetValueOrDefault(streamed) - before.GetValueOrDefault(streamed) >= size);
        var metrics = ServerSideCopyGateway.Describe(after);
        Assert.True(after.GetValueOrDefault(offload) - before.GetValueOrDefault(offload) >= size,
            $"/metrics: offload bytes on ext4 grew by at least {size}\n{metrics}");
        Assert.True(after.GetValueOrDefault(streamed) - before.GetValueOrDefault(streamed) >= size,
            $"/metrics: streamed bytes on ext4 grew by at least {size}\n{metrics}");
        var fallbacks = after.Where(kv => kv.Key.Name == "smbcopy_copy_fallbacks_total" && kv.Key.Share == "ext4"
                && kv.Key.Reason.Length > 0 && kv.Key.Reason != "none" && kv.Value > before.GetValueOrDefault(kv.Key))
            .Select(kv => $"{kv.Key.Method}:{kv.Key.Reason}").ToList();
        output.WriteLine("fallbacks recorded on ext4: " + string.Join(", ", fallbacks));
        // btrfs -> ext4: no clone across file systems, and copy_file_range refuses across devices
        Assert.True(fallbacks.Any(f => f.StartsWith("offload:", StringComparison.Ordinal)),
            $"/metrics: smbcopy_copy_fallbacks_total{{share=ext4,method=offload,reason=...}} grew (the streamed copy says why)\n{metrics}");
    }

    private async Task<ProcessResult> RunScriptAsync(string only)
    {
        var args = new List<string>
        {
            RepoPaths.Path("tests", "e2e-py", "srvcopy_e2e.py"),
            "--port", gateway.SmbPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--http-port", gateway.HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--user", gateway.User, "--password", gateway.Password, "--only", only,
        };
        foreach (var s in ServerSideCopyGateway.Shares)
        {
            args.Add("--share");
            args.Add($"{s}={gateway.SharePath(s)}");
        }
        var r = await ProcessRunner.RunAsync(GatewayFixture.Python, args, TimeSpan.FromSeconds(150));
        output.WriteLine(r.ToString());
        return r;
    }

    private void AssertScript(ProcessResult r, int expectedPasses)
    {
        var lines = r.StdOut.Split('\n');
        var passes = lines.Count(l => l.StartsWith("PASS ", StringComparison.Ordinal));
        var failures = lines.Where(l => l.StartsWith("FAIL ", StringComparison.Ordinal)).ToList();
        if (r.ExitCode != 0 || failures.Count > 0 || passes != expectedPasses)
        {
            throw new XunitException($"srvcopy_e2e.py: exit {r.ExitCode}, {passes} of {expectedPasses} checks passed; failed:\n  "
                + string.Join("\n  ", failures) + $"\n{r}\n{gateway.OutputTail()}");
        }
    }

    [GeneratedRegex(@"^smb2\.ioctl\.(req_resume_key|req_two_resume_keys|copy_chunk_\w+|sparse_copy_chunk|dup_extents_\w+)\.\1\s*$", RegexOptions.Multiline)]
    private static partial Regex TortureListLine();

    [GeneratedRegex(@"^(success|failure|error|skip|xfail|todo): ([^\[\r\n]*[^\[\s])", RegexOptions.Multiline)]
    private static partial Regex TortureResultLine();

    [GeneratedRegex(@"^\s*\d+:")]
    private static partial Regex ExtentRow();
}
