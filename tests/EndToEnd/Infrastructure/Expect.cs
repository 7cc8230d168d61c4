using Xunit.Sdk;

namespace SmbCopy.EndToEnd.Tests.Infrastructure;

/// <summary>Assertions on client runs whose failure message carries the command, its output and the server's log.</summary>
public static class Expect
{
    public static void That(bool condition, string what, ProcessResult result, GatewayFixture server)
    {
        if (!condition)
        {
            throw new XunitException($"Expected: {what}\n{result}\n{server.ServerLog()}");
        }
    }

    public static void Succeeded(ProcessResult result, GatewayFixture server) =>
        That(result.ExitCode == 0, "exit code 0", result, server);

    /// <summary>The client failed, and said which NT status: one of <paramref name="statuses"/>.</summary>
    public static void FailedWith(ProcessResult result, GatewayFixture server, params string[] statuses)
    {
        That(result.ExitCode != 0, $"a failing exit code with {string.Join(" or ", statuses)}", result, server);
        That(statuses.Any(s => result.Output.Contains(s, StringComparison.Ordinal)), $"output naming {string.Join(" or ", statuses)}", result, server);
    }
}
