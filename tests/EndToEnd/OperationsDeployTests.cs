using SmbCopy.EndToEnd.Tests.Infrastructure;

namespace SmbCopy.EndToEnd.Tests;

/// <summary>deploy/smbcopy.service as systemd reads it (systemd-analyze verify, Debian's systemd package).</summary>
public sealed class OperationsDeployTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("smbcopy-unit-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>
    /// A root directory holding the system's units (targets the unit depends on), the unit as installed, and an
    /// executable where ExecStart points (verify checks that it exists); nothing is written outside it.
    /// </summary>
    private async Task<ProcessResult> VerifyAsync(string unitText)
    {
        var systemUnits = Directory.Exists("/usr/lib/systemd/system") ? "/usr/lib/systemd/system" : "/lib/systemd/system";
        var units = Path.Combine(_root, "usr", "lib", "systemd", "system");
        Directory.CreateDirectory(units);
        foreach (var file in Directory.EnumerateFiles(systemUnits, "*.target"))
        {
            File.Copy(file, Path.Combine(units, Path.GetFileName(file)), overwrite: true);
        }
        var exec = Path.Combine(_root, "usr", "lib", "smbcopy", "smbcopy");
        Directory.CreateDirectory(Path.GetDirectoryName(exec)!);
        await File.WriteAllTextAsync(exec, "#!/bin/sh\n");
        File.SetUnixFileMode(exec, (UnixFileMode)0b111_101_101);
        var etc = Path.Combine(_root, "etc", "systemd", "system");
        Directory.CreateDirectory(etc);
        await File.WriteAllTextAsync(Path.Combine(etc, "smbcopy.service"), unitText);

        var r = await ProcessRunner.RunAsync("systemd-analyze", ["verify", "--man=no", $"--root={_root}", "/etc/systemd/system/smbcopy.service"],
            TimeSpan.FromSeconds(60));
        output.WriteLine(r.ToString());
        return r;
    }

    [Fact]
    public async Task Systemd_analyze_verify_accepts_the_unit_without_a_warning()
    {
        var unit = await File.ReadAllTextAsync(RepoPaths.Path("deploy", "smbcopy.service"));
        Assert.Contains("Type=notify", unit);
        Assert.Contains("AmbientCapabilities=CAP_NET_BIND_SERVICE", unit);
        Assert.Contains("ExecStart=/usr/lib/smbcopy/smbcopy", unit);

        var r = await VerifyAsync(unit);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(r.Output.Trim().Length == 0, $"systemd-analyze printed something:\n{r}");

        // The same check notices a broken unit (so an empty output above means something).
        var broken = await VerifyAsync(unit.Replace("ProtectSystem=strict", "ProtectSystem=strict\nProtectSytem=yes", StringComparison.Ordinal));
        Assert.Contains("Unknown key", broken.Output, StringComparison.OrdinalIgnoreCase);
    }
}
