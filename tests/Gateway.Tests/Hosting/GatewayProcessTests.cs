using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using SmbCopy.Gateway.Hosting;

namespace SmbCopy.Gateway.Tests.Hosting;

/// <summary>Runs the built gateway (smbcopy.dll, copied next to the tests by the project reference) as a real process.</summary>
public sealed class GatewayProcessTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("smbcopy-process-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private Process Start(string[] args, bool redirectInput = false)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = _dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectInput,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "smbcopy.dll"));
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var name in psi.Environment.Keys.Where(k => k.StartsWith("SMBCOPY", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            psi.Environment.Remove(name);
        }
        psi.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:1"; // must be ignored
        return Process.Start(psi)!;
    }

    private async Task<(int Exit, string Out, string Err)> RunAsync(string[] args, string? stdin = null)
    {
        using var p = Start(args, redirectInput: stdin is not null);
        if (stdin is not null)
        {
            await p.StandardInput.WriteAsync(stdin);
            p.StandardInput.Close();
        }
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(Timeout);
        await p.WaitForExitAsync(cts.Token);
        return (p.ExitCode, await stdout, await stderr);
    }

    private string[] Args(int smbPort, int httpPort, params string[] more) =>
    [
        "--SmbCopy:Smb:Address=127.0.0.1", $"--SmbCopy:Smb:Port={smbPort}",
        "--SmbCopy:Http:Address=127.0.0.1", $"--SmbCopy:Http:Port={httpPort}",
        .. more,
    ];

    private static string[] Lines(string s) => s.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    [Fact]
    public async Task Bad_option_exits_2_with_one_line_naming_the_key()
    {
        var (exit, stdout, stderr) = await RunAsync(Args(FreePort(), FreePort(),
            "--SmbCopy:Shares:0:Name=x", "--SmbCopy:Shares:0:Driver=Foo"));

        Assert.Equal(GatewayHost.ExitConfigurationError, exit);
        Assert.Equal(["configuration error: SmbCopy:Shares:0:Driver: unknown driver 'Foo' (expected Local, Nfs or Iscsi)"], Lines(stderr));
        Assert.Equal("", stdout);
        Assert.False(Directory.Exists(Path.Combine(_dir, ".state")), "no state is created for a configuration that does not start");
    }

    [Fact]
    public async Task Missing_share_directory_exits_2_but_the_default_data_directory_is_created()
    {
        var (exit, _, stderr) = await RunAsync(Args(FreePort(), FreePort(),
            "--SmbCopy:Shares:0:Name=data", "--SmbCopy:Shares:0:Path=./data",
            "--SmbCopy:Shares:1:Name=x", "--SmbCopy:Shares:1:Path=./missing"));

        Assert.Equal(2, exit);
        Assert.Equal(["configuration error: SmbCopy:Shares:1:Path: directory './missing' does not exist"], Lines(stderr));
        Assert.True(Directory.Exists(Path.Combine(_dir, "data")));
        Assert.False(Directory.Exists(Path.Combine(_dir, "missing")));
    }

    [Fact]
    public async Task Malformed_nt_hash_exits_2_with_one_line_naming_the_user_and_not_echoing_the_value()
    {
        const string bad = "64f12cddaa88057e06a81b54e73b949"; // 31 hex digits
        var (exit, stdout, stderr) = await RunAsync(Args(FreePort(), FreePort(),
            "--SmbCopy:Users:0:Name=alice", $"--SmbCopy:Users:0:NtHash={bad}"));

        Assert.Equal(GatewayHost.ExitConfigurationError, exit);
        Assert.Equal(["configuration error: SmbCopy:Users:0:NtHash: must be 32 hex digits (run 'smbcopy hash-password')"], Lines(stderr));
        Assert.Equal("", stdout);
        Assert.DoesNotContain(bad, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chap_user_without_secret_exits_2_with_one_line()
    {
        var (exit, stdout, stderr) = await RunAsync(Args(FreePort(), FreePort(),
            "--SmbCopy:Shares:0:Name=san", "--SmbCopy:Shares:0:Driver=Iscsi", "--SmbCopy:Shares:0:Portal=192.0.2.1:3260",
            "--SmbCopy:Shares:0:Target=iqn.2004-10.com.example:lun0", "--SmbCopy:Shares:0:Metadata=./san.db",
            "--SmbCopy:Shares:0:ChapUser=gw"));

        Assert.Equal(GatewayHost.ExitConfigurationError, exit);
        Assert.Equal(["configuration error: SmbCopy:Shares:0:ChapSecret: is required when ChapUser is set"], Lines(stderr));
        Assert.Equal("", stdout);
    }

    [Fact]
    public async Task Smb_port_in_use_exits_2_with_one_line()
    {
        using var blocker = new TcpListener(IPAddress.Loopback, 0);
        blocker.Start();
        var port = ((IPEndPoint)blocker.LocalEndpoint).Port;

        var (exit, _, stderr) = await RunAsync(Args(port, FreePort()));

        Assert.Equal(2, exit);
        Assert.Equal([$"configuration error: SmbCopy:Smb:Port: 127.0.0.1:{port} is already in use"], Lines(stderr));
    }

    [Fact]
    public async Task Hash_password_prints_the_nt_hash()
    {
        var (exit, stdout, stderr) = await RunAsync(["hash-password"], stdin: "Password\n");
        Assert.Equal(0, exit);
        Assert.Equal("a4f49c406510bdcab6824ee7c30fd852\n", stdout);
        Assert.Equal("", stderr);
    }

    [Fact]
    public async Task Unknown_command_exits_2()
    {
        var (exit, _, stderr) = await RunAsync(["hashpassword"]);
        Assert.Equal(2, exit);
        Assert.Single(Lines(stderr));
    }

    [Fact]
    public async Task Serves_http_and_keeps_identity_and_generated_user_across_restarts()
    {
        File.WriteAllText(Path.Combine(_dir, "appsettings.json"), """
            { "SmbCopy": { "ServerName": "TESTSRV", "Shares": [ { "Name": "data", "Driver": "Local", "Path": "./data" } ] } }
            """);

        var first = await RunUntilHealthyThenStopAsync(async http =>
        {
            Assert.Equal("ok", await http.GetStringAsync("/healthz"));
            var status = await http.GetStringAsync("/");
            Assert.Contains("TESTSRV", status);
            Assert.Contains(Path.Combine(_dir, "data"), status);
            var metrics = await http.GetAsync("/metrics");
            Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
            return status;
        });
        var second = await RunUntilHealthyThenStopAsync(http => http.GetStringAsync("/"));

        var guid = File.ReadAllText(Path.Combine(_dir, ".state", ServerIdentity.GuidFileName)).Trim();
        Assert.Contains(guid, first.Result);
        Assert.Contains(guid, second.Result);

        var marked = Lines(first.Out).Where(l => l.Contains("GENERATED USER", StringComparison.Ordinal)).ToList();
        var line = Assert.Single(marked);
        var password = line.Split("PASSWORD: ")[1].Split(' ')[0];
        Assert.Equal(UserDirectory.GeneratedPasswordLength, password.Length);
        Assert.DoesNotContain("GENERATED USER", second.Out, StringComparison.Ordinal);
        Assert.DoesNotContain(password, second.Out, StringComparison.Ordinal);
        Assert.DoesNotContain(password, File.ReadAllText(Path.Combine(_dir, ".state", UserDirectory.FileName)), StringComparison.Ordinal);
        Assert.Contains("shutting down", first.Out, StringComparison.Ordinal);
    }

    private async Task<(T Result, string Out)> RunUntilHealthyThenStopAsync<T>(Func<HttpClient, Task<T>> probe)
    {
        var httpPort = FreePort();
        using var p = Start(Args(FreePort(), httpPort));
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") };
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            if (p.HasExited)
            {
                Assert.Fail($"gateway exited early ({p.ExitCode}): {await stderr}");
            }
            try
            {
                if ((await http.GetAsync("/healthz")).IsSuccessStatusCode)
                {
                    break;
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }
            await Task.Delay(100);
        }
        T result;
        try
        {
            result = await probe(http);
        }
        finally
        {
            // Graceful stop the way systemd does it: SIGTERM, then the exit code must be 0.
            using var kill = Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await kill.WaitForExitAsync();
        }
        using var cts = new CancellationTokenSource(Timeout);
        await p.WaitForExitAsync(cts.Token);
        Assert.Equal(0, p.ExitCode);
        Assert.Equal("", await stderr);
        return (result, await stdout);
    }
}
