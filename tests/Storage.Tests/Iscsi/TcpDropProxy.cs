using System.Net;
using System.Net.Sockets;

namespace SmbCopy.Storage.Tests.Iscsi;

/// <summary>A loopback TCP relay in front of the target whose connections the test can cut at any moment (RST),
/// to show what the initiator does when the network drops mid-command.</summary>
public sealed class TcpDropProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _host;
    private readonly int _port;
    private readonly CancellationTokenSource _cts = new();
    private readonly List<(Socket A, Socket B)> _pairs = [];
    private readonly Task _accept;
    private long _relayed;

    public TcpDropProxy(string host, int port)
    {
        _host = host;
        _port = port;
        _listener.Start();
        _accept = Task.Run(AcceptLoopAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Bytes relayed in both directions so far.</summary>
    public long BytesRelayed => Interlocked.Read(ref _relayed);

    public int Connections { get; private set; }

    /// <summary>Resets every relayed connection now.</summary>
    public int DropAll()
    {
        lock (_pairs)
        {
            foreach (var (a, b) in _pairs)
            {
                a.LingerState = new LingerOption(true, 0);
                b.LingerState = new LingerOption(true, 0);
                a.Close();
                b.Close();
            }
            int n = _pairs.Count;
            _pairs.Clear();
            return n;
        }
    }

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptSocketAsync(_cts.Token).ConfigureAwait(false);
                var upstream = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                client.NoDelay = true;
                try
                {
                    await upstream.ConnectAsync(_host, _port, _cts.Token).ConfigureAwait(false);
                }
                catch (SocketException)
                {
                    // The target is gone (its VM died, or a test stopped it). Reset this connection as the target's own
                    // port would refuse it, and keep accepting. Before, this ended the accept loop with the listener
                    // still open: every later connect was accepted by the kernel and never answered, so each login
                    // waited out its full timeout (60 s, one reconnecting command after the other) instead of failing.
                    upstream.Dispose();
                    client.LingerState = new LingerOption(true, 0);
                    client.Close();
                    continue;
                }
                lock (_pairs) { _pairs.Add((client, upstream)); Connections++; }
                _ = PumpAsync(client, upstream);
                _ = PumpAsync(upstream, client);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { }
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[256 * 1024];
        try
        {
            while (true)
            {
                int n = await from.ReceiveAsync(buffer, SocketFlags.None, _cts.Token).ConfigureAwait(false);
                if (n == 0) break;
                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _cts.Token).ConfigureAwait(false);
                Interlocked.Add(ref _relayed, n);
            }
            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { }
    }

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _cts.Cancel();
        _listener.Stop();
        DropAll();
        try { await _accept.ConfigureAwait(false); } catch (OperationCanceledException) { }
        _cts.Dispose();
    }
}
