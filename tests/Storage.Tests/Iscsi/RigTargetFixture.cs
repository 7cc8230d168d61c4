using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using SmbCopy.Storage.Iscsi.Initiator;

namespace SmbCopy.Storage.Tests.Iscsi;

/// <summary>
/// A real LIO iSCSI target (Linux in-kernel target in a qemu TCG VM, tests/rigs/lio-iscsi-vm), started once per test
/// run for every class in the "lio" collection and stopped at the end. Two LUNs of 1 GiB (sparse), no authentication.
/// <para>SMBCOPY_ISCSI_PORTAL=host:port (with SMBCOPY_ISCSI_IQN) uses a target that is already running instead — the
/// inner development loop. A target that cannot be started fails the tests (never skipped).</para>
/// </summary>
public sealed class LioTargetFixture() : RigTargetFixture("lio", "SMBCOPY_ISCSI_PORTAL", lunBase: 0);

/// <summary>Debian's userspace tgtd (same rig, ISCSI_TARGET_KIND=tgt): no EXTENDED COPY, so the copy engine must fall
/// back to READ/WRITE. Its disks are LUN 1 and 2 (LUN 0 is its controller). SMBCOPY_TGT_PORTAL reuses a running one.</summary>
public sealed class TgtTargetFixture() : RigTargetFixture("tgt", "SMBCOPY_TGT_PORTAL", lunBase: 1);

/// <summary>One target started through tests/rigs/lio-iscsi-vm/target-start.sh for the whole test run.</summary>
public abstract class RigTargetFixture(string kind, string portalVariable, int lunBase) : IAsyncLifetime
{
    private string StatePrefix => $"smbcopy-{kind}-test-";
    private string? _stateDir;

    public string Kind => kind;

    public string Host { get; private set; } = "127.0.0.1";
    public int Port { get; private set; }
    public string Iqn { get; private set; } = "iqn.2003-01.org.linux-iscsi.gateway:target";
    /// <summary>The rig's first and second disk (LIO numbers LUNs from 0, tgt from 1).</summary>
    public int Lun0 => lunBase;
    public int Lun1 => lunBase + 1;
    /// <summary>Size of each LUN (ISCSI_LUN_SIZE given to the rig; a target given by SMBCOPY_ISCSI_PORTAL must match).</summary>
    public const long LunBytes = 1L << 30;
    public string StartLog { get; private set; } = "";
    public TimeSpan StartTime { get; private set; }

    public IscsiInitiatorOptions Options(string? host = null, int? port = null) => new()
    {
        Host = host ?? Host,
        Port = port ?? Port,
        TargetName = Iqn,
        InitiatorName = "iqn.2025-01.org.smbcopy:tests",
        // TCG guest under load: generous timeouts
        CommandTimeout = TimeSpan.FromSeconds(180),
        LoginTimeout = TimeSpan.FromSeconds(60),
    };

    public async Task InitializeAsync()
    {
        if (Environment.GetEnvironmentVariable(portalVariable) is { Length: > 0 } portal)
        {
            var (h, p) = IscsiConnection.ParseAddress(portal, 3260);
            (Host, Port) = (h, p);
            Iqn = Environment.GetEnvironmentVariable("SMBCOPY_ISCSI_IQN") is { Length: > 0 } iqn ? iqn : Iqn;
            return;
        }
        StopStale();
        string root = RepoRoot();
        string script = Path.Combine(root, "tests", "rigs", "lio-iscsi-vm", "target-start.sh");
        _stateDir = Path.Combine(Path.GetTempPath(), StatePrefix + Environment.ProcessId);
        Directory.CreateDirectory(_stateDir);
        Port = FreePort();
        var sw = Stopwatch.StartNew();
        var (rc, output) = await RunAsync(script, TimeSpan.FromMinutes(15)).ConfigureAwait(false);
        StartTime = sw.Elapsed;
        StartLog = output;
        if (rc != 0)
        {
            await DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException($"tests/rigs/lio-iscsi-vm/target-start.sh ({kind}) failed (exit {rc}):\n{output}");
        }
        foreach (var line in File.ReadAllLines(Path.Combine(_stateDir, "env")))
            if (line.StartsWith("ISCSI_IQN=", StringComparison.Ordinal)) Iqn = line["ISCSI_IQN=".Length..];
    }

    public async Task DisposeAsync()
    {
        if (_stateDir == null) return;
        string script = Path.Combine(RepoRoot(), "tests", "rigs", "lio-iscsi-vm", "target-stop.sh");
        await RunAsync(script, TimeSpan.FromMinutes(1)).ConfigureAwait(false);
        try { Directory.Delete(_stateDir, recursive: true); } catch (IOException) { }
        _stateDir = null;
    }

    /// <summary>A previous run that died without stopping its VM: stop it (its state directory names its pid).</summary>
    private void StopStale()
    {
        foreach (var dir in Directory.GetDirectories(Path.GetTempPath(), StatePrefix + "*"))
        {
            if (!int.TryParse(Path.GetFileName(dir)[StatePrefix.Length..], out int pid)) continue;
            bool alive;
            try { using var p = Process.GetProcessById(pid); alive = !p.HasExited; } catch (ArgumentException) { alive = false; }
            if (alive) continue;
            var psi = new ProcessStartInfo("bash", [Path.Combine(RepoRoot(), "tests", "rigs", "lio-iscsi-vm", "target-stop.sh")]);
            psi.Environment["ISCSI_STATE_DIR"] = dir;
            using (var stop = Process.Start(psi)) stop?.WaitForExit(60_000);
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    private async Task<(int, string)> RunAsync(string script, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo("bash", [script])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        psi.Environment["ISCSI_STATE_DIR"] = _stateDir!;
        psi.Environment["ISCSI_PORT"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        psi.Environment["ISCSI_LUN_SIZE"] = "1G"; // sparse files
        psi.Environment["ISCSI_TARGET_KIND"] = kind;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start bash");
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            return (-1, $"timed out after {timeout}\n{await stdout.ConfigureAwait(false)}{await stderr.ConfigureAwait(false)}");
        }
        return (p.ExitCode, await stdout.ConfigureAwait(false) + await stderr.ConfigureAwait(false));
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    internal static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SmbCopy.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root (SmbCopy.sln) not found above " + AppContext.BaseDirectory);
    }
}

[CollectionDefinition(Name)]
public sealed class LioCollection : ICollectionFixture<LioTargetFixture>
{
    public const string Name = "lio";
}

[CollectionDefinition(Name)]
public sealed class TgtCollection : ICollectionFixture<TgtTargetFixture>
{
    public const string Name = "tgt";
}
