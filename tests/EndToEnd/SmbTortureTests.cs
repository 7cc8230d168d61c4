using System.Globalization;
using SmbCopy.EndToEnd.Tests.Infrastructure;

namespace SmbCopy.EndToEnd.Tests;

/// <summary>
/// Samba's smbtorture SMB2 suites through tests/smbtorture/run.sh. Each suite must pass at least the
/// number of tests recorded in tests/smbtorture/expected-min.tsv (Samba 4.17's count on this kind of
/// machine, from results-samba.tsv); raise the minimum as the gateway improves, never lower it silently.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class SmbTortureTests(GatewayFixture server, ITestOutputHelper output)
{
    [Theory]
    [InlineData("smb2.connect")]
    [InlineData("smb2.tcon")]
    [InlineData("smb2.session")]
    [InlineData("smb2.credits")]
    // issue 3, the file service (Samba's counts and run times: expected-min.tsv)
    [InlineData("smb2.read")]
    [InlineData("smb2.getinfo")]
    [InlineData("smb2.setinfo")]
    [InlineData("smb2.dir")]
    [InlineData("smb2.rename")]
    [InlineData("smb2.create")]
    [InlineData("smb2.lock")]
    [InlineData("smb2.notify")]
    [InlineData("smb2.compound")]
    [InlineData("smb2.delete-on-close-perms")]
    [InlineData("smb2.sharemode")]
    [InlineData("smb2.rw")]
    [InlineData("smb2.fileid")]
    [InlineData("smb2.timestamps")]
    [InlineData("smb2.mkdir")]
    [InlineData("smb2.deny")]
    // durable handles (lease variants skip or fail: no leases)
    [InlineData("smb2.durable-open")]
    [InlineData("smb2.durable-v2-open")]
    // named streams, EAs, 8.3 names
    [InlineData("smb2.streams")]
    // classic oplocks (no leases offered); ~115 s on both servers: many tests wait a second for a break that must not come
    [InlineData("smb2.oplock")]
    public async Task SuitePassesAtLeastTheRecordedMinimum(string suite)
    {
        var min = ExpectedMinimum(suite, server.Target);
        var tsv = Path.Combine(server.WorkDir, $"smbtorture-{suite}.tsv");
        var r = await ProcessRunner.RunAsync("bash",
            [RepoPaths.Path("tests", "smbtorture", "run.sh"), $"{server.Host}:{server.Port}", "-o", tsv],
            TimeSpan.FromMinutes(6),
            new Dictionary<string, string>
            {
                ["SUITES"] = suite,
                // Samba needs 2.5 s for smb2.session; a gateway that hangs must not eat CI's 90 minutes
                // smb2.notify takes 108 s on Samba (its notify.tree waits for events that never come)
                ["SUITE_TIMEOUT"] = suite is "smb2.session" or "smb2.notify" or "smb2.oplock" ? "300" : "120",
                ["SMBTORTURE_USER"] = server.User,
                ["SMBTORTURE_PASSWORD"] = server.Password,
                ["SMBTORTURE_SHARE"] = server.ShareName,
                // Waits forever for MODIFIED events that only Windows sends for a rename (Samba fails it
                // too, without hanging); recorded as not run in the gateway's table.
                ["EXCLUDE_TESTS"] = server.Target == "gateway" ? "smb2.notify.mask-change" : "",
            });
        output.WriteLine(r.ToString());
        Expect.Succeeded(r, server);
        var rows = File.ReadAllLines(tsv).Skip(1).Select(l => l.Split('\t')).Where(c => c.Length >= 3 && c[0] == suite).ToList();
        var notPassed = string.Join('\n', rows.Where(c => c[2] != "success").Select(c => $"{c[2],-8} {c[1]}  {(c.Length > 3 ? c[3] : "")}"));
        output.WriteLine(notPassed);
        var passed = rows.Count(c => c[2] == "success");
        output.WriteLine($"{suite}: {passed} of {rows.Count} passed on {server.Target}; minimum {min}");
        Expect.That(rows.Count > 0, $"smbtorture reported tests for {suite}", r, server);
        Expect.That(passed >= min, $"{suite}: at least {min} tests pass, {passed} of {rows.Count} did; the others:\n{notPassed}", r, server);
    }

    /// <summary>
    /// The floor for <paramref name="suite"/> on <paramref name="target"/>: expected-min.tsv has one column
    /// for the gateway (what it passed when last recorded: a regression guard, raised as it improves) and
    /// one for Samba 4.17 on this machine (the goal the comparison table in results.md measures against).
    /// </summary>
    private static int ExpectedMinimum(string suite, string target)
    {
        var file = RepoPaths.Path("tests", "smbtorture", "expected-min.tsv");
        var lines = File.ReadAllLines(file);
        var header = lines[0].Split('\t');
        int column = Array.IndexOf(header, target == "samba" ? "samba_success" : "gateway_min");
        if (column < 0) throw new InvalidOperationException($"{file} has no column for target {target}");
        foreach (var line in lines.Skip(1))
        {
            var c = line.Split('\t');
            if (c.Length > column && c[0] == suite)
            {
                return int.Parse(c[column], CultureInfo.InvariantCulture);
            }
        }
        throw new InvalidOperationException($"{suite} has no minimum in {file}");
    }
}
