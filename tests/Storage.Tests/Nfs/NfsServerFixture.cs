using System.Diagnostics;
using SmbCopy.Storage.Nfs;

namespace SmbCopy.Storage.Tests.Nfs;

/// <summary>
/// The NFSv4.2 server the NFS tests run against: the kernel nfsd in the qemu VM of tests/rigs/nfs42-vm, started once
/// per test run (start.sh prints its port; stop.sh at the end), or a running one given by SMBCOPY_NFS_PORT (and, for
/// the restart test, SMBCOPY_NFS_STATE = the rig's state directory holding ctlport). The VM exports "/" (btrfs) and
/// "/ext4" (ext4, no reflink).
/// </summary>
public sealed class NfsServerFixture : IAsyncLifetime
{
    private string? _startedState;
    private IStorageVolume? _admin;

    public int Port { get; private set; }
    public string? StateDirectory { get; private set; }

    /// <summary>A volume on the export root ("/") for planting and inspecting what tests need.</summary>
    internal NfsVolume Admin => (NfsVolume)(_admin ?? throw new InvalidOperationException("not started"));

    public async Task InitializeAsync()
    {
        var port = Environment.GetEnvironmentVariable("SMBCOPY_NFS_PORT");
        if (!string.IsNullOrEmpty(port))
        {
            Port = int.Parse(port, System.Globalization.CultureInfo.InvariantCulture);
            StateDirectory = Environment.GetEnvironmentVariable("SMBCOPY_NFS_STATE");
        }
        else
        {
            string state = Path.Combine(Path.GetTempPath(), $"smbcopy-nfs42-{Environment.ProcessId}");
            var (rc, stdout, stderr) = await RunAsync(Rig("start.sh"), ["--state", state], TimeSpan.FromMinutes(15));
            if (rc != 0)
                throw new InvalidOperationException($"The NFS test server did not start (tests/rigs/nfs42-vm/start.sh exit {rc}):\n{stderr}");
            _startedState = state;
            StateDirectory = state;
            Port = int.Parse(stdout.Trim().Split('\n')[^1], System.Globalization.CultureInfo.InvariantCulture);
        }
        _admin = await OpenAsync("/", "admin");
    }

    public Task<IStorageVolume> OpenAsync(string export, string name = "test", bool readOnly = false) =>
        new NfsStorageDriver(NfsTestLog.Factory).OpenVolumeAsync(new StorageVolumeOptions(name, "", readOnly, new Dictionary<string, string?>
        {
            ["Server"] = "127.0.0.1",
            ["Port"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Export"] = export,
            ["Uid"] = "0",
            ["Gid"] = "0",
        })).AsTask();

    /// <summary>Restarts the server's nfsd (all NFSv4 state dropped, connections closed, new grace period).</summary>
    public async Task<string> RestartNfsdAsync()
    {
        if (StateDirectory is null)
            throw new InvalidOperationException("Restarting nfsd needs the rig's state directory (SMBCOPY_NFS_STATE).");
        var (rc, stdout, stderr) = await RunAsync(Rig("ctl.sh"), ["--state", StateDirectory, "restart-nfsd"], TimeSpan.FromMinutes(2));
        if (rc != 0 || !stdout.StartsWith("OK", StringComparison.Ordinal))
            throw new InvalidOperationException($"restart-nfsd failed ({rc}): {stdout} {stderr}");
        return stdout.Trim();
    }

    public async Task DisposeAsync()
    {
        if (_admin is not null)
        {
            var sw = Stopwatch.StartNew();
            await _admin.DisposeAsync();
            NfsTestLog.Write("fixture", $"admin volume disposed in {sw.ElapsedMilliseconds} ms");
        }
        if (_startedState is not null)
            await RunAsync(Rig("stop.sh"), ["--state", _startedState], TimeSpan.FromMinutes(1));
    }

    private static string Rig(string script)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SmbCopy.sln")))
                return Path.Combine(dir.FullName, "tests", "rigs", "nfs42-vm", script);
        throw new InvalidOperationException("Repository root (SmbCopy.sln) not found above " + AppContext.BaseDirectory);
    }

    private static async Task<(int, string, string)> RunAsync(string file, string[] args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { p.Kill(entireProcessTree: true); throw new TimeoutException($"{file} took longer than {timeout}"); }
        return (p.ExitCode, await stdout, await stderr);
    }
}

[CollectionDefinition(Name)]
public sealed class NfsServerCollection : ICollectionFixture<NfsServerFixture>
{
    public const string Name = "NFS server";
}

/// <summary>Plants objects the storage API cannot make, through this driver's own client (NFS CREATE).</summary>
internal static class NfsPlanter
{
    public static async Task CreateAsync(NfsVolume admin, string path, uint type, string? linkData = null, (uint, uint) spec = default)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var loc = await admin.WalkAsync(parts, CancellationToken.None);
        if (loc.Exists)
            throw new InvalidOperationException(path + " exists");
        var parent = loc.ParentFh;
        string name = loc.Name;
        var r = await admin.RunAsync(c =>
        {
            c.PutFh(parent);
            c.CreateObject(type, name, new NfsSetAttributes(Mode: type == Nfs4.TypeLnk ? 0x1FFu : 0x1B6u), linkData, spec);
        }, true, CancellationToken.None);
        r.Ok(Nfs4.OpPutfh, "PUTFH");
        r.Ok(Nfs4.OpCreate, "CREATE " + path);
        admin.Names.Invalidate(NfsNameCache.Key(parent));
    }

    public static async Task MakeDirectoriesAsync(IStorageVolume admin, string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 1; i <= parts.Length; i++)
        {
            var (h, _) = await admin.OpenAsync(string.Join('/', parts[..i]), new OpenRequest(CreateDisposition.OpenIf, StorageAccess.Read, ObjectKind.Directory));
            await h.DisposeAsync();
        }
    }
}
