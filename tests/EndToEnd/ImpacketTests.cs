using SmbCopy.EndToEnd.Tests.Infrastructure;

namespace SmbCopy.EndToEnd.Tests;

/// <summary>python3-impacket (a second, independent client implementation) through tests/e2e-py/logon.py.</summary>
[Collection(ServerCollection.Name)]
public sealed class ImpacketTests(GatewayFixture server, ITestOutputHelper output)
{
    internal static Task<ProcessResult> RunLogonAsync(GatewayFixture server, string dialect, string password, params string[] extra) =>
        ProcessRunner.RunAsync(GatewayFixture.Python,
        [
            RepoPaths.Path("tests", "e2e-py", "logon.py"), "--host", server.Host, "--port", server.Port.ToString(),
            "--user", server.User, "--password", password, "--share", server.ShareName, "--dialect", dialect, .. extra,
        ], TimeSpan.FromSeconds(90), new Dictionary<string, string> { ["PYTHONDONTWRITEBYTECODE"] = "1" });

    /// <summary>Signed log-on, share list, tree connect and a file round trip, with the dialect pinned.</summary>
    [Theory]
    [InlineData("3.1.1", "0x0311")]
    [InlineData("3.0", "0x0300")]
    public async Task SignedLogonListSharesAndConnectTree(string dialect, string wire)
    {
        var r = await RunLogonAsync(server, dialect, server.Password);
        output.WriteLine(r.ToString());
        Expect.Succeeded(r, server);
        var lines = r.StdOut.Split('\n', StringSplitOptions.TrimEntries);
        Expect.That(lines.Contains($"dialect: {wire}"), $"dialect {wire} negotiated", r, server);
        Expect.That(lines.Any(l => l.StartsWith("login: ok", StringComparison.Ordinal) && l.Contains("signing_active=True", StringComparison.Ordinal)),
            "a signed, authenticated session", r, server);
        Expect.That(lines.Any(l => l.StartsWith("shares: ", StringComparison.Ordinal) &&
                                   l[8..].Split(',').ToHashSet().IsSupersetOf([server.ShareName, "IPC$"])),
            $"{server.ShareName} and IPC$ in listShares", r, server);
        Expect.That(lines.Any(l => l.StartsWith($"tree: {server.ShareName} tid=", StringComparison.Ordinal)), "connectTree succeeded", r, server);
        Expect.That(lines.Contains("RESULT: OK"), "the script's final RESULT: OK", r, server);
    }

    [Fact]
    public async Task WrongPasswordIsLogonFailure()
    {
        var r = await RunLogonAsync(server, "3.1.1", "not-" + server.Password, "--expect-failure", "STATUS_LOGON_FAILURE");
        output.WriteLine(r.ToString());
        Expect.Succeeded(r, server);
        Expect.That(r.StdOut.Contains("login: STATUS_LOGON_FAILURE", StringComparison.Ordinal), "log-on refused with STATUS_LOGON_FAILURE", r, server);
    }
}
