using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using SmbCopy.EndToEnd.Tests.Infrastructure;
using Xunit.Sdk;

namespace SmbCopy.EndToEnd.Tests;

/// <summary>
/// The LIO target (tests/rigs/lio-iscsi-vm, in a qemu VM, with EXTENDED COPY) for the iSCSI end-to-end tests: the one
/// tests/run.sh started (SMBCOPY_ISCSI_PORTAL, LUNs 0 and 1 of 1 GiB), else one started here for this collection.
/// Storage.Tests use the same LUNs before this project runs, so every gateway here formats its shares on first start
/// (<c>Format=true</c>) and never depends on what is on the LUNs.
/// </summary>
public sealed class IscsiRig : IAsyncLifetime
{
    private string? _stateDir;

    public string Portal { get; private set; } = "";
    public string Iqn { get; private set; } = "iqn.2003-01.org.linux-iscsi.gateway:target";

    public async Task InitializeAsync()
    {
        if (Environment.GetEnvironmentVariable("SMBCOPY_ISCSI_PORTAL") is { Length: > 0 } portal)
        {
            Portal = portal;
            if (Environment.GetEnvironmentVariable("SMBCOPY_ISCSI_IQN") is { Length: > 0 } iqn) Iqn = iqn;
            return;
        }
        _stateDir = Directory.CreateTempSubdirectory("smbcopy-e2e-lio-").FullName;
        int port = GatewayFixture.FreePort();
        var r = await ProcessRunner.RunAsync("bash", [RepoPaths.Path("tests", "rigs", "lio-iscsi-vm", "target-start.sh")], TimeSpan.FromMinutes(15),
            new Dictionary<string, string>
            {
                ["ISCSI_STATE_DIR"] = _stateDir, ["ISCSI_PORT"] = port.ToString(CultureInfo.InvariantCulture), ["ISCSI_LUN_SIZE"] = "1G",
                ["ISCSI_TARGET_KIND"] = "lio",
            });
        if (r.ExitCode != 0)
        {
            await DisposeAsync();
            throw new InvalidOperationException($"tests/rigs/lio-iscsi-vm/target-start.sh failed:\n{r}");
        }
        Portal = $"127.0.0.1:{port}";
    }

    public async Task DisposeAsync()
    {
        if (_stateDir is null) return;
        await ProcessRunner.RunAsync("bash", [RepoPaths.Path("tests", "rigs", "lio-iscsi-vm", "target-stop.sh")], TimeSpan.FromMinutes(1),
            new Dictionary<string, string> { ["ISCSI_STATE_DIR"] = _stateDir });
        try { Directory.Delete(_stateDir, recursive: true); } catch (IOException) { }
        _stateDir = null;
    }
}

[CollectionDefinition(Name)]
public sealed class IscsiCollection : ICollectionFixture<IscsiRig>
{
    public const string Name = "iscsi";
}

/// <summary>One share of an iSCSI gateway: a region of a LUN (blocks of 512 bytes).</summary>
public sealed record IscsiShare(string Name, int Lun, long FirstMiB, long MiB, bool ExtendedCopy = true);

/// <summary>
/// A gateway process with Iscsi shares on the rig, its metadata in a work directory: started (formatting the shares
/// the first time), SIGKILLed, restarted on the same metadata. Helpers for smbclient, tests/EndToEnd/IscsiSmb.py
/// (impacket: copy-chunk, duplicate extents) and the smbcopy_* counters of /metrics.
/// </summary>
public sealed partial class IscsiGateway(IscsiRig rig, IReadOnlyList<IscsiShare> shares) : IAsyncDisposable
{
    public const long MiB = 1L << 20;
    private GatewayProcess? _process;
    private readonly List<string> _previousOutputs = [];

    public string WorkDir { get; } = Directory.CreateTempSubdirectory("smbcopy-e2e-iscsi-").FullName;
    public string User => "alice";
    public string Password { get; } = "Pw" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)) + "X9";
    public int SmbPort { get; private set; }
    public int HttpPort { get; private set; }
    public GatewayProcess Process => _process ?? throw new InvalidOperationException("not started");

    public string OutputTail(int lines = 80)
    {
        var all = (_process?.Output ?? "").Split('\n');
        return "--- gateway output (last lines) ---\n" + string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    /// <summary>Output of the processes before a kill, and of the current one.</summary>
    public string AllOutput => string.Join("\n--- restart ---\n", [.. _previousOutputs, _process?.Output ?? ""]);

    /// <summary>Starts the gateway and waits until every share's volume is mounted (/healthz/ready).</summary>
    public async Task StartAsync(bool format)
    {
        if (SmbPort == 0)
        {
            SmbPort = GatewayFixture.FreePort();
            HttpPort = GatewayFixture.FreePort();
        }
        var args = new List<string>
        {
            "--SmbCopy:Smb:Address=127.0.0.1", $"--SmbCopy:Smb:Port={SmbPort}",
            "--SmbCopy:Http:Address=127.0.0.1", $"--SmbCopy:Http:Port={HttpPort}",
            $"--SmbCopy:Users:0:Name={User}", $"--SmbCopy:Users:0:NtHash={NtHash.Hex(Password)}",
            $"--SmbCopy:StateDirectory={Path.Combine(WorkDir, "state")}",
        };
        for (int i = 0; i < shares.Count; i++)
        {
            var s = shares[i];
            string k = $"--SmbCopy:Shares:{i}:";
            args.AddRange([k + "Name=" + s.Name, k + "Driver=Iscsi", k + "Portal=" + rig.Portal, k + "Target=" + rig.Iqn,
                k + "Lun=" + s.Lun.ToString(CultureInfo.InvariantCulture), k + "Metadata=" + Path.Combine(WorkDir, s.Name + ".db"),
                k + "FirstLba=" + (s.FirstMiB * MiB / 512).ToString(CultureInfo.InvariantCulture),
                k + "Blocks=" + (s.MiB * MiB / 512).ToString(CultureInfo.InvariantCulture),
                k + "ExtendedCopy=" + (s.ExtendedCopy ? "true" : "false"), k + "Format=" + (format ? "true" : "false")]);
        }
        _process = GatewayProcess.Start(WorkDir, args);
        await _process.WaitUntilReadyAsync(async () =>
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            return (await http.GetAsync($"http://127.0.0.1:{HttpPort}/healthz/ready")).IsSuccessStatusCode;
        }, "iSCSI gateway", TimeSpan.FromSeconds(120));
    }

    /// <summary>SIGKILL: no shutdown, no unmount, no checkpoint — as a crash.</summary>
    public async Task KillAsync()
    {
        var p = Process;
        using (var kill = System.Diagnostics.Process.Start("kill", ["-KILL", p.Id.ToString(CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync();
        var clock = Stopwatch.StartNew();
        while (!p.HasExited && clock.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(50);
        Assert.True(p.HasExited, "the gateway died of SIGKILL");
        _previousOutputs.Add(p.Output);
        await p.DisposeAsync();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null) await _process.DisposeAsync();
        try { Directory.Delete(WorkDir, recursive: true); } catch (IOException) { }
    }

    public Task<ProcessResult> SmbClientAsync(string share, string commands, TimeSpan? timeout = null) =>
        ProcessRunner.RunAsync("smbclient",
        [
            "--configfile=/dev/null", "-p", SmbPort.ToString(CultureInfo.InvariantCulture), $"//127.0.0.1/{share}",
            "-U", $"{User}%{Password}", "-m", "SMB3_11", "-c", commands,
        ], timeout ?? TimeSpan.FromSeconds(300), workingDirectory: WorkDir);

    /// <summary>Uploads a pseudo-random file (smbclient put); returns its SHA-256.</summary>
    public async Task<string> PutAsync(string share, string name, long size, ulong seed)
    {
        var local = Path.Combine(WorkDir, "put-" + name);
        var hash = FileServiceKit.WritePseudoRandomFile(local, size, seed);
        var r = await SmbClientAsync(share, $"put {local} {name}");
        File.Delete(local);
        Assert.True(r.ExitCode == 0 && !r.Output.Contains("NT_STATUS_", StringComparison.Ordinal), $"smbclient put {name}\n{r}\n{OutputTail()}");
        return hash;
    }

    /// <summary>SHA-256 of a file read back through the gateway (smbclient get).</summary>
    public async Task<string> HashAsync(string share, string name)
    {
        var local = Path.Combine(WorkDir, "get-" + Guid.NewGuid().ToString("N"));
        var r = await SmbClientAsync(share, $"get {name} {local}");
        Assert.True(r.ExitCode == 0 && File.Exists(local), $"smbclient get {name}\n{r}\n{OutputTail()}");
        var hash = FileServiceKit.Sha256File(local);
        File.Delete(local);
        return hash;
    }

    /// <summary>tests/EndToEnd/IscsiSmb.py (impacket): one operation, its JSON answer.</summary>
    public async Task<JsonElement> SmbOpAsync(params string[] args)
    {
        var r = await SmbOpRawAsync(args);
        var line = r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "{}";
        if (r.ExitCode != 0) throw new XunitException($"IscsiSmb.py {string.Join(' ', args)}: exit {r.ExitCode}\n{r}\n{OutputTail()}");
        return JsonDocument.Parse(line).RootElement;
    }

    public Task<ProcessResult> SmbOpRawAsync(params string[] args) =>
        ProcessRunner.RunAsync(GatewayFixture.Python,
            [RepoPaths.Path("tests", "EndToEnd", "IscsiSmb.py"), "--port", SmbPort.ToString(CultureInfo.InvariantCulture), "--user", User,
                "--password", Password, .. args], TimeSpan.FromSeconds(600));

    /// <summary>Every smbcopy_* sample of /metrics, keyed by name and its labels ("name{a=x,b=y}", labels sorted).</summary>
    public async Task<Dictionary<string, double>> MetricsAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var text = await http.GetStringAsync($"http://127.0.0.1:{HttpPort}/metrics");
        var values = new Dictionary<string, double>();
        foreach (Match m in MetricLine().Matches(text))
        {
            var labels = LabelPair().Matches(m.Groups["labels"].Value).Select(l => $"{l.Groups[1].Value}={l.Groups[2].Value}")
                .Where(l => !l.StartsWith("otel_", StringComparison.Ordinal)).Order(StringComparer.Ordinal);
            var key = $"{m.Groups["name"].Value}{{{string.Join(',', labels)}}}";
            values[key] = values.GetValueOrDefault(key) + double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
        }
        return values;
    }

    /// <summary>The sum of the samples of <paramref name="name"/> whose labels include every one of <paramref name="labels"/>.</summary>
    public static double Sum(Dictionary<string, double> metrics, string name, params string[] labels) =>
        metrics.Where(kv => kv.Key.StartsWith(name + "{", StringComparison.Ordinal)
                && labels.All(l => kv.Key[(name.Length + 1)..^1].Split(',').Contains(l)))
            .Sum(kv => kv.Value);

    /// <summary>Polls /metrics (the exporter caches a scrape briefly) until <paramref name="done"/> holds or 15 s passed.</summary>
    public async Task<Dictionary<string, double>> MetricsWhenAsync(Func<Dictionary<string, double>, bool> done)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var m = await MetricsAsync();
            if (done(m) || clock.Elapsed > TimeSpan.FromSeconds(15)) return m;
            await Task.Delay(200);
        }
    }

    public static string Describe(Dictionary<string, double> metrics, string prefix = "smbcopy_iscsi") =>
        string.Join('\n', metrics.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => $"{kv.Key} {kv.Value}"));

    [GeneratedRegex(@"^(?<name>smbcopy_\w+)\{(?<labels>[^}]*)\} (?<value>\S+)", RegexOptions.Multiline)]
    private static partial Regex MetricLine();

    [GeneratedRegex("(\\w+)=\"([^\"]*)\"")]
    private static partial Regex LabelPair();
}
