using System.Buffers;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using SmbCopy.Gateway.Smb.Connection;
using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Server;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Smb.Transport;

/// <summary>
/// Kestrel connection handler: one SMB connection per TCP connection. Reads direct-TCP frames
/// (MS-SMB2 2.1: a zero byte and a 24-bit big-endian length), caps their size by state, and hands
/// each to the dispatcher. Frames are processed concurrently (bounded) so that a long request
/// (a large copy, a change notification) does not stall the connection.
/// </summary>
public sealed class SmbConnectionHandler(SmbServer server, ILogger<SmbConnectionHandler> logger) : ConnectionHandler
{
    private const int MaxConcurrentFramesPerConnection = 64;
    /// <summary>Transform header plus slack for compounds around a maximal READ/WRITE.</summary>
    private const int FrameOverhead = 64 * 1024;
    private int _connections;

    public override async Task OnConnectedAsync(ConnectionContext context)
    {
        var remote = context.RemoteEndPoint as IPEndPoint;
        if (context is not SmbSocketConnection smb)
        {
            // Frames are received straight off the socket; a pipe-based transport would need another reader.
            logger.LogError("connection {ConnectionId} from {Remote} did not come from the SMB transport (listen on an SmbListenEndPoint)",
                context.ConnectionId, remote);
            context.Abort();
            return;
        }
        if (Interlocked.Increment(ref _connections) > server.Options.Limits.MaxConnections)
        {
            Interlocked.Decrement(ref _connections);
            logger.LogWarning("refusing connection from {Remote}: {Max} connections open (SmbCopy:Limits:MaxConnections)", remote, server.Options.Limits.MaxConnections);
            context.Abort();
            return;
        }
        SmbMetrics.ConnectionOpened();
        try
        {
            await ServeAsync(smb, remote).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _connections);
            SmbMetrics.ConnectionClosed();
        }
    }

    private async Task ServeAsync(SmbSocketConnection context, IPEndPoint? remote)
    {
        // Responses go straight to the socket from the buffer they were built in (no copy into the output pipe).
        var connection = new SmbConnection(server, context.Transport.Output, remote, context.Abort, logger)
        {
            DirectSocket = context.Socket,
        };
        var dispatcher = new Smb2Dispatcher(connection);
        using var concurrency = new SemaphoreSlim(MaxConcurrentFramesPerConnection);
        var running = new HashSet<Task>();
        logger.LogDebug("connection {ConnectionId} from {Remote}", connection.Id, remote);
        using var reader = new SocketFrameReader(context.Socket);
        Func<int> maxLength = () => connection.HasAuthenticatedSession
            ? server.Options.Limits.MaxIoSize + FrameOverhead
            : server.Options.Limits.MaxUnauthenticatedFrame;
        try
        {
            while (!connection.IsClosed)
            {
                var read = await reader.ReadAsync(maxLength, context.ConnectionClosed).ConfigureAwait(false);
                if (read.End) break;
                if (read.Frame is not { } frame)
                {
                    connection.Close($"malformed frame prefix or frame of {read.Length} bytes over the limit");
                    break;
                }
                await concurrency.WaitAsync(context.ConnectionClosed).ConfigureAwait(false);
                var task = RunFrameAsync(dispatcher, frame, read.Length, concurrency, inline: IsSingleChangeNotify(frame, read.Length));
                lock (running) running.Add(task);
                _ = task.ContinueWith(t => { lock (running) running.Remove(t); }, TaskScheduler.Default);
            }
        }
        catch (OperationCanceledException) { }
        catch (ConnectionResetException) { }
        catch (IOException) { }
        catch (System.Net.Sockets.SocketException) { }
        catch (ObjectDisposedException) { }
        finally
        {
            context.ReceiveEnded();
            Task[] pending;
            lock (running) pending = [.. running];
            foreach (var cts in connection.InFlight.Values) { try { cts.Cancel(); } catch (ObjectDisposedException) { } }
            try { await Task.WhenAll(pending).WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false); }
            catch (Exception ex) when (ex is TimeoutException or OperationCanceledException) { }
            await connection.DisposeSessionsAsync().ConfigureAwait(false);
            logger.LogDebug("connection {ConnectionId} closed", connection.Id);
        }
    }

    private static async Task RunFrameAsync(Smb2Dispatcher dispatcher, byte[] frame, int length, SemaphoreSlim concurrency, bool inline)
    {
        var slot = new FrameSlot(concurrency);
        try
        {
            if (!inline) await Task.Yield();
            await dispatcher.ProcessFrameAsync(frame, length, slot).ConfigureAwait(false);
        }
        finally
        {
            slot.Release();
        }
    }

    /// <summary>
    /// A frame holding one plain CHANGE_NOTIFY request starts on the read loop itself, so that it registers with its
    /// directory watch before the next frame is looked at: frames otherwise run in parallel, and of two CHANGE_NOTIFY
    /// requests sent back to back on one open the second could take the changes buffered for the first (which then
    /// waits for a change the client only makes after the first answer: smbtorture smb2.notify.double). Windows
    /// answers them in the order they were sent. The handler's first real wait comes after it has registered.
    /// </summary>
    private static bool IsSingleChangeNotify(byte[] frame, int length) =>
        length >= Smb2Header.Size && frame[0] == 0xFE && frame[1] == (byte)'S' && frame[2] == (byte)'M' && frame[3] == (byte)'B'
        && System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(frame.AsSpan(12)) == (ushort)Smb2Command.ChangeNotify
        && System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(frame.AsSpan(20)) == 0;
}
