using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;

namespace SmbCopy.Storage.Nfs;

/// <summary>
/// One TCP connection carrying ONC RPC (RFC 5531) with record marking (§11: 4-byte big-endian word, bit 31 = last
/// fragment). Many calls are in flight at once; a reader task matches replies to calls by XID. Calls from the server
/// (the NFSv4.1 backchannel, RFC 8881 §2.10.3.1: CB_COMPOUND on this same connection) go to the call handler, whose
/// reply record is sent back on this connection. Any transport failure fails every pending call with
/// <see cref="NfsTransientException"/> and the connection is dead (a new one is made by <see cref="RpcClient"/>).
/// </summary>
internal sealed class RpcConnection : IAsyncDisposable
{
    private const int MaxRecord = 64 * 1024 * 1024;
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly ConcurrentDictionary<uint, TaskCompletionSource<byte[]>> _pending = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reader;
    private readonly Func<byte[], XdrWriter?>? _onCall;
    private volatile Exception? _fault;

    private RpcConnection(Socket socket, Func<byte[], XdrWriter?>? onCall)
    {
        _socket = socket;
        _onCall = onCall;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = Task.Run(ReadLoopAsync);
    }

    public bool IsFaulted => _fault is not null;

    public static async Task<RpcConnection> ConnectAsync(string host, int port, Func<byte[], XdrWriter?>? onCall,
        CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(15));
            await socket.ConnectAsync(host, port, timeout.Token).ConfigureAwait(false);
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            return new RpcConnection(socket, onCall);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new NfsTransientException($"Cannot connect to NFS server {host}:{port}: {e.Message}", e);
        }
    }

    /// <summary>Sends one complete record (the first 4 bytes are patched with the record mark) and waits for the reply
    /// with the same XID. The reply is returned whole (header included).</summary>
    public async Task<byte[]> CallAsync(uint xid, XdrWriter record, CancellationToken cancellationToken)
    {
        if (_fault is { } f)
            throw new NfsTransientException("The NFS connection is closed: " + f.Message, f);
        var tcs = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_pending.TryAdd(xid, tcs))
            throw new InvalidOperationException("XID reused while in flight.");
        record.PatchU32(0, 0x8000_0000u | (uint)(record.Length - 4));
        bool writing = false;
        try
        {
            await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                // The caller's token reaches the write: a server that stopped reading (its TCP window full) would
                // otherwise hold this call, and every call queued behind _sendLock, for as long as the connection
                // lives (keepalive does not end a connection whose peer still ACKs).
                writing = true;
                await _stream.WriteAsync(record.WrittenMemory, cancellationToken).ConfigureAwait(false);
            }
            finally { _sendLock.Release(); }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            _pending.TryRemove(xid, out _);
            Fail(e);
            throw new NfsTransientException("Sending to the NFS server failed: " + e.Message, e);
        }
        catch (OperationCanceledException e) when (writing)
        {
            // Part of the record may be on the wire: the stream's framing is lost, so is the connection.
            _pending.TryRemove(xid, out _);
            Fail(new IOException("A send to the NFS server was cancelled midway.", e));
            throw;
        }
        catch
        {
            _pending.TryRemove(xid, out _);
            throw;
        }
        try
        {
            return await tcs.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _pending.TryRemove(xid, out _); // a late reply is dropped; the session treats the slot as uncertain
            throw;
        }
    }

    private async Task ReadLoopAsync()
    {
        var header = new byte[4];
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                byte[]? record = null;
                int length = 0;
                bool last = false;
                while (!last)
                {
                    await _stream.ReadExactlyAsync(header, _stop.Token).ConfigureAwait(false);
                    uint mark = BinaryPrimitives.ReadUInt32BigEndian(header);
                    last = (mark & 0x8000_0000u) != 0;
                    int fragment = (int)(mark & 0x7FFF_FFFFu);
                    if (length + (long)fragment > MaxRecord)
                        throw new NfsProtocolException($"RPC record larger than {MaxRecord} bytes.");
                    if (record is null)
                        record = new byte[Math.Max(fragment, 8)];
                    else if (record.Length < length + fragment)
                        Array.Resize(ref record, length + fragment);
                    await _stream.ReadExactlyAsync(record.AsMemory(length, fragment), _stop.Token).ConfigureAwait(false);
                    length += fragment;
                }
                if (length < 8)
                    throw new NfsProtocolException("RPC record shorter than its header.");
                if (record!.Length != length)
                    Array.Resize(ref record, length);
                uint xid = BinaryPrimitives.ReadUInt32BigEndian(record);
                uint type = BinaryPrimitives.ReadUInt32BigEndian(record.AsSpan(4));
                if (type != 1)
                {
                    // A CALL from the server (backchannel). The handler only decodes and hands results on; the reply
                    // is sent without holding up this loop.
                    if (type == 0 && _onCall?.Invoke(record) is { } reply)
                        _ = SendReplyAsync(reply);
                    continue;
                }
                if (_pending.TryRemove(xid, out var tcs))
                    tcs.TrySetResult(record);
            }
        }
        catch (Exception e)
        {
            Fail(e);
        }
    }

    private async Task SendReplyAsync(XdrWriter reply)
    {
        reply.PatchU32(0, 0x8000_0000u | (uint)(reply.Length - 4));
        try
        {
            await _sendLock.WaitAsync(_stop.Token).ConfigureAwait(false);
            try
            {
                await _stream.WriteAsync(reply.WrittenMemory, _stop.Token).ConfigureAwait(false); // ends with the connection
            }
            finally { _sendLock.Release(); }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            Fail(e);
        }
    }

    private void Fail(Exception e)
    {
        _fault ??= e;
        try { _socket.Shutdown(SocketShutdown.Both); } catch (Exception) { /* already closed */ }
        foreach (var key in _pending.Keys)
            if (_pending.TryRemove(key, out var tcs))
                tcs.TrySetException(new NfsTransientException("The NFS connection was lost: " + e.Message, e));
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        Fail(new ObjectDisposedException(nameof(RpcConnection)));
        await _stream.DisposeAsync().ConfigureAwait(false);
        // The reader ends with the socket; it is not waited for longer than that takes (a dispose never waits on the
        // server: nothing here needs an answer).
        try { await _reader.WaitAsync(ReaderStopTimeout).ConfigureAwait(false); }
        catch (Exception) { /* faulted, or still running: it fails on the disposed socket by itself */ }
        _stop.Dispose();
        _sendLock.Dispose();
    }

    private static readonly TimeSpan ReaderStopTimeout = TimeSpan.FromSeconds(2);
}

/// <summary>
/// ONC RPC client for program NFS v4 with AUTH_SYS credentials; reconnects when the connection died.
/// </summary>
internal sealed class RpcClient : IAsyncDisposable
{
    private readonly string _host;
    private readonly int _port;
    private readonly byte[] _credential;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private RpcConnection? _connection;
    private int _xid = Random.Shared.Next();
    private volatile bool _disposed;

    /// <summary>How long <see cref="DisposeAsync"/> waits for a connect in progress (which holds the connect lock for up to
    /// its own 15 s timeout) before it closes the current connection anyway.</summary>
    internal static readonly TimeSpan DisposeLockTimeout = TimeSpan.FromSeconds(2);

    public RpcClient(string host, int port, uint uid, uint gid)
    {
        _host = host;
        _port = port;
        // AUTH_SYS body (RFC 5531 App. A): stamp, machinename<255>, uid, gid, gids<16>
        var w = new XdrWriter(64);
        w.U32((uint)Environment.TickCount).String("smbcopy").U32(uid).U32(gid).U32(1).U32(gid);
        _credential = w.Written.ToArray();
    }

    public string Endpoint => $"{_host}:{_port}";

    /// <summary>Handles a CALL the server sends on the connection (the whole record, RPC header included) and returns
    /// the reply record (4 bytes reserved for the record mark), or null to send none.</summary>
    public Func<byte[], XdrWriter?>? CallHandler { get; set; }

    /// <summary>Incremented each time a new connection is made.</summary>
    public int ConnectionGeneration { get; private set; }

    /// <summary>Starts a call: record mark placeholder, RPC header, AUTH_SYS credential, AUTH_NONE verifier.</summary>
    public XdrWriter Begin(uint procedure, out uint xid, int capacity = 512)
    {
        xid = unchecked((uint)Interlocked.Increment(ref _xid));
        var w = new XdrWriter(capacity + 128);
        w.Reserve(4);
        w.U32(xid).U32(0).U32(2).U32(Nfs4.Program).U32(Nfs4.Version).U32(procedure);
        w.U32(1).Opaque(_credential); // AUTH_SYS
        w.U32(0).U32(0);              // verifier AUTH_NONE
        return w;
    }

    /// <summary>Sends the call and returns a reader positioned at the procedure's results.</summary>
    public async Task<XdrReader> CallAsync(uint xid, XdrWriter call, CancellationToken cancellationToken)
    {
        var connection = await ConnectAsync(cancellationToken).ConfigureAwait(false);
        byte[] reply = await connection.CallAsync(xid, call, cancellationToken).ConfigureAwait(false);
        var r = new XdrReader(reply);
        r.U32("xid");
        r.U32("msg_type");
        uint replyStat = r.U32("reply_stat");
        if (replyStat == 1)
        {
            uint reject = r.U32("reject_stat");
            if (reject == 0)
                throw new NfsProtocolException($"RPC_MISMATCH: server supports RPC versions {r.U32()}..{r.U32()}.");
            uint auth = r.U32("auth_stat");
            throw new StorageException(StorageError.AccessDenied, $"The NFS server refused the AUTH_SYS credential (auth_stat {auth}).");
        }
        if (replyStat != 0)
            throw new NfsProtocolException($"Unknown RPC reply_stat {replyStat}.");
        r.U32("verifier flavor");
        r.OpaqueSpan(400, "verifier");
        uint accept = r.U32("accept_stat");
        switch (accept)
        {
            case 0: return r;
            case 1: throw new StorageException(StorageError.NotSupported, "The server does not serve NFS (PROG_UNAVAIL).");
            case 2: throw new StorageException(StorageError.NotSupported, $"The server does not speak NFSv4 (PROG_MISMATCH {r.U32()}..{r.U32()}).");
            case 3: throw new StorageException(StorageError.NotSupported, "PROC_UNAVAIL from the NFS server.");
            case 4: throw new NfsProtocolException("The NFS server could not decode the call (GARBAGE_ARGS).");
            default: throw new NfsTransientException($"The NFS server failed the call (accept_stat {accept}).");
        }
    }

    private async ValueTask<RpcConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        var c = _connection;
        if (c is not null && !c.IsFaulted)
            return c;
        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            c = _connection;
            if (c is not null && !c.IsFaulted)
                return c;
            if (c is not null)
                await c.DisposeAsync().ConfigureAwait(false);
            _connection = null;
            c = await RpcConnection.ConnectAsync(_host, _port, CallHandler, cancellationToken).ConfigureAwait(false);
            if (_disposed)
            {
                // DisposeAsync gave up waiting for this connect: the connection would never be closed.
                await c.DisposeAsync().ConfigureAwait(false);
                throw new ObjectDisposedException(nameof(RpcClient));
            }
            _connection = c;
            ConnectionGeneration++;
            return c;
        }
        finally { _connectLock.Release(); }
    }

    /// <summary>Drops the current connection (the next call reconnects).</summary>
    public async Task ResetConnectionAsync()
    {
        await _connectLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_connection is { } c)
                await c.DisposeAsync().ConfigureAwait(false);
            _connection = null;
        }
        finally { _connectLock.Release(); }
    }

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        // Bounded: a connect in progress holds the lock for up to 15 s; it sees _disposed and closes what it made.
        bool locked = await _connectLock.WaitAsync(DisposeLockTimeout).ConfigureAwait(false);
        try
        {
            var c = Interlocked.Exchange(ref _connection, null);
            if (c is not null)
                await c.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            if (locked)
                _connectLock.Release();
        }
    }

    internal static string Describe(ReadOnlySpan<byte> bytes) => Encoding.ASCII.GetString(bytes);
}
