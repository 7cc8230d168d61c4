using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using SmbCopy.Gateway.Smb.Server;
using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Protocol.Security;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Smb.Connection;

/// <summary>Per-TCP-connection SMB state (MS-SMB2 3.3.1.7) and the single response writer.</summary>
public sealed class SmbConnection(SmbServer server, PipeWriter output, IPEndPoint? remote, Action abort, ILogger logger)
{
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private int _negotiateState; // 0 none, 1 SMB1 multi-protocol answered (wildcard), 2 negotiated

    public SmbServer Server { get; } = server;
    public IPEndPoint? RemoteEndPoint { get; } = remote;
    public ILogger Logger { get; } = logger;
    public string Id { get; } = Guid.NewGuid().ToString("N")[..12];
    public DateTimeOffset ConnectedAt { get; } = DateTimeOffset.UtcNow;

    public CreditWindow Credits { get; } = new();
    public Smb2Dialect Dialect { get; private set; }
    public bool IsNegotiated => _negotiateState == 2;
    public bool AnsweredSmb1 => _negotiateState == 1;
    public Guid ClientGuid { get; set; }
    public uint ClientCapabilities { get; set; }
    public ushort ClientSecurityMode { get; set; }
    public IReadOnlyList<Smb2Dialect> ClientDialects { get; set; } = [];
    public uint ServerCapabilities { get; set; }
    public ushort ServerSecurityMode { get; set; }
    public bool SupportsMultiCredit { get; set; }
    /// <summary>MaxReadSize / MaxWriteSize / MaxTransactSize as announced in NEGOTIATE.</summary>
    public uint MaxReadSize { get; set; } = 65536;
    public uint MaxWriteSize { get; set; } = 65536;
    public uint MaxTransactSize { get; set; } = 65536;
    public CipherId Cipher { get; set; } = CipherId.None;
    public SigningAlgorithm SigningAlgorithm { get; set; } = SigningAlgorithm.HmacSha256;
    public PreauthIntegrityHash? PreauthHash { get; set; }
    /// <summary>True once any session on this connection authenticated: larger frames are allowed from then on.</summary>
    public bool HasAuthenticatedSession { get; set; }
    public ConcurrentDictionary<ulong, SmbSession> Sessions { get; } = new();
    /// <summary>Requests in flight, by MessageId, so that CANCEL can find them (3.3.5.16).</summary>
    public ConcurrentDictionary<ulong, CancellationTokenSource> InFlight { get; } = new();

    public void MarkSmb1Answered() => _negotiateState = 1;

    public void MarkNegotiated(Smb2Dialect dialect)
    {
        Dialect = dialect;
        _negotiateState = 2;
    }

    public bool IsClosed { get; private set; }

    public void Close(string reason)
    {
        if (IsClosed) return;
        IsClosed = true;
        Logger.LogInformation("closing connection {ConnectionId} from {Remote}: {Reason}", Id, RemoteEndPoint, reason);
        abort();
    }

    /// <summary>
    /// The connection's socket when the transport exposes it: frames are then sent with one send call straight from the
    /// caller's buffer instead of being copied into the transport's output pipe (8 MiB per READ response).
    /// </summary>
    public System.Net.Sockets.Socket? DirectSocket { get; init; }

    /// <summary>
    /// Sends <paramref name="frame"/>[0..<paramref name="length"/>) as one direct-TCP frame: the first 4 bytes are free
    /// for the length prefix (MS-SMB2 2.1), which is written here. The caller keeps the buffer until this completes.
    /// </summary>
    public async ValueTask SendFramedAsync(byte[] frame, int length)
    {
        int payload = length - 4;
        frame[0] = 0;
        frame[1] = (byte)(payload >> 16);
        frame[2] = (byte)(payload >> 8);
        frame[3] = (byte)payload;
        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (IsClosed) return;
            if (DirectSocket is { } socket)
            {
                // Stream sockets: SendAsync completes when everything is sent; loop anyway on a short count.
                for (int sent = 0; sent < length;)
                {
                    int n = await socket.SendAsync(frame.AsMemory(sent, length - sent), System.Net.Sockets.SocketFlags.None).ConfigureAwait(false);
                    if (n <= 0) { Close("send returned 0"); return; }
                    sent += n;
                }
            }
            else
            {
                await output.WriteAsync(frame.AsMemory(0, length)).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or OperationCanceledException
            or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            Close("send failed: " + ex.Message);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Writes one direct-TCP frame (4-byte length prefix, MS-SMB2 2.1) under the connection's send lock.</summary>
    public async ValueTask SendFrameAsync(ReadOnlyMemory<byte> payload)
    {
        if (DirectSocket is not null)
        {
            // Same path as the dispatcher's frames: nothing may interleave with a direct send in the output pipe.
            var frame = System.Buffers.ArrayPool<byte>.Shared.Rent(4 + payload.Length);
            try
            {
                payload.CopyTo(frame.AsMemory(4));
                await SendFramedAsync(frame, 4 + payload.Length).ConfigureAwait(false);
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(frame);
            }
            return;
        }
        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (IsClosed) return;
            var prefix = output.GetSpan(4);
            prefix[0] = 0;
            prefix[1] = (byte)(payload.Length >> 16);
            prefix[2] = (byte)(payload.Length >> 8);
            prefix[3] = (byte)payload.Length;
            output.Advance(4);
            await output.WriteAsync(payload).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or OperationCanceledException)
        {
            Close("send failed: " + ex.Message);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>
    /// Tears down what this connection owns when the TCP connection ends: its channel of each session, and
    /// the sessions that have no channel left (a multichannel session lives on through its other channels).
    /// </summary>
    public async ValueTask DisposeSessionsAsync()
    {
        foreach (var cts in InFlight.Values) cts.Cancel();
        foreach (var session in Sessions.Values)
        {
            if (!session.RemoveChannel(this) && session.State != SessionState.Expired) continue;
            await Server.RemoveSessionAsync(session).ConfigureAwait(false);
            if (session.Channels.Count == 0) session.Dispose();
        }
        Sessions.Clear();
    }
}
