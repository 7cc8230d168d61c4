using SmbCopy.EndToEnd.Tests.Infrastructure;

namespace SmbCopy.EndToEnd.Tests;

/// <summary>
/// Durable handles end to end (MS-SMB2 3.3.5.9.6/.7/.10/.12) with python3-impacket through tests/e2e-py/durable.py:
/// a batch-oplock open with a durable request, data written, the TCP connection dropped without any CLOSE, a new
/// connection and session reconnecting the open — same persistent FileId, batch oplock kept, data read back.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class DurableHandleTests(GatewayFixture server, ITestOutputHelper output)
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task DisconnectAndReconnectKeepsTheOpenAndItsData(int version)
    {
        var r = await ProcessRunner.RunAsync(GatewayFixture.Python,
        [
            RepoPaths.Path("tests", "e2e-py", "durable.py"), "--host", server.Host, "--port", server.Port.ToString(),
            "--user", server.User, "--password", server.Password, "--share", server.ShareName, "--version", version.ToString(),
        ], TimeSpan.FromSeconds(90), new Dictionary<string, string> { ["PYTHONDONTWRITEBYTECODE"] = "1" });
        output.WriteLine(r.ToString());
        Expect.Succeeded(r, server);
        var lines = r.StdOut.Split('\n', StringSplitOptions.TrimEntries);
        Expect.That(lines.Any(l => l.StartsWith("reconnect: oplock=0x09", StringComparison.Ordinal)), "the reconnect kept the batch oplock", r, server);
        Expect.That(lines.Any(l => l.StartsWith("read: 5000 bytes identical", StringComparison.Ordinal)), "the data read back after the reconnect", r, server);
        Expect.That(lines.Contains("RESULT: OK"), "the script's final RESULT: OK", r, server);
    }
}
