using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using SmbCopy.Storage.Iscsi.Initiator;

namespace SmbCopy.Storage.Tests.Iscsi;

/// <summary>The test proxy itself: when the target behind it is gone, a connection through it must fail at once, as a
/// connection to the target's own port would — not sit accepted and unanswered until the login timeout.</summary>
public sealed class TcpDropProxyTests
{
    private static int ClosedPort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port; // nothing listens there once l is stopped
    }

    [Fact]
    public async Task Connections_to_a_dead_target_fail_at_once_every_time()
    {
        await using var proxy = new TcpDropProxy("127.0.0.1", ClosedPort());
        var options = new IscsiInitiatorOptions
        {
            Host = "127.0.0.1",
            Port = proxy.Port,
            TargetName = "iqn.2025-01.test:gone",
            NopInterval = TimeSpan.Zero,
            LoginTimeout = TimeSpan.FromSeconds(20),
        };
        for (int i = 0; i < 3; i++) // the second and third too: the proxy keeps accepting after a failed upstream connect
        {
            var sw = Stopwatch.StartNew();
            var e = await Assert.ThrowsAsync<IscsiConnectionException>(
                () => IscsiConnection.ConnectAsync(options, IscsiInitiatorOptions.RandomIsid(), 0).WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"attempt {i}: failed after {sw.Elapsed} ({e.Message}), not at once");
            Assert.DoesNotContain("timed out", e.Message);
        }
        Assert.Equal(0, proxy.Connections);
    }
}
