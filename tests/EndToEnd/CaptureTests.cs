using System.Diagnostics;
using SmbCopy.EndToEnd.Tests.Infrastructure;

namespace SmbCopy.EndToEnd.Tests;

/// <summary>
/// A packet capture of typical client traffic (every dialect, signing, each cipher, refusals, impacket),
/// decoded by tshark: the server must send nothing tshark finds malformed or flags as an expert error.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class CaptureTests(GatewayFixture server, ITestOutputHelper output)
{
    [Fact]
    public async Task TsharkFindsNoMalformedPacketOrExpertError()
    {
        var pcap = Path.Combine(server.WorkDir, "e2e.pcapng");
        var decodeAs = $"tcp.port=={server.Port},nbss"; // not 445: tell tshark the port carries NBSS/SMB2
        await using (var capture = await Capture.StartAsync(pcap, $"tcp port {server.Port}"))
        {
            var user = $"{server.User}%{server.Password}";
            var unc = $"//{server.Host}/{server.ShareName}";
            foreach (var d in new[] { "SMB3_11", "SMB3_02", "SMB3_00", "SMB2_10", "SMB2_02" })
            {
                Log(await server.SmbClientAsync(unc, "-U", user, "-m", d, $"--option=client min protocol={d}", "--client-protection=sign", "-c", "ls; mkdir cap-dir; rmdir cap-dir"));
            }
            foreach (var c in new[] { "aes-128-gcm", "aes-256-ccm" })
            {
                Log(await server.SmbClientAsync(unc, "-U", user, "-m", "SMB3_11", "--client-protection=encrypt", $"--option=client smb3 encryption algorithms={c}", "-c", "ls"));
            }
            Log(await server.SmbClientAsync("-L", $"//{server.Host}", "-U", user, "-m", "SMB3_11"));
            Log(await server.SmbClientAsync(unc, "-U", $"{server.User}%wrong", "-m", "SMB3_11", "-c", "ls"));
            Log(await server.SmbClientAsync($"//{server.Host}/no-such-share", "-U", user, "-m", "SMB3_11", "-c", "ls"));
            Log(await ImpacketTests.RunLogonAsync(server, "3.1.1", server.Password));
            Log(await ImpacketTests.RunLogonAsync(server, "3.0", server.Password));
        }

        var smb2 = await TsharkCheck.RunAsync(pcap, "-d", decodeAs, "-Y", "smb2", "-T", "fields", "-e", "frame.number");
        var frames = smb2.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        output.WriteLine($"{frames} SMB2 frames captured in {pcap}");
        Expect.That(frames >= 50, "the capture holds the SMB2 traffic of the clients above (>= 50 frames)", smb2, server);

        var expert = await TsharkCheck.RunAsync(pcap, "-d", decodeAs, "-q", "-z", "expert");
        output.WriteLine(expert.StdOut);
        var findings = await TsharkCheck.FindProblemsAsync(pcap, server.Port);
        Expect.Succeeded(findings.Tshark, server);
        foreach (var line in findings.Tolerated)
        {
            output.WriteLine($"tolerated (SPNEGO negHints, see docs/testing.md): frame {line}");
        }
        Expect.That(findings.Problems.Count == 0,
            $"no malformed frame and no expert error; found {findings.Problems.Count}:\n{string.Join('\n', findings.Problems.Take(20))}\n--- expert summary ---\n{expert.StdOut}",
            findings.Tshark, server);
    }

    private void Log(ProcessResult r) => output.WriteLine(r.ToString());

    /// <summary>dumpcap on lo with a capture filter; stopped with SIGINT so that it flushes the file.</summary>
    private sealed class Capture : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly List<string> _stderr = [];

        private Capture(string file, string filter)
        {
            var psi = new ProcessStartInfo("dumpcap") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in new[] { "-i", "lo", "-f", filter, "-w", file, "-q" })
            {
                psi.ArgumentList.Add(a);
            }
            _process = new Process { StartInfo = psi };
            _process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null) { return; }
                lock (_stderr) { _stderr.Add(e.Data); }
                if (e.Data.StartsWith("Capturing on", StringComparison.Ordinal)) { _started.TrySetResult(); }
            };
        }

        public static async Task<Capture> StartAsync(string file, string filter)
        {
            var c = new Capture(file, filter);
            c._process.Start();
            c._process.BeginErrorReadLine();
            c._process.BeginOutputReadLine();
            var done = await Task.WhenAny(c._started.Task, c._process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(20)));
            if (done != c._started.Task)
            {
                string err;
                lock (c._stderr) { err = string.Join('\n', c._stderr); }
                if (!c._process.HasExited) { c._process.Kill(); }
                throw new InvalidOperationException($"dumpcap did not start capturing on lo (root, or CAP_NET_RAW, is needed):\n{err}");
            }
            // 'Capturing on' comes just before the filter is attached: give the kernel a moment
            await Task.Delay(TimeSpan.FromSeconds(2));
            return c;
        }

        public async ValueTask DisposeAsync()
        {
            await Task.Delay(TimeSpan.FromMilliseconds(500)); // the last FIN/ACKs
            if (!_process.HasExited)
            {
                using var kill = Process.Start("kill", ["-INT", _process.Id.ToString()]);
                await kill.WaitForExitAsync();
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try { await _process.WaitForExitAsync(cts.Token); }
                catch (OperationCanceledException) { _process.Kill(); }
            }
            _process.Dispose();
        }
    }
}
