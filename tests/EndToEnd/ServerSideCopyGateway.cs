using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using SmbCopy.EndToEnd.Tests.Infrastructure;
using Xunit.Sdk;

namespace SmbCopy.EndToEnd.Tests;

/// <summary>
/// A gateway of its own for the server-side copy tests (issue 4), on real file systems: loop-mounted btrfs and
/// xfs (-m reflink=1) and ext4 images under a per-run temporary directory (needs root and loop devices, as CI has;
/// mkfs.btrfs / mkfs.xfs come from tests/install-deps.sh). Shares: <c>btrfs</c> and <c>btrfs2</c> (two directories
/// of the one btrfs, for the across-shares tests), <c>xfs</c>, <c>ext4</c>. Always the gateway, whatever
/// SMBCOPY_E2E_TARGET says: its /metrics (copy method per share) is part of what is checked.
/// </summary>
public sealed partial class ServerSideCopyGateway : IAsyncLifetime
{
    public static readonly string[] Shares = ["btrfs", "btrfs2", "xfs", "ext4"];

    private readonly IMessageSink _sink;
    private readonly List<string> _mounts = [];
    private GatewayProcess? _gateway;

    public ServerSideCopyGateway(IMessageSink sink)
    {
        _sink = sink;
        Password = "Pw" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)) + "X9";
        WorkDir = Directory.CreateTempSubdirectory("smbcopy-sscopy-").FullName;
    }

    public string User => "alice";
    public string Password { get; }
    public string WorkDir { get; }
    public int SmbPort { get; private set; }
    public int HttpPort { get; private set; }

    /// <summary>The local directory behind a share.</summary>
    public string SharePath(string share) => share switch
    {
        "btrfs" => Path.Combine(WorkDir, "btrfs", "a"),
        "btrfs2" => Path.Combine(WorkDir, "btrfs", "b"),
        "xfs" => Path.Combine(WorkDir, "xfs", "a"),
        "ext4" => Path.Combine(WorkDir, "ext4", "a"),
        _ => throw new ArgumentOutOfRangeException(nameof(share), share, null),
    };

    public string Output => _gateway?.Output ?? "";

    public string OutputTail(int lines = 60)
    {
        var all = Output.Split('\n');
        return "--- gateway output (last lines) ---\n" + string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    public async Task InitializeAsync()
    {
        try
        {
            await StartAsync();
        }
        catch
        {
            // a fixture whose initialization failed is not disposed: leave no mounts or process behind
            await DisposeAsync();
            throw;
        }
    }

    private async Task StartAsync()
    {
        GatewayProcess.Dll(); // fail early, before mounting anything, when the gateway is not built
        // 3 GiB sparse images: the 1 GiB scopy source plus its clone (shared extents) and the smaller test files.
        foreach (var (fs, mkfs) in new[]
                 {
                     ("btrfs", new[] { "mkfs.btrfs", "-q", "-f" }),
                     ("xfs", new[] { "mkfs.xfs", "-q", "-f", "-m", "reflink=1" }),
                     ("ext4", new[] { "mkfs.ext4", "-q", "-F" }),
                 })
        {
            var img = Path.Combine(WorkDir, fs + ".img");
            var mnt = Path.Combine(WorkDir, fs);
            Directory.CreateDirectory(mnt);
            using (var f = File.Create(img))
            {
                f.SetLength(3L << 30);
            }
            await Must(mkfs[0], [.. mkfs[1..], img], TimeSpan.FromSeconds(120));
            await Must("mount", ["-o", "loop", img, mnt], TimeSpan.FromSeconds(60));
            _mounts.Add(mnt);
            foreach (var sub in new[] { "a", "b" })
            {
                var dir = Path.Combine(mnt, sub);
                Directory.CreateDirectory(dir);
                File.SetUnixFileMode(dir, (UnixFileMode)0b111_111_111);
            }
        }

        SmbPort = GatewayFixture.FreePort();
        HttpPort = GatewayFixture.FreePort();
        var args = new List<string>
        {
            "--SmbCopy:Smb:Address=127.0.0.1", $"--SmbCopy:Smb:Port={SmbPort}",
            "--SmbCopy:Http:Address=127.0.0.1", $"--SmbCopy:Http:Port={HttpPort}",
            $"--SmbCopy:Users:0:Name={User}", $"--SmbCopy:Users:0:NtHash={NtHash.Hex(Password)}",
            $"--SmbCopy:StateDirectory={Path.Combine(WorkDir, "state")}",
        };
        for (var i = 0; i < Shares.Length; i++)
        {
            args.Add($"--SmbCopy:Shares:{i}:Name={Shares[i]}");
            args.Add($"--SmbCopy:Shares:{i}:Path={SharePath(Shares[i])}");
        }
        _gateway = GatewayProcess.Start(WorkDir, args);
        await _gateway.WaitUntilReadyAsync(async () => await GatewayProcess.HealthyAsync(HttpPort) && OperationsGateway.Accepts(SmbPort),
            "server-side copy gateway", TimeSpan.FromSeconds(60));
        Log($"server-side copy gateway pid {_gateway.Id}: SMB {SmbPort}, HTTP {HttpPort}, work dir {WorkDir}");
    }

    public async Task DisposeAsync()
    {
        if (_gateway is not null) await _gateway.DisposeAsync();
        foreach (var mnt in _mounts)
        {
            var r = await ProcessRunner.RunAsync("umount", [mnt], TimeSpan.FromSeconds(60));
            if (r.ExitCode != 0)
            {
                Log($"umount {mnt} failed ({r.Output.Trim()}); detaching lazily");
                await ProcessRunner.RunAsync("umount", ["-l", mnt], TimeSpan.FromSeconds(60));
            }
        }
        try { Directory.Delete(WorkDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>smbclient on SMB 3.1.1 against one share, one -c command string.</summary>
    public Task<ProcessResult> SmbClientAsync(string share, string commands, TimeSpan timeout) =>
        ProcessRunner.RunAsync("smbclient",
        [
            "--configfile=/dev/null", "-p", SmbPort.ToString(CultureInfo.InvariantCulture), $"//127.0.0.1/{share}",
            "-U", $"{User}%{Password}", "-m", "SMB3_11", "-c", commands,
        ], timeout);

    /// <summary>
    /// The smbcopy_copy_* counters of /metrics, keyed by metric name and the labels share, method and reason
    /// ("" when absent), e.g. ("smbcopy_copy_bytes_total", "btrfs", "clone", "").
    /// </summary>
    public async Task<Dictionary<(string Name, string Share, string Method, string Reason), double>> MetricsAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var text = await http.GetStringAsync($"http://127.0.0.1:{HttpPort}/metrics");
        var values = new Dictionary<(string, string, string, string), double>();
        foreach (Match m in MetricLine().Matches(text))
        {
            var labels = LabelPair().Matches(m.Groups["labels"].Value).ToDictionary(l => l.Groups[1].Value, l => l.Groups[2].Value);
            var key = (m.Groups["name"].Value, labels.GetValueOrDefault("share", ""), labels.GetValueOrDefault("method", ""),
                labels.GetValueOrDefault("reason", ""));
            values[key] = values.GetValueOrDefault(key) + double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
        }
        return values;
    }

    /// <summary>Polls /metrics (the exporter may cache a scrape for a moment) until <paramref name="done"/> holds or 15 s passed.</summary>
    public async Task<Dictionary<(string Name, string Share, string Method, string Reason), double>> MetricsWhenAsync(
        Func<Dictionary<(string Name, string Share, string Method, string Reason), double>, bool> done)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var m = await MetricsAsync();
            if (done(m) || sw.Elapsed > TimeSpan.FromSeconds(15))
            {
                return m;
            }
            await Task.Delay(250);
        }
    }

    public static string Describe(Dictionary<(string Name, string Share, string Method, string Reason), double> metrics) =>
        string.Join('\n', metrics.OrderBy(kv => kv.Key.ToString(), StringComparer.Ordinal)
            .Select(kv => $"{kv.Key.Name}{{share={kv.Key.Share},method={kv.Key.Method}{(kv.Key.Reason.Length > 0 ? ",reason=" + kv.Key.Reason : "")}}} {kv.Value}"));

    [GeneratedRegex(@"^(?<name>smbcopy_copy_\w+)\{(?<labels>[^}]*)\} (?<value>\S+)", RegexOptions.Multiline)]
    private static partial Regex MetricLine();

    [GeneratedRegex("(\\w+)=\"([^\"]*)\"")]
    private static partial Regex LabelPair();

    private async Task Must(string file, string[] args, TimeSpan timeout)
    {
        var r = await ProcessRunner.RunAsync(file, args, timeout);
        if (r.ExitCode != 0)
        {
            throw new InvalidOperationException($"server-side copy fixture setup failed (needs root, loop devices, btrfs-progs, xfsprogs):\n{r}");
        }
    }


    private void Log(string message) => _sink.OnMessage(new DiagnosticMessage("[e2e] " + message));
}
