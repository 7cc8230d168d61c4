using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using SmbCopy.Storage.Nfs;
using Xunit.Abstractions;

namespace SmbCopy.Storage.Tests.Nfs;

/// <summary>
/// Teardown against a server that stopped answering (a restarted or hung nfsd that keeps the connection but never
/// replies): disposing a volume, its session and a handle is bounded by a few seconds and never waits on the server.
/// The server is the VM's nfsd behind <see cref="SilentProxy"/>, which relays both ways until it is told to go silent
/// and from then on keeps every connection (and accepts new ones) but forwards nothing.
/// </summary>
[Collection(NfsServerCollection.Name)]
public sealed class NfsTeardownTests(NfsServerFixture server, ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _base = "t-" + Guid.NewGuid().ToString("N");
    private static readonly OpenRequest Create = new(CreateDisposition.OverwriteIf, StorageAccess.ReadWrite, ObjectKind.File);

    public Task InitializeAsync() => NfsPlanter.MakeDirectoriesAsync(server.Admin, _base);

    public async Task DisposeAsync()
    {
        foreach (var path in new[] { _base + "/open.bin", _base + "/doomed.bin", _base })
        {
            try { await server.Admin.DeleteAsync(path); } catch (StorageException) { }
        }
    }

    private async Task<NfsVolume> OpenThroughAsync(SilentProxy proxy) =>
        (NfsVolume)await new NfsStorageDriver(NfsTestLog.Factory).OpenVolumeAsync(new StorageVolumeOptions("teardown", "", false,
            new Dictionary<string, string?>
            {
                ["Server"] = "127.0.0.1", ["Port"] = proxy.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Export"] = "/" + _base,
            }));

    /// <summary>Runs <paramref name="dispose"/> and fails if it is not over within <paramref name="limit"/> (the task is
    /// then left to end by itself when the proxy closes the connections).</summary>
    private async Task<TimeSpan> BoundedAsync(string what, Func<Task> dispose, TimeSpan limit)
    {
        var sw = Stopwatch.StartNew();
        var task = dispose();
        var first = await Task.WhenAny(task, Task.Delay(limit));
        output.WriteLine($"{what}: {(first == task ? $"done in {sw.ElapsedMilliseconds} ms" : $"still waiting after {limit.TotalSeconds} s")}");
        Assert.True(first == task, $"{what} waited on a silent server for more than {limit.TotalSeconds} s");
        await task; // a dispose does not throw because the server is gone
        return sw.Elapsed;
    }

    [Fact]
    public async Task VolumeDispose_WithACloseQueued_AndAServerThatStoppedAnswering_IsBounded()
    {
        await using var proxy = new SilentProxy(server.Port);
        var volume = await OpenThroughAsync(proxy);
        volume.TeardownTimeout = TimeSpan.FromSeconds(3);
        var (h, _) = await volume.OpenAsync("open.bin", Create); // an OPEN stateid: its disposal queues a CLOSE
        await h.WriteAsync(0, "x"u8.ToArray());
        proxy.GoSilent();
        await h.DisposeAsync();
        // CLOSE (queued), DESTROY_SESSION and DESTROY_CLIENTID all go unanswered: each gets at most the teardown time
        var took = await BoundedAsync("volume dispose", () => volume.DisposeAsync().AsTask(), TimeSpan.FromSeconds(40));
        Assert.True(took < TimeSpan.FromSeconds(15), $"dispose took {took}");
    }

    [Fact]
    public async Task VolumeDispose_WhenTheSessionTeardownGoesUnanswered_IsBounded()
    {
        await using var proxy = new SilentProxy(server.Port);
        var volume = await OpenThroughAsync(proxy);
        volume.TeardownTimeout = TimeSpan.FromSeconds(2);
        proxy.GoSilent();
        var took = await BoundedAsync("volume dispose", () => volume.DisposeAsync().AsTask(), TimeSpan.FromSeconds(40));
        Assert.True(took < TimeSpan.FromSeconds(8), $"dispose took {took}");
    }

    [Fact]
    public async Task HandleDispose_WithDeleteOnClose_AndAServerThatStoppedAnswering_IsBounded_AndTheVolumeStillDisposes()
    {
        await using var proxy = new SilentProxy(server.Port);
        var volume = await OpenThroughAsync(proxy);
        volume.TeardownTimeout = TimeSpan.FromSeconds(2);
        var (h, _) = await volume.OpenAsync("doomed.bin", Create);
        await h.SetDeleteOnCloseAsync(true);
        proxy.GoSilent();
        await BoundedAsync("handle dispose (delete on close)", () => h.DisposeAsync().AsTask(), TimeSpan.FromSeconds(60));
        await BoundedAsync("volume dispose", () => volume.DisposeAsync().AsTask(), TimeSpan.FromSeconds(40));
        // the server never saw the REMOVE: the file is still there (nothing claimed it was deleted)
        var (again, _) = await server.Admin.OpenAsync(_base + "/doomed.bin", new OpenRequest(CreateDisposition.Open, StorageAccess.Read, ObjectKind.File));
        await again.DisposeAsync();
    }

    /// <summary>A loopback TCP relay to the NFS server. <see cref="GoSilent"/>: from then on bytes in either direction are
    /// read and dropped (the connections stay open, new ones are accepted and swallowed), so calls are never answered.</summary>
    private sealed class SilentProxy : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly int _upstream;
        private readonly CancellationTokenSource _stop = new();
        private readonly List<Socket> _sockets = [];
        private readonly Task _accept;
        private volatile bool _silent;

        public SilentProxy(int upstreamPort)
        {
            _upstream = upstreamPort;
            _listener.Start();
            _accept = Task.Run(AcceptLoopAsync);
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public void GoSilent() => _silent = true;

        private async Task AcceptLoopAsync()
        {
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptSocketAsync(_stop.Token);
                    lock (_sockets) _sockets.Add(client);
                    if (_silent)
                    {
                        _ = PumpAsync(client, null);
                        continue;
                    }
                    var server = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    lock (_sockets) _sockets.Add(server);
                    await server.ConnectAsync(IPAddress.Loopback, _upstream, _stop.Token);
                    _ = PumpAsync(client, server);
                    _ = PumpAsync(server, client);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { }
        }

        private async Task PumpAsync(Socket from, Socket? to)
        {
            var buffer = new byte[64 * 1024];
            try
            {
                while (true)
                {
                    int n = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                    if (n == 0)
                        break;
                    if (!_silent && to is not null)
                        await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
                }
                if (!_silent)
                    to?.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { }
        }

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _listener.Stop();
            lock (_sockets)
                foreach (var s in _sockets) s.Dispose();
            await _accept;
            _stop.Dispose();
        }
    }
}
