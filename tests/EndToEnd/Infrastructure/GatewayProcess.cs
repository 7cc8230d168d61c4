using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace SmbCopy.EndToEnd.Tests.Infrastructure;

/// <summary>
/// The built gateway as a child process, configured on its command line: output captured for failure
/// messages, SMBCOPY_* variables of the test environment kept away from it (the gateway reads them as
/// configuration), stopped with SIGTERM and killed if it does not exit. One place for what every
/// fixture that starts a gateway needs.
/// </summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private GatewayProcess(Process process) => _process = process;

    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    public string Output
    {
        get { lock (_output) { return _output.ToString(); } }
    }

    /// <summary>The gateway dll under test: SMBCOPY_GATEWAY_DLL, else the solution's build output.</summary>
    public static string Dll()
    {
        var dll = Environment.GetEnvironmentVariable("SMBCOPY_GATEWAY_DLL") is { Length: > 0 } d ? d
            : RepoPaths.Path("src", "Gateway", "bin", RepoPaths.Configuration, "net10.0", "smbcopy.dll");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"{dll} not found: build the solution first (dotnet build SmbCopy.sln -c {RepoPaths.Configuration}), or set SMBCOPY_GATEWAY_DLL");
        }
        return dll;
    }

    public static GatewayProcess Start(string workDir, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workDir,
        };
        psi.ArgumentList.Add(Dll());
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("SMBCOPY_", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            psi.Environment.Remove(key);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) psi.Environment[key] = value;

        var gateway = new GatewayProcess(new Process { StartInfo = psi });
        gateway._process.OutputDataReceived += (_, e) => gateway.Append(e.Data);
        gateway._process.ErrorDataReceived += (_, e) => gateway.Append(e.Data);
        gateway._process.Start();
        gateway._process.StandardInput.Close();
        gateway._process.BeginOutputReadLine();
        gateway._process.BeginErrorReadLine();
        return gateway;
    }

    /// <summary>Polls <paramref name="ready"/> until it holds; fails at once if the gateway exits, or after <paramref name="timeout"/>.</summary>
    public async Task WaitUntilReadyAsync(Func<Task<bool>> ready, string what, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{what} exited with {_process.ExitCode}:\n{Output}");
            }
            try
            {
                if (await ready()) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or SocketException)
            {
            }
            await Task.Delay(100);
        }
        throw new InvalidOperationException($"{what} was not ready within {timeout.TotalSeconds:0} s:\n{Output}");
    }

    /// <summary>True when the gateway's HTTP /healthz answers 200.</summary>
    public static async Task<bool> HealthyAsync(int httpPort)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        return (await http.GetAsync($"http://127.0.0.1:{httpPort.ToString(CultureInfo.InvariantCulture)}/healthz")).IsSuccessStatusCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await term.WaitForExitAsync();
            }
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output) { _output.AppendLine(line); }
        }
    }
}
