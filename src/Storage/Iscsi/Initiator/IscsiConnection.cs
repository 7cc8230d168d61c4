using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SmbCopy.Storage.Iscsi.Scsi;

namespace SmbCopy.Storage.Iscsi.Initiator;

/// <summary>
/// One logged-in iSCSI session on one TCP connection (MaxConnections=1, ErrorRecoveryLevel=0), in full feature phase.
/// Many commands are in flight at once, matched by Initiator Task Tag; CmdSN stays within [ExpCmdSN, MaxCmdSN];
/// writes send immediate / unsolicited data as negotiated and the rest per R2T; target NOP-In pings are answered and
/// idle connections are pinged. Any protocol or transport fault closes the connection and fails every command in
/// flight with a transient <see cref="IscsiException"/> (recovery = new connection, <see cref="IscsiClient"/>).
/// <para>Cancellation is honoured until a command is sent; after that it runs to completion, or until
/// <see cref="IscsiInitiatorOptions.CommandTimeout"/> drops the connection (the caller's buffers are written by the
/// receive loop until then).</para>
/// </summary>
public sealed class IscsiConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly IscsiInitiatorOptions _options;
    private readonly IscsiCounters _counters;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly Lock _sn = new();
    private readonly ConcurrentDictionary<uint, PendingTask> _tasks = new();
    private readonly ConcurrentDictionary<uint, TaskCompletionSource> _pings = new();
    private readonly CancellationTokenSource _cts = new();
    private TaskCompletionSource _windowOpened = NewTcs();
    private TaskCompletionSource? _logout;
    private uint _cmdSN, _expCmdSN, _maxCmdSN, _expStatSN;
    private int _nextItt;
    private long _lastReceive = Environment.TickCount64;
    private long _sendingSince; // Environment.TickCount64 when the write in progress started; 0 when none is
    private Exception? _fault;
    private Task _receiveLoop = Task.CompletedTask, _monitor = Task.CompletedTask;

    private IscsiConnection(Socket socket, IscsiInitiatorOptions options, IscsiNegotiatedParameters parameters, LoginResult login,
        IscsiCounters counters, ILogger logger)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _options = options;
        Parameters = parameters;
        _counters = counters;
        _logger = logger;
        _cmdSN = login.CmdSN;
        _expCmdSN = login.ExpCmdSN;
        _maxCmdSN = login.MaxCmdSN;
        _expStatSN = login.ExpStatSN;
        _nextItt = 0x10;
    }

    public IscsiNegotiatedParameters Parameters { get; }

    /// <summary>Why the connection ended; null while it is usable.</summary>
    public Exception? Fault => Volatile.Read(ref _fault);

    public bool IsUsable => Fault == null;

    /// <summary>Commands sent and not yet completed.</summary>
    public int InFlight => _tasks.Count;

    /// <summary>Connects, logs in (following up to three redirects) and starts the receive and keep-alive loops.</summary>
    public static async Task<IscsiConnection> ConnectAsync(IscsiInitiatorOptions options, byte[] isid, ushort tsih,
        IscsiCounters? counters = null, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        logger ??= NullLogger.Instance;
        string host = options.Host;
        int port = options.Port;
        for (int redirects = 0; ; redirects++)
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.SendBufferSize = 1 << 20;
                socket.ReceiveBufferSize = 1 << 20;
                using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    connectTimeout.CancelAfter(options.ConnectTimeout);
                    try
                    {
                        await socket.ConnectAsync(host, port, connectTimeout.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        throw new IscsiConnectionException($"connect to {host}:{port} timed out after {options.ConnectTimeout.TotalSeconds:0} s");
                    }
                    catch (SocketException e)
                    {
                        throw new IscsiConnectionException($"connect to {host}:{port}: {e.SocketErrorCode}", e);
                    }
                }
                LoginResult login;
                using (var loginTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    loginTimeout.CancelAfter(options.LoginTimeout);
                    var stream = new NetworkStream(socket, ownsSocket: false);
                    try
                    {
                        login = await IscsiLogin.LoginAsync(stream, options, isid, tsih, 1, loginTimeout.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        throw new IscsiConnectionException($"login to {host}:{port} timed out after {options.LoginTimeout.TotalSeconds:0} s");
                    }
                }
                var conn = new IscsiConnection(socket, options, login.Parameters, login, counters ?? new IscsiCounters(), logger);
                logger.LogInformation("iSCSI login to {Target} at {Host}:{Port}: TSIH {Tsih}, {Parameters}", options.TargetName, host, port,
                    login.Parameters.Tsih, login.Parameters);
                conn.Start();
                return conn;
            }
            catch (IscsiRedirectException r) when (redirects < 3)
            {
                socket.Dispose();
                (host, port) = ParseAddress(r.Address, port);
                logger.LogInformation("iSCSI login redirected to {Host}:{Port}", host, port);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
    }

    /// <summary>"host:port,tpgt" or "[v6]:port,tpgt" (RFC 7143 §13.9).</summary>
    internal static (string Host, int Port) ParseAddress(string address, int defaultPort)
    {
        int comma = address.LastIndexOf(',');
        if (comma >= 0) address = address[..comma];
        if (address.StartsWith('['))
        {
            int close = address.IndexOf(']');
            string h = address[1..close];
            return (h, close + 2 < address.Length ? int.Parse(address[(close + 2)..], System.Globalization.CultureInfo.InvariantCulture) : defaultPort);
        }
        int colon = address.LastIndexOf(':');
        return colon < 0 ? (address, defaultPort)
            : (address[..colon], int.Parse(address[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    private void Start()
    {
        _receiveLoop = Task.Run(ReceiveLoopAsync);
        _monitor = Task.Run(MonitorLoopAsync);
    }

    // ---------------------------------------------------------------- commands

    /// <summary>Sends one SCSI command and waits for its status. A non-GOOD status is returned, not thrown.</summary>
    public async Task<ScsiResult> ExecuteAsync(ScsiCommand command, CancellationToken cancellationToken = default)
    {
        if (command.Cdb.Length is 0 or > 16) throw new ArgumentException("CDB must be 1 to 16 bytes", nameof(command));
        if (command.DataIn.Length > 0 && command.DataOut.Length > 0) throw new ArgumentException("bidirectional commands are not supported");
        ThrowIfFaulted();
        uint itt = NextItt();
        var task = new PendingTask(itt, command);
        _tasks[itt] = task;
        _counters.CountCommand(command.Cdb);
        try
        {
            await SendCommandAsync(task, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _tasks.TryRemove(itt, out _);
            throw;
        }
        try
        {
            return await task.Completion.Task.WaitAsync(_options.CommandTimeout, CancellationToken.None).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            var e = new IscsiConnectionException($"{command.Name}: no response within {_options.CommandTimeout.TotalSeconds:0} s; connection dropped");
            Abort(e);
            throw e;
        }
    }

    private async Task SendCommandAsync(PendingTask task, CancellationToken cancellationToken)
    {
        var cmd = task.Command;
        var p = Parameters;
        int length = cmd.DataOut.Length;
        bool write = length > 0, read = cmd.DataIn.Length > 0;
        int immediate = write && p.ImmediateData ? Math.Min(length, Math.Min(p.FirstBurstLength, p.TargetMaxRecvDataSegmentLength)) : 0;
        int unsolicited = write && !p.InitialR2T ? Math.Min(length, p.FirstBurstLength) : immediate;
        var bhs = new Bhs { Opcode = IscsiOpcode.ScsiCommand };
        bhs.Flags = (byte)((unsolicited > immediate ? 0 : 0x80) | (read ? 0x40 : 0) | (write ? 0x20 : 0) | 0x01 /* SIMPLE */);
        bhs.LunField = Bhs.EncodeLun(cmd.Lun);
        bhs.InitiatorTaskTag = task.Itt;
        bhs.SetUInt32(20, (uint)(write ? length : cmd.DataIn.Length));
        cmd.Cdb.CopyTo(bhs.Span[32..]);
        DateTime deadline = DateTime.UtcNow + _options.CommandTimeout;
        while (true)
        {
            Task? wait = null;
            await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                ThrowIfFaulted();
                lock (_sn)
                {
                    if (SerialLe(_cmdSN, _maxCmdSN))
                    {
                        bhs.SetUInt32(24, _cmdSN++);
                        bhs.SetUInt32(28, _expStatSN);
                    }
                    else wait = _windowOpened.Task;
                }
                if (wait == null)
                {
                    await WritePduLockedAsync(bhs, cmd.DataOut[..immediate]).ConfigureAwait(false);
                    if (unsolicited > immediate)
                        await WriteDataOutLockedAsync(task, Bhs.ReservedTag, immediate, unsolicited - immediate).ConfigureAwait(false);
                    return;
                }
            }
            finally
            {
                _sendLock.Release();
            }
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                // A window closed for a whole command timeout is a target that stopped working on this session: retrying
                // on the same connection would only wait again, so drop it (ERL 0 recovery: the retry logs in anew).
                var e = new IscsiConnectionException(
                    $"{cmd.Name}: command window stayed closed for {_options.CommandTimeout.TotalSeconds:0} s (CmdSN {_cmdSN}, MaxCmdSN {_maxCmdSN}); connection dropped");
                Abort(e);
                throw e;
            }
            try
            {
                await wait.WaitAsync(left, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException) { }
        }
    }

    /// <summary>Data-Out PDUs for [offset, offset + length) of a write, each at most the target's
    /// MaxRecvDataSegmentLength, DataSN from 0, F on the last (RFC 7143 §11.7). Caller holds the send lock.</summary>
    private async Task WriteDataOutLockedAsync(PendingTask task, uint ttt, int offset, int length)
    {
        int max = Parameters.TargetMaxRecvDataSegmentLength;
        uint dataSN = 0;
        for (int done = 0; done < length;)
        {
            int n = Math.Min(max, length - done);
            var bhs = new Bhs { Opcode = IscsiOpcode.DataOut, Final = done + n == length };
            bhs.LunField = Bhs.EncodeLun(task.Command.Lun);
            bhs.InitiatorTaskTag = task.Itt;
            bhs.SetUInt32(20, ttt);
            lock (_sn) bhs.SetUInt32(28, _expStatSN);
            bhs.SetUInt32(36, dataSN++);
            bhs.SetUInt32(40, (uint)(offset + done));
            await WritePduLockedAsync(bhs, task.Command.DataOut.Slice(offset + done, n)).ConfigureAwait(false);
            _counters.DataOut();
            done += n;
        }
    }

    private async Task WritePduLockedAsync(Bhs bhs, ReadOnlyMemory<byte> data)
    {
        var digests = Parameters.Digests;
        byte[] header = PduCodec.EncodeHeader(bhs, default, data.Length, digests);
        byte[] trailer = PduCodec.EncodeTrailer(data.Span, digests);
        // watched by MonitorLoopAsync: a target that stops taking bytes (TCP window shut, connection not closed) would
        // otherwise hold the send lock for ever, and with it every command, Data-Out, NOP-Out and the logout
        Volatile.Write(ref _sendingSince, Math.Max(1, Environment.TickCount64));
        try
        {
            if (data.Length <= 16384)
            {
                // one send for small PDUs
                var all = new byte[header.Length + data.Length + trailer.Length];
                header.CopyTo(all, 0);
                data.Span.CopyTo(all.AsSpan(header.Length));
                trailer.CopyTo(all, header.Length + data.Length);
                await _stream.WriteAsync(all, _cts.Token).ConfigureAwait(false);
            }
            else
            {
                await _stream.WriteAsync(header, _cts.Token).ConfigureAwait(false);
                await _stream.WriteAsync(data, _cts.Token).ConfigureAwait(false);
                if (trailer.Length > 0) await _stream.WriteAsync(trailer, _cts.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or SocketException)
        {
            var fault = Fault ?? new IscsiConnectionException("connection lost while sending: " + e.Message, e);
            Abort(fault);
            throw fault;
        }
        finally
        {
            Volatile.Write(ref _sendingSince, 0);
        }
        _counters.AddBytesOut(data.Length);
    }

    // ---------------------------------------------------------------- NOP, logout

    /// <summary>NOP-Out ping (immediate, CmdSN not advanced); completes when the NOP-In answer arrives.</summary>
    public async Task PingAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfFaulted();
        uint itt = NextItt();
        var tcs = NewTcs();
        _pings[itt] = tcs;
        try
        {
            var bhs = new Bhs { Opcode = IscsiOpcode.NopOut, Immediate = true, Final = true };
            bhs.InitiatorTaskTag = itt;
            bhs.SetUInt32(20, Bhs.ReservedTag);
            await SendImmediateAsync(bhs, cancellationToken).ConfigureAwait(false);
            _counters.NopOut();
            await tcs.Task.WaitAsync(_options.NopTimeout, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _pings.TryRemove(itt, out _);
        }
    }

    private async Task SendImmediateAsync(Bhs bhs, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfFaulted();
            lock (_sn)
            {
                bhs.SetUInt32(24, _cmdSN); // immediate: CmdSN carried, not advanced
                bhs.SetUInt32(28, _expStatSN);
            }
            await WritePduLockedAsync(bhs, ReadOnlyMemory<byte>.Empty).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Logout (reason: close the session) and close. Errors are swallowed: the connection is closed either way.</summary>
    public async Task LogoutAsync(CancellationToken cancellationToken = default)
    {
        if (!IsUsable) return;
        // Bounded as a whole: a send stuck on a target that stopped reading (ours, or the one holding the send lock)
        // must not keep DisposeAsync — and IscsiClient.DisposeAsync, which holds its connect lock meanwhile — waiting.
        // When the time is up the connection is closed, which ends such a send too.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(LogoutTimeout);
        using var closeWhenLate = timeout.Token.Register(static c =>
        {
            try
            {
                ((IscsiConnection)c!).Abort(new IscsiConnectionException($"logout not completed within {LogoutTimeout.TotalSeconds:0} s; connection closed"));
            }
            catch { /* runs on a timer thread, where an exception would end the process */ }
        }, this);
        try
        {
            _logout = NewTcs();
            var bhs = new Bhs { Opcode = IscsiOpcode.LogoutRequest, Immediate = true, Flags = 0x80 /* F, reason 0 */ };
            bhs.InitiatorTaskTag = NextItt();
            await SendImmediateAsync(bhs, timeout.Token).ConfigureAwait(false);
            await _logout.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IscsiException or OperationCanceledException)
        {
            _logger.LogDebug("iSCSI logout: {Message}", e.Message);
        }
        Abort(new IscsiConnectionException("session logged out"));
    }

    public async ValueTask DisposeAsync()
    {
        await LogoutAsync().ConfigureAwait(false);
        Abort(new IscsiConnectionException("connection closed"));
        try { await Task.WhenAll(_receiveLoop, _monitor).ConfigureAwait(false); } catch { /* already reported through Fault */ }
        _stream.Dispose();
        _socket.Dispose();
        _cts.Dispose();
    }

    /// <summary>Closes the connection now (ERL 0): every command in flight fails with <paramref name="reason"/>.</summary>
    public void Abort(Exception reason)
    {
        if (Interlocked.CompareExchange(ref _fault, reason, null) != null) return;
        if (reason.Message is not ("connection closed" or "session logged out"))
            _logger.LogWarning("iSCSI connection to {Target} dropped: {Reason}", _options.TargetName, reason.Message);
        try { _cts.Cancel(); } catch (ObjectDisposedException) { }
        try { _socket.Shutdown(SocketShutdown.Both); } catch { /* not connected */ }
        _socket.Close();
        foreach (var (itt, t) in _tasks)
            if (_tasks.TryRemove(itt, out _)) t.Completion.TrySetException(reason);
        foreach (var (_, p) in _pings) p.TrySetException(reason);
        _logout?.TrySetResult();
        lock (_sn) _windowOpened.TrySetResult();
    }

    private void ThrowIfFaulted()
    {
        if (Fault is { } f) throw f as IscsiException ?? new IscsiConnectionException(f.Message, f);
    }

    private uint NextItt()
    {
        while (true)
        {
            uint itt = (uint)Interlocked.Increment(ref _nextItt);
            if (itt != Bhs.ReservedTag && itt != 0 && !_tasks.ContainsKey(itt)) return itt;
        }
    }

    // ---------------------------------------------------------------- receive side

    private async Task ReceiveLoopAsync()
    {
        var token = _cts.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                var (bhs, _) = await PduStream.ReadHeaderAsync(_stream, Parameters.MaxRecvDataSegmentLength, Parameters.Digests, token)
                    .ConfigureAwait(false);
                Volatile.Write(ref _lastReceive, Environment.TickCount64);
                switch (bhs.Opcode)
                {
                    case IscsiOpcode.DataIn: await OnDataInAsync(bhs, token).ConfigureAwait(false); break;
                    case IscsiOpcode.ScsiResponse: OnScsiResponse(bhs, await ReadDataAsync(bhs, token).ConfigureAwait(false)); break;
                    case IscsiOpcode.ReadyToTransfer: OnR2T(bhs); await ReadDataAsync(bhs, token).ConfigureAwait(false); break;
                    case IscsiOpcode.NopIn: OnNopIn(bhs); await ReadDataAsync(bhs, token).ConfigureAwait(false); break;
                    case IscsiOpcode.LogoutResponse:
                        await ReadDataAsync(bhs, token).ConfigureAwait(false);
                        UpdateStatSN(bhs.GetUInt32(24));
                        _logout?.TrySetResult();
                        break;
                    case IscsiOpcode.AsyncMessage: OnAsyncMessage(bhs, await ReadDataAsync(bhs, token).ConfigureAwait(false)); break;
                    case IscsiOpcode.Reject: OnReject(bhs, await ReadDataAsync(bhs, token).ConfigureAwait(false)); break;
                    case IscsiOpcode.TaskManagementResponse or IscsiOpcode.TextResponse:
                        UpdateStatSN(bhs.GetUInt32(24));
                        UpdateWindow(bhs.GetUInt32(28), bhs.GetUInt32(32));
                        await ReadDataAsync(bhs, token).ConfigureAwait(false);
                        break;
                    default:
                        throw new IscsiProtocolException($"unexpected PDU from the target: {bhs}");
                }
            }
        }
        catch (Exception e) when (token.IsCancellationRequested && e is OperationCanceledException or IscsiException or ObjectDisposedException or IOException)
        {
            // closed on purpose
        }
        catch (Exception e)
        {
            Abort(e as IscsiException ?? new IscsiConnectionException("receive failed: " + e.Message, e));
        }
    }

    private async ValueTask<byte[]> ReadDataAsync(Bhs bhs, CancellationToken token)
    {
        var data = bhs.DataSegmentLength == 0 ? [] : new byte[bhs.DataSegmentLength];
        await PduStream.ReadDataAsync(_stream, bhs, data, Parameters.Digests, token).ConfigureAwait(false);
        return data;
    }

    private async ValueTask OnDataInAsync(Bhs bhs, CancellationToken token)
    {
        UpdateWindow(bhs.GetUInt32(28), bhs.GetUInt32(32));
        _counters.DataIn();
        uint itt = bhs.InitiatorTaskTag;
        int length = bhs.DataSegmentLength;
        if (!_tasks.TryGetValue(itt, out var task))
            throw new IscsiProtocolException($"Data-In for unknown task 0x{itt:X8}");
        uint offset = bhs.GetUInt32(40);
        var buffer = task.Command.DataIn;
        if (offset > (uint)buffer.Length || length > buffer.Length - (int)offset)
            throw new IscsiProtocolException($"Data-In for {task.Command.Name} at offset {offset} + {length} exceeds the {buffer.Length} expected");
        await PduStream.ReadDataAsync(_stream, bhs, buffer.Slice((int)offset, length), Parameters.Digests, token).ConfigureAwait(false);
        _counters.AddBytesIn(length);
        task.Received = Math.Max(task.Received, (int)offset + length);
        if ((bhs.Flags & 0x01) != 0) // S: status carried, no SCSI Response follows
        {
            UpdateStatSN(bhs.GetUInt32(24));
            Complete(task, (ScsiStatus)bhs.Span[3], Residual(bhs), null);
        }
    }

    private static int Residual(Bhs bhs)
    {
        uint r = bhs.GetUInt32(44);
        if ((bhs.Flags & 0x02) != 0) return (int)Math.Min(r, int.MaxValue);   // U: underflow
        if ((bhs.Flags & 0x04) != 0) return -(int)Math.Min(r, int.MaxValue);  // O: overflow
        return 0;
    }

    private void OnScsiResponse(Bhs bhs, byte[] data)
    {
        UpdateStatSN(bhs.GetUInt32(24));
        UpdateWindow(bhs.GetUInt32(28), bhs.GetUInt32(32));
        if (!_tasks.TryGetValue(bhs.InitiatorTaskTag, out var task))
            throw new IscsiProtocolException($"SCSI Response for unknown task 0x{bhs.InitiatorTaskTag:X8}");
        byte response = bhs.Span[2];
        if (response != 0)
        {
            if (_tasks.TryRemove(task.Itt, out _))
                task.Completion.TrySetException(new IscsiProtocolException(
                    $"{task.Command.Name}: iSCSI response 0x{response:X2} ({(response == 1 ? "target failure" : "unknown")})"));
            return;
        }
        SenseData? sense = null;
        if (data.Length >= 2)
        {
            int senseLength = BinaryPrimitives.ReadUInt16BigEndian(data);
            if (senseLength > data.Length - 2)
                throw new IscsiProtocolException($"sense length {senseLength} exceeds the {data.Length - 2} bytes sent");
            sense = SenseData.Decode(data.AsSpan(2, senseLength));
        }
        Complete(task, (ScsiStatus)bhs.Span[3], Residual(bhs), sense);
    }

    private void Complete(PendingTask task, ScsiStatus status, int residual, SenseData? sense)
    {
        if (_tasks.TryRemove(task.Itt, out _))
            task.Completion.TrySetResult(new ScsiResult(status, task.Received, residual, sense));
    }

    private void OnR2T(Bhs bhs)
    {
        UpdateWindow(bhs.GetUInt32(28), bhs.GetUInt32(32));
        _counters.R2T();
        if (!_tasks.TryGetValue(bhs.InitiatorTaskTag, out var task))
            throw new IscsiProtocolException($"R2T for unknown task 0x{bhs.InitiatorTaskTag:X8}");
        uint ttt = bhs.GetUInt32(20), offset = bhs.GetUInt32(40), length = bhs.GetUInt32(44);
        int total = task.Command.DataOut.Length;
        if (length == 0 || offset > (uint)total || length > (uint)(total - (int)offset) || length > (uint)Parameters.MaxBurstLength)
            throw new IscsiProtocolException($"R2T for {task.Command.Name}: offset {offset} + {length} outside the {total}-byte write");
        // Send from another task: the receive loop keeps draining responses meanwhile.
        _ = Task.Run(async () =>
        {
            try
            {
                await _sendLock.WaitAsync(_cts.Token).ConfigureAwait(false);
                try
                {
                    await WriteDataOutLockedAsync(task, ttt, (int)offset, (int)length).ConfigureAwait(false);
                }
                finally
                {
                    _sendLock.Release();
                }
            }
            catch (Exception e)
            {
                Abort(e as IscsiException ?? new IscsiConnectionException("sending Data-Out failed: " + e.Message, e));
            }
        });
    }

    private void OnNopIn(Bhs bhs)
    {
        UpdateWindow(bhs.GetUInt32(28), bhs.GetUInt32(32));
        uint itt = bhs.InitiatorTaskTag, ttt = bhs.GetUInt32(20);
        if (itt != Bhs.ReservedTag)
        {
            UpdateStatSN(bhs.GetUInt32(24));
            if (_pings.TryGetValue(itt, out var ping)) ping.TrySetResult();
            return;
        }
        if (ttt == Bhs.ReservedTag) return; // unsolicited window update, no answer wanted
        // the target pings: answer with NOP-Out, same TTT and LUN, ITT reserved, immediate (RFC 7143 §11.18)
        var reply = new Bhs { Opcode = IscsiOpcode.NopOut, Immediate = true, Final = true };
        reply.LunField = bhs.LunField;
        reply.InitiatorTaskTag = Bhs.ReservedTag;
        reply.SetUInt32(20, ttt);
        _ = Task.Run(async () =>
        {
            try
            {
                await SendImmediateAsync(reply, _cts.Token).ConfigureAwait(false);
                _counters.NopOut();
            }
            catch (Exception e) when (e is IscsiException or OperationCanceledException or ObjectDisposedException) { }
        });
    }

    private void OnAsyncMessage(Bhs bhs, byte[] data)
    {
        UpdateStatSN(bhs.GetUInt32(24));
        UpdateWindow(bhs.GetUInt32(28), bhs.GetUInt32(32));
        byte evt = bhs.Span[36];
        switch (evt)
        {
            case 0:
                SenseData? sense = data.Length >= 2 && BinaryPrimitives.ReadUInt16BigEndian(data) <= data.Length - 2
                    ? SenseData.Decode(data.AsSpan(2, BinaryPrimitives.ReadUInt16BigEndian(data))) : null;
                _logger.LogInformation("iSCSI asynchronous SCSI event: {Sense}", sense);
                break;
            case 1:
                _logger.LogInformation("iSCSI target requests logout; reconnecting");
                _ = Task.Run(() => LogoutAsync());
                break;
            case 2 or 3:
                Abort(new IscsiConnectionException($"target drops the {(evt == 2 ? "connection" : "session")} (asynchronous event {evt})"));
                break;
            default:
                _logger.LogDebug("iSCSI asynchronous event {Event} ignored", evt);
                break;
        }
    }

    private void OnReject(Bhs bhs, byte[] data)
    {
        UpdateStatSN(bhs.GetUInt32(24));
        UpdateWindow(bhs.GetUInt32(28), bhs.GetUInt32(32));
        byte reason = bhs.Span[2];
        if (data.Length < Bhs.Length)
            throw new IscsiProtocolException($"Reject (reason 0x{reason:X2}) without the rejected header");
        uint itt = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(16));
        var e = new IscsiProtocolException($"target rejected a {(IscsiOpcode)(data[0] & 0x3F)} PDU, reason 0x{reason:X2}");
        if (_tasks.TryRemove(itt, out var task)) task.Completion.TrySetException(e);
        else if (_pings.TryGetValue(itt, out var ping)) ping.TrySetException(e);
        else _logger.LogWarning("{Message}", e.Message);
    }

    private void UpdateStatSN(uint statSN)
    {
        lock (_sn)
            if (SerialLe(_expStatSN, statSN + 1)) _expStatSN = statSN + 1;
    }

    /// <summary>RFC 7143 §4.2.2.1: ignore MaxCmdSN &lt; ExpCmdSN − 1; otherwise only move forward.</summary>
    private void UpdateWindow(uint expCmdSN, uint maxCmdSN)
    {
        lock (_sn)
        {
            if (SerialLt(maxCmdSN, expCmdSN - 1)) return;
            if (SerialLt(_expCmdSN, expCmdSN)) _expCmdSN = expCmdSN;
            if (SerialLt(_maxCmdSN, maxCmdSN))
            {
                _maxCmdSN = maxCmdSN;
                var opened = _windowOpened;
                _windowOpened = NewTcs();
                opened.TrySetResult();
            }
        }
    }

    /// <summary>Serial number arithmetic (RFC 1982, 32 bits).</summary>
    internal static bool SerialLt(uint a, uint b) => a != b && (int)(a - b) < 0;
    internal static bool SerialLe(uint a, uint b) => a == b || (int)(a - b) < 0;

    /// <summary>How long a logout (sending it included) may take before the connection is closed without it.</summary>
    internal static readonly TimeSpan LogoutTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Once a second (or faster for short timeouts): drops the connection when one PDU write has been pending for
    /// longer than <see cref="IscsiInitiatorOptions.CommandTimeout"/> (the target stopped reading without closing: the
    /// send lock would be held for ever, and the command timeout only starts once a command is sent), and sends a
    /// NOP-Out ping after <see cref="IscsiInitiatorOptions.NopInterval"/> without anything received.
    /// </summary>
    private async Task MonitorLoopAsync()
    {
        var token = _cts.Token;
        long nopInterval = (long)_options.NopInterval.TotalMilliseconds;
        long stallLimit = Math.Max(1, (long)_options.CommandTimeout.TotalMilliseconds);
        long tick = Math.Clamp(stallLimit / 4, 50, 1000);
        if (nopInterval > 0) tick = Math.Min(tick, Math.Max(100, nopInterval / 2));
        Task ping = Task.CompletedTask;
        try
        {
            while (!token.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(tick), token).ConfigureAwait(false);
                long now = Environment.TickCount64, since = Volatile.Read(ref _sendingSince);
                if (since != 0 && now - since > stallLimit)
                {
                    Abort(new IscsiConnectionException(
                        $"the target took no data for {(now - since) / 1000.0:0.#} s (send stalled); connection dropped"));
                    return;
                }
                // the ping runs beside the loop: it may wait for the send lock, and the stall check must go on meanwhile
                if (nopInterval > 0 && ping.IsCompleted && now - Volatile.Read(ref _lastReceive) >= nopInterval)
                    ping = KeepAlivePingAsync(token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException) { }
        await ping.ConfigureAwait(false);
    }

    private async Task KeepAlivePingAsync(CancellationToken token)
    {
        try
        {
            await PingAsync(token).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Abort(new IscsiConnectionException($"no NOP-In within {_options.NopTimeout.TotalSeconds:0} s; connection dropped"));
        }
        catch (Exception e) when (e is OperationCanceledException or IscsiException or ObjectDisposedException) { }
    }

    private static TaskCompletionSource NewTcs() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed class PendingTask(uint itt, ScsiCommand command)
    {
        public uint Itt { get; } = itt;
        public ScsiCommand Command { get; } = command;
        public int Received { get; set; }
        public TaskCompletionSource<ScsiResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
