using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using SmbCopy.EndToEnd.Tests.Infrastructure;
using Xunit.Sdk;

namespace SmbCopy.EndToEnd.Tests;

/// <summary>
/// A gateway of its own with shares on the NFSv4.2 test server (issue 5): the kernel nfsd in the qemu VM of
/// tests/rigs/nfs42-vm — the running one tests/run.sh started (SMBCOPY_NFS_PORT, SMBCOPY_NFS_STATE), else one started
/// here and stopped at the end. Shares: <c>nfs</c> (export "/", btrfs: CLONE and COPY), <c>nfsext4</c> (export "/ext4",
/// ext4: COPY, no CLONE) and <c>local</c> (a local directory, for copies across backends). Every file name a test
/// uses starts with <see cref="Prefix"/>, so runs sharing one VM never meet.
/// </summary>
public sealed partial class NfsGateway : IAsyncLifetime
{
    private readonly IMessageSink _sink;
    private GatewayProcess? _gateway;
    private string? _startedState;

    public NfsGateway(IMessageSink sink)
    {
        _sink = sink;
        Password = "Pw" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)) + "X9";
        WorkDir = Directory.CreateTempSubdirectory("smbcopy-nfs-e2e-").FullName;
        Prefix = "e2e" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
    }

    public string User => "alice";
    public string Password { get; }
    public string WorkDir { get; }
    public string Prefix { get; }
    public int SmbPort { get; private set; }
    public int HttpPort { get; private set; }
    public int NfsPort { get; private set; }
    public string? NfsState { get; private set; }

    /// <summary>The directory behind the <c>local</c> share.</summary>
    public string LocalDir => Path.Combine(WorkDir, "local");

    public string Output => _gateway?.Output ?? "";

    public string OutputTail(int lines = 80)
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
            await DisposeAsync();
            throw;
        }
    }

    private async Task StartAsync()
    {
        GatewayProcess.Dll();
        if (Environment.GetEnvironmentVariable("SMBCOPY_NFS_PORT") is { Length: > 0 } port)
        {
            NfsPort = int.Parse(port, CultureInfo.InvariantCulture);
            NfsState = Environment.GetEnvironmentVariable("SMBCOPY_NFS_STATE");
        }
        else
        {
            var state = Path.Combine(Path.GetTempPath(), $"smbcopy-nfs42-e2e-{Environment.ProcessId}");
            var r = await ProcessRunner.RunAsync(Rig("start.sh"), ["--state", state], TimeSpan.FromMinutes(15));
            if (r.ExitCode != 0)
            {
                throw new InvalidOperationException($"The NFS test server did not start:\n{r}");
            }
            _startedState = state;
            NfsState = state;
            NfsPort = int.Parse(r.StdOut.Trim().Split('\n')[^1], CultureInfo.InvariantCulture);
        }
        Directory.CreateDirectory(LocalDir);

        SmbPort = GatewayFixture.FreePort();
        HttpPort = GatewayFixture.FreePort();
        var nfsPort = NfsPort.ToString(CultureInfo.InvariantCulture);
        var args = new List<string>
        {
            "--SmbCopy:Smb:Address=127.0.0.1", $"--SmbCopy:Smb:Port={SmbPort}",
            "--SmbCopy:Http:Address=127.0.0.1", $"--SmbCopy:Http:Port={HttpPort}",
            $"--SmbCopy:Users:0:Name={User}", $"--SmbCopy:Users:0:NtHash={NtHash.Hex(Password)}",
            $"--SmbCopy:StateDirectory={Path.Combine(WorkDir, "state")}",
            // The README's NFS share, as configuration keys
            "--SmbCopy:Shares:0:Name=nfs", "--SmbCopy:Shares:0:Driver=Nfs", "--SmbCopy:Shares:0:Server=127.0.0.1",
            $"--SmbCopy:Shares:0:Port={nfsPort}", "--SmbCopy:Shares:0:Export=/", "--SmbCopy:Shares:0:Uid=0", "--SmbCopy:Shares:0:Gid=0",
            "--SmbCopy:Shares:1:Name=nfsext4", "--SmbCopy:Shares:1:Driver=Nfs", "--SmbCopy:Shares:1:Server=127.0.0.1",
            $"--SmbCopy:Shares:1:Port={nfsPort}", "--SmbCopy:Shares:1:Export=/ext4", "--SmbCopy:Shares:1:Uid=0", "--SmbCopy:Shares:1:Gid=0",
            "--SmbCopy:Shares:2:Name=local", $"--SmbCopy:Shares:2:Path={LocalDir}",
        };
        _gateway = GatewayProcess.Start(WorkDir, args);
        // /healthz/ready answers 200 once every share's backend answered: both NFS volumes are open.
        await _gateway.WaitUntilReadyAsync(async () => await ReadyAsync() && OperationsGateway.Accepts(SmbPort),
            "NFS gateway", TimeSpan.FromSeconds(120));
        Log($"NFS gateway pid {_gateway.Id}: SMB {SmbPort}, HTTP {HttpPort}, NFS server port {NfsPort} (state {NfsState}), prefix {Prefix}");
    }

    private async Task<bool> ReadyAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        return (await http.GetAsync($"http://127.0.0.1:{HttpPort.ToString(CultureInfo.InvariantCulture)}/healthz/ready")).IsSuccessStatusCode;
    }

    public async Task DisposeAsync()
    {
        if (_gateway is not null)
        {
            try
            {
                // leave nothing in the shared VM
                await SmbClientAsync("nfs", $"del {Prefix}*", TimeSpan.FromSeconds(60));
                await SmbClientAsync("nfsext4", $"del {Prefix}*", TimeSpan.FromSeconds(60));
            }
            catch (Exception e) when (e is InvalidOperationException or IOException)
            {
                Log("cleanup: " + e.Message);
            }
            await _gateway.DisposeAsync();
        }
        if (_startedState is not null)
        {
            await ProcessRunner.RunAsync(Rig("stop.sh"), ["--state", _startedState], TimeSpan.FromMinutes(1));
        }
        try { Directory.Delete(WorkDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>ctl.sh restart-nfsd: nfsd threads to 0 and back (every NFSv4 state and connection dropped, a new grace period).</summary>
    public async Task<ProcessResult> RestartNfsdAsync()
    {
        var r = await ProcessRunner.RunAsync(Rig("ctl.sh"), ["--state", NfsStateOrThrow, "restart-nfsd"], TimeSpan.FromMinutes(2));
        if (r.ExitCode != 0 || !r.StdOut.StartsWith("OK", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"restart-nfsd failed:\n{r}");
        }
        return r;
    }

    public string NfsStateOrThrow => NfsState ?? throw new InvalidOperationException(
        "restarting nfsd needs the rig's state directory: set SMBCOPY_NFS_STATE beside SMBCOPY_NFS_PORT");

    public static string Rig(string script) => RepoPaths.Path("tests", "rigs", "nfs42-vm", script);

    /// <summary>smbclient on SMB 3.1.1 against one share, one -c command string.</summary>
    public Task<ProcessResult> SmbClientAsync(string share, string commands, TimeSpan timeout, string? workingDirectory = null) =>
        ProcessRunner.RunAsync("smbclient",
        [
            "--configfile=/dev/null", "-p", SmbPort.ToString(CultureInfo.InvariantCulture), $"//127.0.0.1/{share}",
            "-U", $"{User}%{Password}", "-m", "SMB3_11", "-c", commands,
        ], timeout, workingDirectory: workingDirectory);

    /// <summary>smbcopy_copy_bytes_total by (share, method), summed over other labels.</summary>
    public async Task<Dictionary<(string Share, string Method), double>> CopyBytesAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var text = await http.GetStringAsync($"http://127.0.0.1:{HttpPort.ToString(CultureInfo.InvariantCulture)}/metrics");
        var values = new Dictionary<(string, string), double>();
        foreach (Match m in BytesLine().Matches(text))
        {
            var labels = LabelPair().Matches(m.Groups["labels"].Value).ToDictionary(l => l.Groups[1].Value, l => l.Groups[2].Value);
            var key = (labels.GetValueOrDefault("share", ""), labels.GetValueOrDefault("method", ""));
            values[key] = values.GetValueOrDefault(key) + double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
        }
        return values;
    }

    /// <summary>Polls /metrics (the exporter caches a scrape for a moment) until <paramref name="done"/> holds or 15 s passed.</summary>
    public async Task<Dictionary<(string Share, string Method), double>> CopyBytesWhenAsync(Func<Dictionary<(string Share, string Method), double>, bool> done)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var m = await CopyBytesAsync();
            if (done(m) || sw.Elapsed > TimeSpan.FromSeconds(15))
            {
                return m;
            }
            await Task.Delay(250);
        }
    }

    public static string Describe(Dictionary<(string Share, string Method), double> metrics) =>
        string.Join('\n', metrics.OrderBy(kv => kv.Key.ToString(), StringComparer.Ordinal)
            .Select(kv => $"smbcopy_copy_bytes_total{{share={kv.Key.Share},method={kv.Key.Method}}} {kv.Value}"));

    [GeneratedRegex(@"^smbcopy_copy_bytes_total\{(?<labels>[^}]*)\} (?<value>\S+)", RegexOptions.Multiline)]
    private static partial Regex BytesLine();

    [GeneratedRegex("(\\w+)=\"([^\"]*)\"")]
    private static partial Regex LabelPair();

    private void Log(string message) => _sink.OnMessage(new DiagnosticMessage("[e2e] " + message));
}
