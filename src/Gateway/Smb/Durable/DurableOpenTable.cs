using System.Collections.Concurrent;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Smb.Durable;

/// <summary>
/// The durable opens of the server (GlobalOpenTable for durable opens, MS-SMB2 3.3.1.5), by persistent FileId, and
/// the durable open scavenger (3.3.2.x DurableOpenScavengerTimer, 3.3.7.1). A disconnected open keeps its storage
/// handle, share modes, byte-range locks and oplock until a reconnect claims it, a conflicting open purges it or
/// its timeout passes. Persistent FileIds are issued here for every file open, so they are unique server-wide.
/// </summary>
public sealed class DurableOpenTable : IDisposable
{
    /// <summary>DH2Q with Timeout 0 gets 60 s (Windows Server 2012 and later; v1 opens get the same).</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);
    /// <summary>The longest a disconnected open is kept, whatever the client asked for (Windows caps at 300 s).</summary>
    public static readonly TimeSpan MaximumTimeout = TimeSpan.FromSeconds(300);

    private readonly ConcurrentDictionary<ulong, DurableState> _byId = new();
    private readonly object _gate = new();
    private readonly TimeProvider _time;
    private readonly ILogger? _log;
    private ITimer? _scavenger;
    private long _nextPersistentId;

    public DurableOpenTable(TimeProvider time, ILogger? log = null)
    {
        _time = time;
        _log = log;
        // Random start: FileIds of a restarted server do not name opens of the previous run.
        _nextPersistentId = (long)(((ulong)Random.Shared.NextInt64() & 0x0000_FFFF_0000_0000UL) | 1);
    }

    public int Count => _byId.Count;
    public int DisconnectedCount => _byId.Values.Count(s => s.IsDisconnected);

    /// <summary>A persistent FileId never used before by this server (all file opens take theirs here).</summary>
    public ulong NextPersistentId() => (ulong)Interlocked.Increment(ref _nextPersistentId);

    public void Register(DurableState state) => _byId[state.PersistentId] = state;

    /// <summary>The open was closed by its client (CLOSE, TREE_DISCONNECT): it is no longer reconnectable.</summary>
    public void Remove(DurableState state)
    {
        lock (_gate) state.IsGone = true;
        _byId.TryRemove(new KeyValuePair<ulong, DurableState>(state.PersistentId, state));
    }

    public DurableState? Find(ulong persistentId) => _byId.GetValueOrDefault(persistentId);

    /// <summary>3.3.5.9.10 replay: the open created with this CreateGuid by this client, if it is still known.</summary>
    public DurableState? FindByCreateGuid(Guid createGuid, Guid clientGuid) =>
        createGuid == Guid.Empty ? null
        : _byId.Values.FirstOrDefault(s => s.CreateGuid == createGuid && s.ClientGuid == clientGuid && !s.IsGone);

    /// <summary>The open lost its session (connection loss, LOGOFF, previous-session expiry): it waits for a reconnect.</summary>
    public void Disconnect(DurableState state)
    {
        lock (_gate)
        {
            if (state.IsGone) return;
            var timeout = state.Timeout <= TimeSpan.Zero ? DefaultTimeout : state.Timeout;
            if (timeout > MaximumTimeout) timeout = MaximumTimeout;
            state.ExpiresAt = _time.GetUtcNow() + timeout;
            _scavenger ??= _time.CreateTimer(_ => _ = ScavengeAsync(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        }
        _log?.LogInformation("durable open {PersistentId:X} disconnected; kept until {ExpiresAt:O}", state.PersistentId, state.ExpiresAt);
    }

    /// <summary>
    /// The checks of MS-SMB2 3.3.5.9.7 (DHnC) and 3.3.5.9.12 (DH2C) on a found open, in the order Windows and
    /// Samba apply them. Success means the caller may <see cref="TryClaim"/> it.
    /// </summary>
    public static NtStatus CheckReconnect(DurableState? state, int version, Guid createGuid, Guid clientGuid,
        string user, string domain, string shareName)
    {
        if (state is null || state.IsGone) return NtStatus.ObjectNameNotFound;
        // v2: the CreateGuid must be the one that created the open. The ClientGuid is not compared: a client that
        // restarts its connection may present a new one (smbtorture durable-v2-open.reopen1a/reopen2; Samba does
        // not compare it either; with leases the lease key, bound to the ClientGuid, would).
        _ = clientGuid;
        if (version == 2 && state.CreateGuid != createGuid) return NtStatus.ObjectNameNotFound;
        // Still in use by a connected session: nothing to reconnect to.
        if (!state.IsDisconnected) return NtStatus.ObjectNameNotFound;
        if (!string.Equals(state.ShareName, shareName, StringComparison.OrdinalIgnoreCase)) return NtStatus.ObjectNameNotFound;
        if (!string.Equals(state.OwnerUser, user, StringComparison.OrdinalIgnoreCase)
            || !string.Equals(state.OwnerDomain, domain, StringComparison.OrdinalIgnoreCase))
            return NtStatus.AccessDenied;
        return NtStatus.Success;
    }

    /// <summary>A reconnect takes the disconnected open: false when it was reconnected, purged or expired meanwhile.</summary>
    public bool TryClaim(DurableState state)
    {
        lock (_gate)
        {
            if (state.IsGone || !state.IsDisconnected) return false;
            state.ExpiresAt = null;
            return true;
        }
    }

    /// <summary>
    /// A conflicting open arrived while this open is disconnected (its client cannot answer an oplock break):
    /// the open is closed, as Windows does, and the new open goes on. True when this call closed it.
    /// </summary>
    public async ValueTask<bool> PurgeAsync(DurableState state, string reason)
    {
        lock (_gate)
        {
            if (state.IsGone || !state.IsDisconnected) return false;
            state.IsGone = true;
        }
        _byId.TryRemove(new KeyValuePair<ulong, DurableState>(state.PersistentId, state));
        _log?.LogInformation("durable open {PersistentId:X} purged: {Reason}", state.PersistentId, reason);
        await state.CloseAsync().ConfigureAwait(false);
        return true;
    }

    /// <summary>The scavenger (3.3.7.1): closes every disconnected open whose timeout passed. Returns how many.</summary>
    public async ValueTask<int> ScavengeAsync(DateTimeOffset? now = null)
    {
        var at = now ?? _time.GetUtcNow();
        int closed = 0;
        foreach (var state in _byId.Values)
        {
            bool expire;
            lock (_gate)
            {
                expire = !state.IsGone && state.ExpiresAt is { } deadline && deadline <= at;
                if (expire) state.IsGone = true;
            }
            if (!expire) continue;
            _byId.TryRemove(new KeyValuePair<ulong, DurableState>(state.PersistentId, state));
            _log?.LogInformation("durable open {PersistentId:X} expired after its {Timeout} timeout", state.PersistentId, state.Timeout);
            try { await state.CloseAsync().ConfigureAwait(false); }
            catch (Exception ex) { _log?.LogWarning(ex, "closing expired durable open {PersistentId:X}", state.PersistentId); }
            closed++;
        }
        return closed;
    }

    public void Dispose() => _scavenger?.Dispose();
}
