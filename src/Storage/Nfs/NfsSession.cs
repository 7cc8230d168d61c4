using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace SmbCopy.Storage.Nfs;

/// <summary>Builds the operations of one COMPOUND (after the SEQUENCE the session adds).</summary>
internal sealed class Compound(XdrWriter writer)
{
    public int Count { get; private set; }
    public XdrWriter W { get; } = writer;

    public XdrWriter Op(uint op)
    {
        Count++;
        return W.U32(op);
    }
}

/// <summary>
/// The results of one COMPOUND, read op by op in the order they were sent (RFC 8881 §16.2: results stop after the
/// first failing operation).
/// </summary>
internal sealed class NfsReply(XdrReader reader, int status, int count)
{
    private int _left = count;

    public XdrReader R { get; } = reader;
    public int Status { get; } = status;

    /// <summary>Reads the next result's header; returns its status (the body follows only when it is OK, except for
    /// the few operations whose failure has a body).</summary>
    public int Next(uint op)
    {
        if (_left == 0)
            return Status == Nfs4.Ok ? throw new NfsProtocolException($"The server returned fewer results than operations (missing op {op}).") : Status;
        _left--;
        uint got = R.U32("resop");
        int status = R.I32("status");
        if (got != op)
        {
            if (got == Nfs4.OpIllegal)
                return Nfs4.IllegalOp;
            throw new NfsProtocolException($"Result for op {got} where op {op} was expected.");
        }
        return status;
    }

    /// <summary>Reads the next result's header and throws on failure.</summary>
    public void Ok(uint op, string what)
    {
        int status = Next(op);
        if (status != Nfs4.Ok)
            throw new NfsStatusException(status, op, what);
    }

    public bool HasMore => _left > 0;
}

/// <summary>
/// An NFSv4.1 client with one session (RFC 8881 §2.10): EXCHANGE_ID, CREATE_SESSION (fore channel sized to the
/// server's limits, a backchannel on the same connection for CB_OFFLOAD, RFC 7862 §15.9), SEQUENCE with a slot table, RECLAIM_COMPLETE, lease renewal while idle,
/// DESTROY_SESSION at dispose. Recovery: a lost connection is reconnected (SP4_NONE binds it on the next SEQUENCE);
/// a lost session (BADSESSION, DEADSESSION, SEQ_MISORDERED, an unanswered slot) is replaced by CREATE_SESSION; a lost
/// client (STALE_CLIENTID: the server restarted) by EXCHANGE_ID again, which bumps <see cref="StateGeneration"/> so
/// that handles reopen their files. Every COMPOUND runs through a Polly retry pipeline for transient faults
/// (connection reset, DELAY, GRACE, session recovery).
/// </summary>
internal sealed class NfsSession : IAsyncDisposable
{
    private readonly RpcClient _rpc;
    private readonly ILogger _logger;
    private readonly byte[] _verifier = RandomNumberGenerator.GetBytes(8);
    private readonly string _owner;
    private readonly SemaphoreSlim _recoverLock = new(1, 1);
    private readonly ResiliencePipeline _pipeline;
    private readonly Timer _renewTimer;
    private SessionState? _session;
    private ulong _clientId;
    private uint _createSessionSeq;
    private bool _haveClient;
    private long _lastRenewTicks = Environment.TickCount64;
    private int _leaseSeconds = 90;
    private int _disposed;
    private int _binding;
    private long _lastBindTicks = -10_000;
    private readonly object _offloadGate = new();
    private readonly Dictionary<string, TaskCompletionSource<OffloadResult>> _offloads = new(StringComparer.Ordinal);
    private readonly Dictionary<string, OffloadResult> _earlyOffloads = new(StringComparer.Ordinal);

    /// <summary>The callback program number sent in CREATE_SESSION; CB_COMPOUND calls for another are refused.</summary>
    public const uint CallbackProgram = 0x4000_0000;

    /// <summary>Longest one <see cref="RunAsync"/> (all its retries) may take.</summary>
    internal static readonly TimeSpan TotalTimeout = TimeSpan.FromMinutes(5);

    /// <summary>How long <see cref="DisposeAsync"/> waits for DESTROY_SESSION and DESTROY_CLIENTID together. They only
    /// free the server's state early (its lease expiry frees it anyway), so a server that does not answer in time is
    /// logged and left.</summary>
    internal TimeSpan TeardownTimeout { get; set; } = TimeSpan.FromSeconds(5);

    private sealed class SessionState
    {
        public required byte[] Id;
        public required uint[] SlotSeq;
        public required SemaphoreSlim Slots;
        public required System.Collections.Concurrent.ConcurrentStack<int> Free;
        public required int MaxRequest, MaxResponse, MaxResponseCached, MaxOps;
        public volatile bool Broken;
        public int Generation;
        /// <summary>The server accepted CREATE_SESSION4_FLAG_CONN_BACK_CHAN.</summary>
        public bool BackChannel;
        /// <summary>SEQUENCE said the callback path is down (a new connection is bound to the fore channel only).</summary>
        public volatile bool CallbackPathDown;
    }

    public NfsSession(RpcClient rpc, ILogger logger, string ownerHint)
    {
        _rpc = rpc;
        _logger = logger;
        _owner = $"smbcopy/{Environment.MachineName}/{ownerHint}/{Guid.NewGuid():N}";
        _pipeline = new ResiliencePipelineBuilder()
            // Outermost: the whole of one COMPOUND, retries included. The retries below are sized for a server that
            // is briefly away (90 x at most 2 s), but each attempt may wait 120 s for its reply, so a server that
            // keeps the connection and never answers would otherwise hold the caller for hours.
            .AddTimeout(TotalTimeout)
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<NfsTransientException>().Handle<TimeoutRejectedException>(),
                MaxRetryAttempts = 90,
                Delay = TimeSpan.FromMilliseconds(100),
                MaxDelay = TimeSpan.FromSeconds(2),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                OnRetry = args =>
                {
                    if (args.AttemptNumber is 0 or 5 or 20 or 50)
                        _logger.LogInformation("NFS {Endpoint}: retrying after {Reason} (attempt {Attempt})", _rpc.Endpoint,
                            args.Outcome.Exception?.Message, args.AttemptNumber + 1);
                    return ValueTask.CompletedTask;
                },
            })
            .AddTimeout(TimeSpan.FromSeconds(120))
            .Build();
        _renewTimer = new Timer(_ => _ = RenewIfIdleAsync(), null, Timeout.Infinite, Timeout.Infinite);
        _rpc.CallHandler = HandleCall;
    }

    /// <summary>True when the server can reach this client on the backchannel now, so an asynchronous COPY's CB_OFFLOAD
    /// will arrive.</summary>
    public bool CallbacksUp => _session is { BackChannel: true, Broken: false, CallbackPathDown: false };

    /// <summary>Bumped when the server forgot this client (restart, lease expiry): open stateids are gone.</summary>
    public int StateGeneration { get; private set; }

    public ulong ClientId => _clientId;

    public int MaxOperations => _session?.MaxOps ?? 8;

    /// <summary>Largest READ/WRITE payload that fits the negotiated request and response sizes.</summary>
    public int IoSize
    {
        get
        {
            var s = _session;
            if (s is null) return 64 * 1024;
            int limit = Math.Min(s.MaxRequest, s.MaxResponse) - 1024;
            return Math.Max(4096, Math.Min(1024 * 1024, limit) & ~4095);
        }
    }

    public int MaxResponse => _session?.MaxResponse ?? 64 * 1024;

    public int LeaseSeconds
    {
        get => _leaseSeconds;
        set
        {
            _leaseSeconds = Math.Max(value, 5);
            var period = TimeSpan.FromSeconds(Math.Max(1, _leaseSeconds / 4));
            _renewTimer.Change(period, period);
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _pipeline.ExecuteAsync(async ct => await RecoverAsync(null, ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        LeaseSeconds = _leaseSeconds;
    }

    // ------------------------------------------------------------------ compounds

    /// <summary>Runs SEQUENCE + the operations <paramref name="build"/> writes, with retries on transient faults.
    /// <paramref name="build"/> may run more than once. <paramref name="cache"/> asks the server to keep the reply
    /// for a retry (operations that change state).</summary>
    public async Task<NfsReply> RunAsync(Action<Compound> build, bool cache, CancellationToken cancellationToken)
    {
        try
        {
            return await _pipeline.ExecuteAsync(
                static async (state, ct) => await state.Item1.RunOnceAsync(state.build, state.cache, ct).ConfigureAwait(false),
                (this, build, cache), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NfsTransientException or TimeoutRejectedException)
        {
            throw new StorageException(StorageError.Unavailable, $"NFS server {_rpc.Endpoint} unavailable: {e.Message}", e);
        }
        catch (NfsProtocolException e)
        {
            throw new StorageException(StorageError.IoError, e.Message, e);
        }
    }

    private async Task<NfsReply> RunOnceAsync(Action<Compound> build, bool cache, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var s = _session;
        if (s is null || s.Broken)
        {
            await RecoverAsync(s, cancellationToken).ConfigureAwait(false);
            s = _session!;
        }
        await s.Slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (!s.Free.TryPop(out int slot))
        {
            s.Slots.Release();
            throw new NfsTransientException("No free session slot.");
        }
        bool release = true;
        try
        {
            uint seq = s.SlotSeq[slot] + 1;
            var call = _rpc.Begin(Nfs4.ProcCompound, out uint xid, 256);
            call.String("").U32(2);
            int countAt = call.Reserve(4);
            var compound = new Compound(call);
            compound.Op(Nfs4.OpSequence).Fixed(s.Id).U32(seq).U32((uint)slot).U32((uint)(s.SlotSeq.Length - 1)).Bool(cache);
            build(compound);
            call.PatchU32(countAt, (uint)compound.Count);
            if (call.Length - 4 > s.MaxRequest)
                throw new InvalidOperationException($"COMPOUND of {call.Length} bytes exceeds the session's {s.MaxRequest}.");

            XdrReader r;
            try
            {
                r = await _rpc.CallAsync(xid, call, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is NfsTransientException or OperationCanceledException)
            {
                // No answer: whether the server executed it is unknown, so this slot's sequence is unknown too.
                MarkBroken(s, "no reply on slot " + slot);
                release = false;
                throw;
            }
            int status = r.I32("compound status");
            r.OpaqueSpan(1024, "tag");
            int count = (int)r.U32("result count");
            if (count == 0)
                throw Transient(s, status, "COMPOUND without results");
            uint op = r.U32("resop");
            int seqStatus = r.I32("SEQUENCE status");
            if (op != Nfs4.OpSequence)
                throw new NfsProtocolException($"First result is op {op}, not SEQUENCE.");
            if (seqStatus != Nfs4.Ok)
            {
                switch (seqStatus)
                {
                    case Nfs4.Delay:
                        throw new NfsTransientException("SEQUENCE: NFS4ERR_DELAY");
                    case Nfs4.BadSession or Nfs4.DeadSession or Nfs4.ConnNotBoundToSession or Nfs4.BadSlot
                        or Nfs4.SeqMisordered or Nfs4.BadHighSlot or Nfs4.SeqFalseRetry or Nfs4.RetryUncachedRep
                        or Nfs4.StaleClientId or Nfs4.Expired:
                        MarkBroken(s, Nfs4.StatusName(seqStatus));
                        release = false;
                        throw new NfsTransientException("SEQUENCE: " + Nfs4.StatusName(seqStatus));
                    default:
                        throw new NfsStatusException(seqStatus, Nfs4.OpSequence, "SEQUENCE");
                }
            }
            s.SlotSeq[slot] = seq;
            r.Skip(16, "sessionid");
            r.U32("sequenceid"); r.U32("slotid"); r.U32("highest_slotid"); r.U32("target_highest_slotid");
            uint flags = r.U32("status_flags");
            Volatile.Write(ref _lastRenewTicks, Environment.TickCount64);
            if ((flags & 0x0000_0100) != 0) // SEQ4_STATUS_RESTART_RECLAIM_NEEDED
                _logger.LogInformation("NFS {Endpoint}: server asks for reclaim after a restart", _rpc.Endpoint);
            // SEQ4_STATUS_CB_PATH_DOWN / CB_PATH_DOWN_SESSION / BACKCHANNEL_FAULT: bind this connection to the backchannel
            if (s.BackChannel && (flags & 0x0000_0601) != 0)
            {
                if (!s.CallbackPathDown)
                    _logger.LogInformation("NFS {Endpoint}: callback path down (flags 0x{Flags:x}); binding the connection", _rpc.Endpoint, flags);
                s.CallbackPathDown = true;
                _ = BindBackchannelAsync(s);
            }
            else if (s.CallbackPathDown && (flags & 0x0000_0601) == 0)
                s.CallbackPathDown = false;
            if (Nfs4.IsTransient(status))
                throw new NfsTransientException("COMPOUND: " + Nfs4.StatusName(status));
            return new NfsReply(r, status, count - 1);
        }
        finally
        {
            if (release)
            {
                s.Free.Push(slot);
                s.Slots.Release();
            }
        }
    }

    private NfsTransientException Transient(SessionState s, int status, string what)
    {
        if (status is Nfs4.BadSession or Nfs4.DeadSession or Nfs4.StaleClientId)
            MarkBroken(s, Nfs4.StatusName(status));
        return new NfsTransientException($"{what}: {Nfs4.StatusName(status)}");
    }

    private void MarkBroken(SessionState s, string why)
    {
        if (!s.Broken)
        {
            s.Broken = true;
            _logger.LogInformation("NFS {Endpoint}: session needs recovery ({Why})", _rpc.Endpoint, why);
        }
    }

    // ------------------------------------------------------------------ session establishment and recovery

    private async Task RecoverAsync(SessionState? failed, CancellationToken cancellationToken)
    {
        await _recoverLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var current = _session;
            if (current is not null && !current.Broken && !ReferenceEquals(current, failed))
                return; // someone else recovered already
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            if (failed is not null)
            {
                // The connection may be the cause; a fresh one costs little.
                await _rpc.ResetConnectionAsync().ConfigureAwait(false);
            }
            bool newClient = false;
            if (!_haveClient)
            {
                await ExchangeIdAsync(cancellationToken).ConfigureAwait(false);
                newClient = true;
            }
            SessionState session;
            try
            {
                session = await CreateSessionAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (NfsStatusException e) when (e.Status is Nfs4.StaleClientId or Nfs4.Expired or Nfs4.SeqMisordered)
            {
                _logger.LogInformation("NFS {Endpoint}: client id is stale ({Status}); the server restarted or expired it",
                    _rpc.Endpoint, Nfs4.StatusName(e.Status));
                await ExchangeIdAsync(cancellationToken).ConfigureAwait(false);
                newClient = true;
                session = await CreateSessionAsync(cancellationToken).ConfigureAwait(false);
            }
            var old = _session;
            _session = session;
            session.Generation = (old?.Generation ?? 0) + 1;
            if (old is not null)
                _ = DestroySessionQuietlyAsync(old.Id);
            if (newClient)
            {
                StateGeneration++;
                var reply = await RunOnceAsync(c => c.Op(Nfs4.OpReclaimComplete).Bool(false), false, cancellationToken).ConfigureAwait(false);
                int st = reply.Next(Nfs4.OpReclaimComplete);
                if (st is not (Nfs4.Ok or Nfs4.CompleteAlready))
                    _logger.LogWarning("NFS {Endpoint}: RECLAIM_COMPLETE: {Status}", _rpc.Endpoint, Nfs4.StatusName(st));
            }
            _logger.LogInformation("NFS {Endpoint}: session {Generation} ready (client {Client:x16}, {Slots} slots, {MaxReq} bytes, {Ops} ops)",
                _rpc.Endpoint, session.Generation, _clientId, session.SlotSeq.Length, session.MaxRequest, session.MaxOps);
        }
        finally { _recoverLock.Release(); }
    }

    /// <summary>A COMPOUND without SEQUENCE (EXCHANGE_ID, CREATE_SESSION, DESTROY_*): exactly one operation.</summary>
    private async Task<XdrReader> SoloAsync(uint op, Action<XdrWriter> args, CancellationToken cancellationToken)
    {
        var call = _rpc.Begin(Nfs4.ProcCompound, out uint xid);
        call.String("").U32(2).U32(1).U32(op);
        args(call);
        var r = await _rpc.CallAsync(xid, call, cancellationToken).ConfigureAwait(false);
        int status = r.I32("compound status");
        r.OpaqueSpan(1024, "tag");
        uint count = r.U32("result count");
        if (count == 0)
            throw new NfsStatusException(status, op, "COMPOUND");
        uint got = r.U32("resop");
        int opStatus = r.I32("status");
        if (got != op)
            throw new NfsProtocolException($"Result for op {got}, expected {op}.");
        if (opStatus == Nfs4.Delay)
            throw new NfsTransientException($"op {op}: NFS4ERR_DELAY");
        if (opStatus == Nfs4.MinorVersMismatch)
            throw new StorageException(StorageError.NotSupported, "The NFS server does not support NFSv4.2.");
        if (opStatus != Nfs4.Ok)
            throw new NfsStatusException(opStatus, op, $"op {op}");
        return r;
    }

    private async Task ExchangeIdAsync(CancellationToken cancellationToken)
    {
        var r = await SoloAsync(Nfs4.OpExchangeId, w =>
        {
            w.Fixed(_verifier).String(_owner);
            w.U32(0x0001_0000); // EXCHGID4_FLAG_USE_NON_PNFS
            w.U32(0);           // SP4_NONE
            w.U32(0);           // client_impl_id<1>: none
        }, cancellationToken).ConfigureAwait(false);
        _clientId = r.U64("clientid");
        _createSessionSeq = r.U32("sequenceid");
        r.U32("flags");
        uint sp = r.U32("state_protect");
        if (sp != 0)
            throw new NfsProtocolException($"The server chose state protection {sp}; SP4_NONE was asked.");
        _haveClient = true;
    }

    private async Task<SessionState> CreateSessionAsync(CancellationToken cancellationToken)
    {
        const int wantSize = 4 * 1024 * 1024 + 64 * 1024;
        var r = await SoloAsync(Nfs4.OpCreateSession, w =>
        {
            w.U64(_clientId).U32(_createSessionSeq).U32(0x2); // CREATE_SESSION4_FLAG_CONN_BACK_CHAN: CB_OFFLOAD comes here
            // fore channel: ask big, the server lowers to its limits
            w.U32(0).U32(wantSize).U32(wantSize).U32(64 * 1024).U32(64).U32(64).U32(0);
            // back channel: CB_SEQUENCE + CB_OFFLOAD are small; nothing is cached
            w.U32(0).U32(16 * 1024).U32(16 * 1024).U32(0).U32(4).U32(4).U32(0);
            w.U32(CallbackProgram); // cb_program
            w.U32(1).U32(0);    // callback_sec_parms4<>: AUTH_NONE
        }, cancellationToken).ConfigureAwait(false);
        _createSessionSeq++;
        var id = r.Fixed(16, "sessionid");
        r.U32("sequenceid");
        uint sessionFlags = r.U32("flags");
        r.U32("headerpadsize");
        int maxReq = (int)Math.Min(r.U32("maxrequestsize"), int.MaxValue);
        int maxResp = (int)Math.Min(r.U32("maxresponsesize"), int.MaxValue);
        int maxCached = (int)Math.Min(r.U32("maxresponsesize_cached"), int.MaxValue);
        int maxOps = (int)Math.Min(r.U32("maxoperations"), 1024);
        int slots = (int)Math.Clamp(r.U32("maxrequests"), 1u, 256u);
        if (maxReq < 1024 || maxResp < 1024 || maxOps < 2)
            throw new NfsProtocolException($"Unusable session limits: request {maxReq}, response {maxResp}, {maxOps} ops.");
        var free = new System.Collections.Concurrent.ConcurrentStack<int>();
        for (int i = slots - 1; i >= 0; i--) free.Push(i);
        return new SessionState
        {
            Id = id, SlotSeq = new uint[slots], Slots = new SemaphoreSlim(slots, slots), Free = free,
            MaxRequest = maxReq, MaxResponse = maxResp, MaxResponseCached = maxCached, MaxOps = maxOps,
            BackChannel = (sessionFlags & 0x2) != 0,
        };
    }

    private async Task DestroySessionQuietlyAsync(byte[] id)
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await SoloAsync(Nfs4.OpDestroySession, w => w.Fixed(id), cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _logger.LogDebug("NFS {Endpoint}: DESTROY_SESSION: {Error}", _rpc.Endpoint, e.Message);
        }
    }

    // ------------------------------------------------------------------ backchannel (RFC 8881 §2.10.3.1, §20; RFC 7862 §16.1)

    /// <summary>BIND_CONN_TO_SESSION (CDFC4_BACK_OR_BOTH) of the current connection, once at a time.</summary>
    private async Task BindBackchannelAsync(SessionState s)
    {
        if (Environment.TickCount64 - Volatile.Read(ref _lastBindTicks) < 5000 || Interlocked.Exchange(ref _binding, 1) != 0)
            return;
        Volatile.Write(ref _lastBindTicks, Environment.TickCount64);
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var r = await SoloAsync(Nfs4.OpBindConnToSession, w => w.Fixed(s.Id).U32(3).Bool(false), cts.Token).ConfigureAwait(false);
            r.Skip(16, "sessionid");
            uint dir = r.U32("dir");
            _logger.LogInformation("NFS {Endpoint}: connection bound to the session (direction {Dir})", _rpc.Endpoint, dir);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _logger.LogInformation("NFS {Endpoint}: BIND_CONN_TO_SESSION failed: {Error}; asynchronous copies are polled", _rpc.Endpoint, e.Message);
        }
        finally { Volatile.Write(ref _binding, 0); }
    }

    /// <summary>The result of an asynchronous COPY (CB_OFFLOAD, or OFFLOAD_STATUS with osr_complete).</summary>
    internal sealed record OffloadResult(int Status, long Count, uint Committed, byte[] Verifier);

    private static string OffloadKey(ReadOnlySpan<byte> stateId) => Convert.ToHexString(stateId[4..16]); // "other": seqid may differ

    /// <summary>Completes when the server reports the end of the asynchronous copy <paramref name="stateId"/> (a
    /// CB_OFFLOAD that came before this call counts).</summary>
    internal Task<OffloadResult> WaitForOffload(byte[] stateId)
    {
        string key = OffloadKey(stateId);
        lock (_offloadGate)
        {
            if (!_offloads.TryGetValue(key, out var tcs))
                _offloads[key] = tcs = new TaskCompletionSource<OffloadResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_earlyOffloads.Remove(key, out var early))
                tcs.TrySetResult(early);
            return tcs.Task;
        }
    }

    internal void ForgetOffload(byte[] stateId)
    {
        string key = OffloadKey(stateId);
        lock (_offloadGate)
        {
            _offloads.Remove(key);
            _earlyOffloads.Remove(key);
        }
    }

    /// <summary>Also used by OFFLOAD_STATUS when the server fills osr_complete.</summary>
    internal void CompleteOffload(byte[] stateId, OffloadResult result)
    {
        string key = OffloadKey(stateId);
        lock (_offloadGate)
        {
            if (_offloads.TryGetValue(key, out var tcs))
                tcs.TrySetResult(result);
            else
            {
                if (_earlyOffloads.Count > 1024)
                    _earlyOffloads.Clear(); // copies nobody waits for any more
                _earlyOffloads[key] = result;
            }
        }
    }

    /// <summary>A CALL from the server on the connection: CB_NULL, or CB_COMPOUND with CB_SEQUENCE + CB_OFFLOAD. Runs on
    /// the connection's reader: decodes, completes waiters, returns the reply.</summary>
    private XdrWriter? HandleCall(byte[] record)
    {
        var r = new XdrReader(record);
        uint xid;
        try
        {
            xid = r.U32("xid");
        }
        catch (NfsProtocolException)
        {
            return null;
        }
        var reply = new XdrWriter(256);
        reply.Reserve(4);
        reply.U32(xid).U32(1).U32(0).U32(0).U32(0); // REPLY, MSG_ACCEPTED, verifier AUTH_NONE
        try
        {
            r.U32("msg_type");
            uint rpcVersion = r.U32("rpcvers");
            uint prog = r.U32("prog"), vers = r.U32("vers"), proc = r.U32("proc");
            r.U32("cred flavor"); r.OpaqueSpan(400, "cred");
            r.U32("verf flavor"); r.OpaqueSpan(400, "verf");
            if (rpcVersion != 2 || prog != CallbackProgram)
                return reply.U32(1); // PROG_UNAVAIL
            if (vers != 1)
                return reply.U32(2).U32(1).U32(1); // PROG_MISMATCH 1..1
            if (proc == 0)
                return reply.U32(0); // CB_NULL
            if (proc != 1)
                return reply.U32(3); // PROC_UNAVAIL
            var body = CbCompound(r);
            reply.U32(0);
            reply.Fixed(body.Written);
            return reply;
        }
        catch (NfsProtocolException e)
        {
            _logger.LogWarning("NFS {Endpoint}: undecodable callback: {Error}", _rpc.Endpoint, e.Message);
            return reply.U32(4); // GARBAGE_ARGS
        }
    }

    private XdrWriter CbCompound(XdrReader r)
    {
        var tag = r.Opaque(1024, "tag");
        r.U32("minorversion");
        r.U32("callback_ident");
        uint count = r.U32("op count");
        var results = new XdrWriter(128);
        int done = 0, status = Nfs4.Ok;
        for (uint i = 0; i < count && status == Nfs4.Ok; i++)
        {
            uint op = r.U32("cb op");
            done++;
            switch (op)
            {
                case Nfs4.CbOpSequence:
                {
                    var sid = r.Fixed(16, "sessionid");
                    uint seq = r.U32("sequenceid"), slot = r.U32("slotid"), high = r.U32("highest_slotid");
                    r.Bool("cachethis");
                    uint lists = r.U32("referring_call_lists");
                    for (uint l = 0; l < lists; l++)
                    {
                        r.Skip(16, "referring sessionid");
                        uint calls = r.U32("referring_calls");
                        for (uint c = 0; c < calls; c++) { r.U32(); r.U32(); }
                    }
                    if (i != 0)
                        status = Nfs4.SequencePos;
                    else if (_session is not { } s || !s.Id.AsSpan().SequenceEqual(sid))
                        status = Nfs4.BadSession;
                    results.U32(op).U32((uint)status);
                    if (status == Nfs4.Ok)
                        results.Fixed(sid).U32(seq).U32(slot).U32(high).U32(high);
                    break;
                }
                case Nfs4.CbOpOffload:
                {
                    r.OpaqueSpan(128, "coa_fh");
                    var stateId = r.Fixed(16, "coa_stateid");
                    int copyStatus = r.I32("coa_status");
                    OffloadResult result;
                    if (copyStatus == Nfs4.Ok)
                    {
                        uint ids = r.U32("wr_callback_id count");
                        if (ids > 1) throw new NfsProtocolException("CB_OFFLOAD with more than one callback id.");
                        if (ids == 1) r.Skip(16, "wr_callback_id");
                        long copied = r.I64("wr_count");
                        uint committed = r.U32("wr_committed");
                        var verifier = r.Fixed(8, "wr_writeverf");
                        result = new OffloadResult(Nfs4.Ok, copied, committed, verifier);
                    }
                    else
                        result = new OffloadResult(copyStatus, r.I64("coa_bytes_copied"), Nfs4.Unstable, []);
                    _logger.LogDebug("NFS {Endpoint}: CB_OFFLOAD {State}: {Status}, {Count} bytes", _rpc.Endpoint,
                        OffloadKey(stateId), Nfs4.StatusName(copyStatus), result.Count);
                    CompleteOffload(stateId, result);
                    results.U32(op).U32(0);
                    break;
                }
                default:
                    status = op is >= 3 and <= 15 ? Nfs4.NotSupp : Nfs4.IllegalOp;
                    results.U32(status == Nfs4.IllegalOp ? (uint)Nfs4.IllegalOp : op).U32((uint)status);
                    break;
            }
        }
        var w = new XdrWriter(results.Length + 64);
        w.U32((uint)status).Opaque(tag).U32((uint)done).Fixed(results.Written);
        return w;
    }

    // ------------------------------------------------------------------ lease

    private async Task RenewIfIdleAsync()
    {
        if (_disposed != 0 || _session is null)
            return;
        long idleMs = Environment.TickCount64 - Volatile.Read(ref _lastRenewTicks);
        if (idleMs < _leaseSeconds * 1000L / 3)
            return;
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(_leaseSeconds));
            await _pipeline.ExecuteAsync(async ct => await RunOnceAsync(_ => { }, false, ct).ConfigureAwait(false), cts.Token)
                .ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _logger.LogWarning("NFS {Endpoint}: lease renewal failed: {Error}", _rpc.Endpoint, e.Message);
        }
    }

    /// <summary>For tests: forget the session as if the server had dropped it.</summary>
    internal void SimulateLostSession()
    {
        if (_session is { } s)
            MarkBroken(s, "simulated");
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        await _renewTimer.DisposeAsync().ConfigureAwait(false);
        var s = _session;
        if (s is not null && !s.Broken)
        {
            using var cts = new CancellationTokenSource(TeardownTimeout);
            try
            {
                await SoloAsync(Nfs4.OpDestroySession, w => w.Fixed(s.Id), cts.Token).ConfigureAwait(false);
                await SoloAsync(Nfs4.OpDestroyClientid, w => w.U64(_clientId), cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cts.IsCancellationRequested)
            {
                _logger.LogInformation("NFS {Endpoint}: no answer to DESTROY_SESSION/DESTROY_CLIENTID within {Seconds} s; "
                    + "closing without it (the server frees the client's state when its lease expires)", _rpc.Endpoint, TeardownTimeout.TotalSeconds);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A restarted server no longer knows the session or client (BADSESSION, STALE_CLIENTID): nothing to free.
                _logger.LogDebug("NFS {Endpoint}: teardown: {Error}", _rpc.Endpoint, e.Message);
            }
        }
        _recoverLock.Dispose();
    }
}
