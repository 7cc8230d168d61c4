using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Xunit.Sdk;

namespace SmbCopy.EndToEnd.Tests.Infrastructure;

/// <summary>All end-to-end tests share one server process (started once) and run one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<GatewayFixture>
{
    public const string Name = "server";
}

/// <summary>
/// The SMB server under test, started once per test collection on a free loopback port with one user
/// and one share <c>data</c>. SMBCOPY_E2E_TARGET selects it: <c>gateway</c> (default) runs the built
/// smbcopy.dll; <c>samba</c> runs Samba 4.17 through tests/rigs/samba, so that the harness and the
/// expectations can be checked against a real server. Both expose the same interface.
/// </summary>
public sealed class GatewayFixture : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(
        int.TryParse(Environment.GetEnvironmentVariable("SMBCOPY_E2E_START_TIMEOUT"), out var s) ? s : 30);

    private readonly IMessageSink _sink;
    private GatewayProcess? _gateway;

    public GatewayFixture(IMessageSink sink)
    {
        _sink = sink;
        Target = (Environment.GetEnvironmentVariable("SMBCOPY_E2E_TARGET") ?? "gateway").Trim().ToLowerInvariant();
        if (Target is not ("gateway" or "samba"))
        {
            throw new InvalidOperationException($"SMBCOPY_E2E_TARGET must be 'gateway' or 'samba', not '{Target}'");
        }
        // letters and digits only: it goes through smbclient's -U user%password and shell scripts
        Password = "Pw" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)) + "X9";
        WorkDir = Directory.CreateTempSubdirectory("smbcopy-e2e-").FullName;
        // Samba maps the user to an unprivileged Unix account that must reach the share
        File.SetUnixFileMode(WorkDir, (UnixFileMode)0b111_101_101);
        SharePath = Path.Combine(WorkDir, "share-" + ShareName);
    }

    /// <summary>gateway or samba.</summary>
    public string Target { get; }
    public string Host => "127.0.0.1";
    public int Port { get; private set; }
    public string User => "alice";
    public string Password { get; }
    public string ShareName => "data";
    /// <summary>The local directory behind the share (both targets serve a local directory).</summary>
    public string SharePath { get; }
    /// <summary>Scratch space for the tests (local files, captures, result files); removed at the end.</summary>
    public string WorkDir { get; }

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(SharePath);
        File.SetUnixFileMode(SharePath, (UnixFileMode)0b111_111_111);
        Port = FreePort();
        if (Target == "samba")
        {
            await StartSambaAsync();
        }
        else
        {
            await StartGatewayAsync();
        }
        Log($"e2e target {Target} listening on {Host}:{Port}, share {ShareName} = {SharePath}, user {User}");
    }

    public async Task DisposeAsync()
    {
        if (Target == "samba")
        {
            var r = await ProcessRunner.RunAsync("bash", [RepoPaths.Path("tests", "rigs", "samba", "stop.sh"), "-b", SambaBase], TimeSpan.FromSeconds(30));
            Log(r.Output.Trim());
        }
        else
        {
            await StopGatewayAsync();
        }
        if (Environment.GetEnvironmentVariable("SMBCOPY_E2E_KEEP") != "1")
        {
            try { Directory.Delete(WorkDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>What the server printed (gateway stdout/stderr, or smbd's logs), last lines, for failure messages.</summary>
    public string ServerLog(int lines = 80)
    {
        string text;
        if (Target == "samba")
        {
            var sb = new StringBuilder();
            var logDir = Path.Combine(SambaBase, "log");
            if (Directory.Exists(logDir))
            {
                foreach (var f in Directory.GetFiles(logDir).Order(StringComparer.Ordinal))
                {
                    sb.Append("==> ").Append(f).AppendLine(" <==").AppendLine(Tail(File.ReadAllText(f), lines / 4));
                }
            }
            text = sb.ToString();
        }
        else
        {
            text = Tail(_gateway?.Output ?? "", lines);
            if (_gateway is { HasExited: true })
            {
                text += $"\n(gateway process has exited with code {_gateway.ExitCode})";
            }
        }
        return $"--- {Target} server log (last lines) ---\n{text}";
    }

    /// <summary>Runs smbclient against this server with a clean configuration (not /etc/samba/smb.conf).</summary>
    public Task<ProcessResult> SmbClientAsync(params string[] args) =>
        ProcessRunner.RunAsync("smbclient", ["--configfile=/dev/null", "-p", Port.ToString(), .. args], TimeSpan.FromSeconds(60));

    /// <summary>The Debian python3 that has python3-impacket (a pyenv python3 may shadow it on PATH).</summary>
    public static string Python =>
        Environment.GetEnvironmentVariable("SMBCOPY_E2E_PYTHON") is { Length: > 0 } p ? p
        : File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    private string SambaBase => Path.Combine(WorkDir, "samba");

    private async Task StartSambaAsync()
    {
        var r = await ProcessRunner.RunAsync("bash",
        [
            RepoPaths.Path("tests", "rigs", "samba", "start.sh"), "-p", Port.ToString(), "-b", SambaBase,
            "-u", User, "-w", Password, "-s", $"{ShareName}={SharePath}",
        ], TimeSpan.FromSeconds(60));
        if (r.ExitCode != 0)
        {
            var log = ServerLog();
            // start.sh may leave an smbd behind that never listened; a failed InitializeAsync is not disposed
            await ProcessRunner.RunAsync("bash", [RepoPaths.Path("tests", "rigs", "samba", "stop.sh"), "-b", SambaBase], TimeSpan.FromSeconds(30));
            throw new InvalidOperationException($"Samba rig did not start:\n{r}\n{log}");
        }
        Log(r.StdOut.Trim());
    }

    private async Task StartGatewayAsync()
    {
        var state = Path.Combine(WorkDir, "state");
        Directory.CreateDirectory(state);
        string[] arguments =
        [
            "--SmbCopy:Smb:Address=127.0.0.1", $"--SmbCopy:Smb:Port={Port}",
            "--SmbCopy:Http:Address=127.0.0.1", $"--SmbCopy:Http:Port={FreePort()}",
            $"--SmbCopy:Users:0:Name={User}", $"--SmbCopy:Users:0:NtHash={NtHash.Hex(Password)}",
            $"--SmbCopy:Shares:0:Name={ShareName}", "--SmbCopy:Shares:0:Driver=Local", $"--SmbCopy:Shares:0:Path={SharePath}",
            $"--SmbCopy:StateDirectory={state}",
        ];
        _gateway = GatewayProcess.Start(WorkDir, arguments);
        Log($"started gateway pid {_gateway.Id}: {string.Join(' ', arguments.Select(ProcessRunner.Quote))}");
        try
        {
            await _gateway.WaitUntilReadyAsync(() => AcceptsAsync(Port), $"gateway on {Host}:{Port}", StartTimeout);
        }
        catch (InvalidOperationException)
        {
            var output = ServerLog(200);
            await StopGatewayAsync();
            throw new InvalidOperationException($"gateway did not listen on {Host}:{Port}\n{output}");
        }
    }

    /// <summary>SIGTERM (the host's graceful shutdown), then SIGKILL of the whole tree after 10 s.</summary>
    private async Task StopGatewayAsync()
    {
        if (_gateway is null)
        {
            return;
        }
        await _gateway.DisposeAsync();
        _gateway = null;
    }

    private void Log(string message) => _sink.OnMessage(new DiagnosticMessage("[e2e] " + message));

    private static async Task<bool> AcceptsAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await client.ConnectAsync(IPAddress.Loopback, port, cts.Token);
            return true;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static string Tail(string text, int lines)
    {
        var all = text.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }
}
