using System.Globalization;
using SmbCopy.EndToEnd.Tests.Infrastructure;
using Xunit.Sdk;

namespace SmbCopy.EndToEnd.Tests;

/// <summary>
/// Issue 5's acceptance checks through SMB, against a gateway whose shares live on the kernel NFSv4.2 server in the
/// qemu VM (<see cref="NfsGateway"/>): smbclient scopy of 64 MiB offloaded (NFS COPY / CLONE, nothing streamed),
/// DUPLICATE_EXTENTS_TO_FILE as CLONE on the btrfs export and cleanly refused on ext4, copy-chunk NFS → local and back
/// (streamed), and an nfsd restart in the middle of copy-chunk traffic (tests/EndToEnd/NfsSmbChecks.py, impacket).
/// In the server collection so that it never runs beside the other heavy tests.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class NfsShareTests(NfsGateway gateway, ITestOutputHelper output) : IClassFixture<NfsGateway>
{
    private const long MiB = 1L << 20;

    /// <summary>
    /// Acceptance 2: a 64 MiB copy-chunk (smbclient scopy) on an NFS share happens on the NFS server. On the ext4
    /// export the copy engine's method is "offload" (the driver's range copy = NFS COPY: ext4 cannot clone); on the btrfs
    /// export it is "clone" (NFS CLONE, preferred by the engine) or "offload". Either way /metrics shows the 64 MiB as
    /// moved by the server and zero bytes streamed through the gateway for that share, and the destination read back
    /// over SMB has the source's SHA-256. smbclient silently copies client-side when the server refuses, which would
    /// show as no offload bytes.
    /// </summary>
    [Theory]
    [InlineData("nfsext4", new[] { "offload" })]
    [InlineData("nfs", new[] { "clone", "offload" })]
    public async Task ScopyOf64MiBOnAnNfsShareIsDoneByTheNfsServer(string share, string[] methods)
    {
        const long size = 64 * MiB;
        var local = Path.Combine(gateway.WorkDir, $"scopy-{share}.bin");
        var back = Path.Combine(gateway.WorkDir, $"scopy-{share}-back.bin");
        var hash = FileServiceKit.WritePseudoRandomFile(local, size, seed: 55);
        var src = $"{gateway.Prefix}-scopy-src.bin";
        var dst = $"{gateway.Prefix}-scopy-dst.bin";

        var put = await gateway.SmbClientAsync(share, $"put {local} {src}", TimeSpan.FromMinutes(5));
        Assert.True(put.ExitCode == 0 && !put.Output.Contains("NT_STATUS_", StringComparison.Ordinal), $"put\n{put}\n{gateway.OutputTail()}");

        var before = await gateway.CopyBytesAsync();
        var scopy = await gateway.SmbClientAsync(share, $"scopy {src} {dst}", TimeSpan.FromMinutes(5));
        output.WriteLine(scopy.ToString());
        Assert.True(scopy.ExitCode == 0 && !scopy.Output.Contains("NT_STATUS_", StringComparison.Ordinal),
            $"smbclient scopy succeeded\n{scopy}\n{gateway.OutputTail()}");
        double Moved(Dictionary<(string Share, string Method), double> m) =>
            methods.Sum(x => m.GetValueOrDefault((share, x)) - before.GetValueOrDefault((share, x)));
        var after = await gateway.CopyBytesWhenAsync(m => Moved(m) >= size);
        var streamed = after.GetValueOrDefault((share, "streamed")) - before.GetValueOrDefault((share, "streamed"));
        output.WriteLine($"scopy of 64 MiB on {share}: {scopy.Elapsed.TotalSeconds:F2} s; "
            + string.Join(", ", new[] { "clone", "offload", "streamed" }.Select(x => $"{x} +{after.GetValueOrDefault((share, x)) - before.GetValueOrDefault((share, x)):0}")));

        var get = await gateway.SmbClientAsync(share, $"get {dst} {back}", TimeSpan.FromMinutes(5));
        Assert.True(get.ExitCode == 0 && File.Exists(back), $"get\n{get}");
        var backHash = FileServiceKit.Sha256File(back);
        Assert.True(backHash == hash, $"destination identical: sha256 {backHash}, source {hash}");
        Assert.True(Moved(after) == size && streamed == 0,
            $"/metrics on {share}: {string.Join('+', methods)} grew by {Moved(after)} (want {size}), streamed by {streamed} (want 0)\n"
            + $"{NfsGateway.Describe(after)}\n{gateway.OutputTail()}");

        await gateway.SmbClientAsync(share, $"del {src}; del {dst}", TimeSpan.FromMinutes(1));
        File.Delete(local);
        File.Delete(back);
    }

    /// <summary>
    /// Acceptance 2 (duplicate extents): FSCTL_DUPLICATE_EXTENTS_TO_FILE on the btrfs export's share becomes NFS CLONE
    /// (status 0, identical, /metrics "clone" +1 MiB, nothing streamed); on the ext4 export's share (no CLONE) it is
    /// answered with a clean refusal and the destination is unchanged.
    /// </summary>
    [Fact]
    public async Task DuplicateExtentsIsCloneOnBtrfsAndACleanRefusalOnExt4()
    {
        var r = await RunChecksAsync("dup");
        AssertChecks(r, 2);
    }

    /// <summary>
    /// Acceptance 4: copy-chunk from an NFS share to a local share and back, done on the server by streaming
    /// (/metrics "streamed" for each destination), identical both ways (16 MiB).
    /// </summary>
    [Fact]
    public async Task CopyChunkNfsToLocalAndBackIsStreamedOnTheServer()
    {
        var r = await RunChecksAsync("cross");
        AssertChecks(r, 2);
    }

    /// <summary>
    /// Acceptance 3: nfsd restarts (ctl.sh restart-nfsd: all NFSv4 state dropped, new grace period) while one SMB
    /// session runs 16 MiB copy-chunk requests on the ext4 export (NFS COPY moves the bytes): every response says
    /// exactly what its destination range now holds, nothing else changed, and the same session's next write, read and
    /// listing succeed. Then a new smbclient connection works on both NFS shares.
    /// </summary>
    [Fact]
    public async Task NfsdRestartDuringCopiesIsRecoveredAndReportsExactly()
    {
        var restart = $"{NfsGateway.Rig("ctl.sh")} --state {gateway.NfsStateOrThrow} restart-nfsd";
        var r = await RunChecksAsync("restart", "--restart-cmd", restart);
        AssertChecks(r, 2);
        // the gateway noticed: its NFS client made a new session (the first of each volume is "session 1")
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(gateway.Output, @"NFS \S+: session ([2-9]|\d\d+) ready"),
            $"the gateway logged a recovered NFS session\n{gateway.OutputTail()}");
        foreach (var share in new[] { "nfs", "nfsext4" })
        {
            var ls = await gateway.SmbClientAsync(share, "ls", TimeSpan.FromMinutes(3));
            Assert.True(ls.ExitCode == 0 && !ls.Output.Contains("NT_STATUS_", StringComparison.Ordinal), $"ls on {share} after the restart\n{ls}\n{gateway.OutputTail()}");
        }
    }

    private async Task<ProcessResult> RunChecksAsync(string only, params string[] extra)
    {
        var args = new List<string>
        {
            RepoPaths.Path("tests", "EndToEnd", "NfsSmbChecks.py"),
            "--port", gateway.SmbPort.ToString(CultureInfo.InvariantCulture),
            "--http-port", gateway.HttpPort.ToString(CultureInfo.InvariantCulture),
            "--user", gateway.User, "--password", gateway.Password,
            "--nfs", "nfs", "--nfs-ext4", "nfsext4", "--local", "local", "--local-dir", gateway.LocalDir,
            "--prefix", gateway.Prefix, "--only", only,
        };
        args.AddRange(extra);
        var r = await ProcessRunner.RunAsync(GatewayFixture.Python, args, TimeSpan.FromMinutes(8));
        output.WriteLine(r.ToString());
        return r;
    }

    private void AssertChecks(ProcessResult r, int expectedPasses)
    {
        var lines = r.StdOut.Split('\n');
        var passes = lines.Count(l => l.StartsWith("PASS ", StringComparison.Ordinal));
        var failures = lines.Where(l => l.StartsWith("FAIL ", StringComparison.Ordinal)).ToList();
        if (r.ExitCode != 0 || failures.Count > 0 || passes != expectedPasses)
        {
            throw new XunitException($"NfsSmbChecks.py: exit {r.ExitCode}, {passes} of {expectedPasses} checks passed; failed:\n  "
                + string.Join("\n  ", failures) + $"\n{r}\n{gateway.OutputTail()}");
        }
    }
}
