using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using SmbCopy.Storage.Iscsi.Initiator;
using SmbCopy.Storage.Iscsi.Scsi;
using Xunit.Abstractions;

namespace SmbCopy.Storage.Tests.Iscsi;

/// <summary>
/// A target that stops working without closing the connection must cost the initiator a bounded time, never a hang:
/// it stops reading (TCP window shut, so a write never completes and holds the send lock), or it keeps the command
/// window closed. Each test bounds its own waits, so a regression fails with a message instead of hanging the host.
/// </summary>
public sealed class StalledTargetTests(ITestOutputHelper output)
{
    private static readonly byte[] Isid = IscsiInitiatorOptions.RandomIsid();
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    // Everything of a write goes as unsolicited data inside the command's own send (no R2T): 16 MiB, far more than the
    // socket buffers hold once the target stops reading.
    private const string BigFirstBurst = "HeaderDigest=None\0DataDigest=None\0MaxRecvDataSegmentLength=8192\0" +
                                         "MaxBurstLength=16776704\0FirstBurstLength=16776704\0InitialR2T=No\0ImmediateData=Yes\0";

    private static async Task<T> BoundedAsync<T>(Task<T> task, string what)
    {
        await BoundedAsync((Task)task, what);
        return await task;
    }

    private static async Task BoundedAsync(Task task, string what)
    {
        if (await Task.WhenAny(task, Task.Delay(Bound)) != task)
            Assert.Fail($"{what}: still waiting after {Bound.TotalSeconds:0} s (hang)");
        await task;
    }

    [Fact]
    public async Task Target_that_stops_reading_during_a_command_send_drops_the_connection_and_fails_the_commands()
    {
        var stopReading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var target = new FakeTarget(async s =>
        {
            await s.LoginAsync(BigFirstBurst);
            s.Socket.ReceiveBufferSize = 4096; // no autotuning: the window shuts after a few KiB
            var cmd = await s.ReadAsync(); // header + 8 KiB of immediate data; the rest of the 16 MiB follows as unsolicited Data-Out
            Assert.Equal(IscsiOpcode.ScsiCommand, cmd.Opcode);
            stopReading.SetResult();
            await release.Task; // never reads again, never closes: a wedged target
        });
        var options = target.Options with { CommandTimeout = TimeSpan.FromSeconds(2) };
        var conn = await IscsiConnection.ConnectAsync(options, Isid, 0);
        try
        {
            var data = new byte[16776704];
            var sw = Stopwatch.StartNew();
            var write = conn.ExecuteAsync(new ScsiCommand(0, Cdb.Write16(0, (uint)(data.Length / 512)), DataOut: data));
            await BoundedAsync(stopReading.Task, "the target never got the command");
            // a second command waits for the send lock held by the stalled write
            var second = conn.ExecuteAsync(new ScsiCommand(0, Cdb.TestUnitReady()));
            var e = await BoundedAsync(Assert.ThrowsAsync<IscsiConnectionException>(() => write), "the stalled write");
            output.WriteLine($"{sw.ElapsedMilliseconds} ms: {e.Message}");
            Assert.Contains("send stalled", e.Message);
            Assert.True(e.IsTransient);
            Assert.True(sw.Elapsed >= TimeSpan.FromSeconds(1.5), $"dropped after {sw.Elapsed}, before the command timeout");
            await BoundedAsync(Assert.ThrowsAsync<IscsiConnectionException>(() => second), "the command queued behind the stalled write");
            output.WriteLine($"{sw.ElapsedMilliseconds} ms: the queued command failed too");
            Assert.False(conn.IsUsable);
            Assert.Equal(0, conn.InFlight);
        }
        finally
        {
            release.TrySetResult();
            await BoundedAsync(conn.DisposeAsync().AsTask(), "DisposeAsync");
        }
    }

    [Fact]
    public async Task Dispose_while_a_send_is_stalled_returns_within_the_logout_timeout()
    {
        var stopReading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var target = new FakeTarget(async s =>
        {
            await s.LoginAsync(BigFirstBurst);
            s.Socket.ReceiveBufferSize = 4096;
            await s.ReadAsync();
            stopReading.SetResult();
            await release.Task;
        });
        // a command timeout far longer than the test: only the bounded logout can end DisposeAsync in time
        var options = target.Options with { CommandTimeout = TimeSpan.FromMinutes(10) };
        var conn = await IscsiConnection.ConnectAsync(options, Isid, 0);
        var data = new byte[16776704];
        var write = conn.ExecuteAsync(new ScsiCommand(0, Cdb.Write16(0, (uint)(data.Length / 512)), DataOut: data));
        try
        {
            await BoundedAsync(stopReading.Task, "the target never got the command");
            await Task.Delay(200); // the write is now stuck on the full socket, holding the send lock
            Assert.False(write.IsCompleted);
            var sw = Stopwatch.StartNew();
            await BoundedAsync(conn.DisposeAsync().AsTask(), "DisposeAsync with a stalled send");
            output.WriteLine($"DisposeAsync: {sw.ElapsedMilliseconds} ms");
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"DisposeAsync took {sw.Elapsed}"); // the logout gives up after 5 s
            await BoundedAsync(Assert.ThrowsAsync<IscsiConnectionException>(() => write), "the write after DisposeAsync");
        }
        finally
        {
            release.TrySetResult();
        }
    }

    [Fact]
    public async Task Command_window_closed_for_the_command_timeout_drops_the_connection()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var target = new FakeTarget(async s =>
        {
            await s.LoginAsync(maxCmdSN: 0); // ExpCmdSN 1, MaxCmdSN 0: the window is closed and never opens
            await release.Task;
        });
        var options = target.Options with { CommandTimeout = TimeSpan.FromSeconds(1) };
        var conn = await IscsiConnection.ConnectAsync(options, Isid, 0);
        try
        {
            var e = await BoundedAsync(Assert.ThrowsAsync<IscsiConnectionException>(() => conn.ExecuteAsync(new ScsiCommand(0, Cdb.TestUnitReady()))),
                "a command on a closed window");
            Assert.Contains("window stayed closed", e.Message);
            // the retry must not wait on the same dead window again: the connection is gone, a retry logs in anew
            Assert.False(conn.IsUsable);
        }
        finally
        {
            release.TrySetResult();
            await BoundedAsync(conn.DisposeAsync().AsTask(), "DisposeAsync");
        }
    }

    [Fact]
    public async Task Commands_waiting_for_a_reconnect_share_one_failed_login_instead_of_each_timing_out_in_turn()
    {
        // a portal that accepts connections and never answers a login (a target whose login thread is stuck)
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var held = new List<Socket>();
        using var stop = new CancellationTokenSource();
        var accept = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    var socket = await listener.AcceptSocketAsync(stop.Token);
                    lock (held) held.Add(socket);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { }
        });
        var options = new IscsiInitiatorOptions
        {
            Host = "127.0.0.1",
            Port = ((IPEndPoint)listener.LocalEndpoint).Port,
            TargetName = "iqn.2025-01.test:silent",
            NopInterval = TimeSpan.Zero,
            LoginTimeout = TimeSpan.FromSeconds(1),
            MaxRetryAttempts = 1,
            RetryDelay = TimeSpan.FromMilliseconds(10),
        };
        try
        {
            await using var client = new IscsiClient(options);
            var sw = Stopwatch.StartNew();
            var commands = Enumerable.Range(0, 4).Select(_ => client.ExecuteAsync(new ScsiCommand(0, Cdb.TestUnitReady()))).ToArray();
            foreach (var command in commands)
            {
                var e = await BoundedAsync(Assert.ThrowsAsync<IscsiConnectionException>(() => command), "a command on a silent portal");
                Assert.Contains("login", e.Message);
            }
            int logins;
            lock (held) logins = held.Count;
            // two attempts per command; the commands waiting meanwhile take the failure of the login in progress: one login
            // per round (two), not one per command and attempt (eight, one after the other: 8 s here, 28 minutes with
            // the real timeouts)
            Assert.True(logins is >= 2 and <= 3, $"{logins} logins in {sw.Elapsed}");
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"all commands failed after {sw.Elapsed}");
        }
        finally
        {
            stop.Cancel();
            listener.Stop();
            await accept;
            lock (held) foreach (var s in held) s.Dispose();
        }
    }
}
