using SmbCopy.Storage;

namespace SmbCopy.Gateway.Smb.Files;

/// <summary>
/// Delayed LastWriteTime updates of one open, as Windows (before Server 2019) and Samba 4.17 do them and
/// smbtorture's smb2.timestamps.delayed-* tests expect (MS-FSA 2.1.5.3 leaves the timing of the update to the
/// object store: "the object store SHOULD update LastWriteTime"; the Windows behaviour notes allow it to be
/// deferred):
/// <list type="bullet">
/// <item>The first write through an open does not move LastWriteTime; it schedules an update
/// <see cref="Delay"/> later.</item>
/// <item>Writes after that update do not move it either; they make the close set it.</item>
/// <item>FLUSH, SET_INFO FileEndOfFileInformation and FileBasicInformation (even all-zero) apply a pending
/// update at once; the close applies one that is still pending.</item>
/// <item>An explicit LastWriteTime set through any open of the file cancels the pending updates of all its
/// opens (their later writes start over).</item>
/// </list>
/// The time clients see lives in memory on the file's node (<see cref="WriteTimeOverlay"/>), as Samba keeps it
/// in its share-mode record: a WRITE makes no storage call besides the write itself. Storage is told the time
/// when the update happens, at FLUSH / SET_INFO, and at the last close. Thread-safe; storage calls run outside
/// the lock.
/// </summary>
public sealed class DelayedWriteTime(FileOpen open)
{
    /// <summary>Windows and Samba update the time 2 seconds after the first write.</summary>
    public static readonly TimeSpan DefaultDelay = TimeSpan.FromSeconds(2);

    /// <summary>How long after the first write the update happens (tests shorten it).</summary>
    public TimeSpan Delay { get; set; } = DefaultDelay;

    private readonly object _gate = new();
    private bool _triggered;       // the first write happened: later writes never schedule again
    private ITimer? _timer;        // the scheduled update, until it runs or is applied early
    private bool _updateOnClose;   // writes since the last update: the close sets the time
    private bool _closed;

    /// <summary>Time provider for the delayed update (tests replace it).</summary>
    public TimeProvider Time { get; set; } = TimeProvider.System;

    private WriteTimeOverlay Shown => open.Node.WriteTime;

    /// <summary>True while an update is scheduled or owed to the close.</summary>
    public bool Pending
    {
        get { lock (_gate) return _timer is not null || _updateOnClose; }
    }

    internal bool IsClosed
    {
        get { lock (_gate) return _closed; }
    }

    /// <summary>
    /// Called by WRITE before it writes: the file's time as clients see it stays where it was (held on the node),
    /// the update is scheduled. No storage call unless the node never saw the file's metadata (no CREATE answer
    /// went through it), then one read for the file's lifetime.
    /// </summary>
    public async ValueTask BeforeWriteAsync(CancellationToken cancel)
    {
        if (!Shown.BeginWrite())
            Shown.Activate((await open.Handle.GetInfoAsync(cancel).ConfigureAwait(false)).LastWriteTime);
        // A time frozen or set through this open (MS-FSA 2.1.5.14.2) is not moved by its writes.
        if (open.LastWriteFrozen) return;
        lock (_gate)
        {
            if (_closed) return;
            if (!_triggered)
            {
                _triggered = true;
                _timer = Time.CreateTimer(_ => _ = FireAsync(), null, Delay, Timeout.InfiniteTimeSpan);
            }
            else if (_timer is null)
            {
                _updateOnClose = true;
            }
        }
    }

    /// <summary>After a write: storage's own time now differs from the one clients see (in memory only).</summary>
    public void AfterWrite() => Shown.EndWrite();

    /// <summary>
    /// FLUSH / SET_INFO: a pending update happens now; with none pending, storage is brought in line with the
    /// time clients see when writes moved it (no storage call when nothing is owed).
    /// </summary>
    public async ValueTask ApplyPendingAsync(CancellationToken cancel)
    {
        if (!await ApplyScheduledAsync(cancel).ConfigureAwait(false))
            await PersistIfStaleAsync(cancel).ConfigureAwait(false);
        // After a size change storage's time is unknown: learn it here, so that the next WRITE needs no read.
        if (Shown.NeedsBase) Shown.Observe(await open.Handle.GetInfoAsync(cancel).ConfigureAwait(false));
    }

    /// <summary>Applies a scheduled or close-owed update; true when there was one.</summary>
    private async ValueTask<bool> ApplyScheduledAsync(CancellationToken cancel)
    {
        DateTime now;
        lock (_gate)
        {
            if (_closed || (_timer is null && !_updateOnClose)) return false;
            _timer?.Dispose();
            _timer = null;
            _updateOnClose = false;
            // A time frozen through this open (-1, MS-FSA 2.1.5.14.2) is not moved by its writes, late or not.
            if (open.LastWriteFrozen) return false;
            now = Time.GetUtcNow().UtcDateTime;
        }
        long writes = Shown.Set(now);
        await open.Handle.SetInfoAsync(new FileInfoUpdate(LastWriteTime: now), cancel).ConfigureAwait(false);
        Shown.Persisted(writes);
        return true;
    }

    private async ValueTask PersistIfStaleAsync(CancellationToken cancel)
    {
        if (Shown.Stale() is not var (time, writes)) return;
        await open.Handle.SetInfoAsync(new FileInfoUpdate(LastWriteTime: time), cancel).ConfigureAwait(false);
        Shown.Persisted(writes);
    }

    /// <summary>
    /// SET_INFO with an explicit LastWriteTime on some open of the file (the caller stores it): the time clients
    /// see; no update pending before it survives it (the close of another open does not overwrite it). Later
    /// writes through this open start over, as MS-FSA 2.1.5.3 updates the time for writes of opens that did not
    /// set it (Open.UserSetModificationTime).
    /// </summary>
    public void ExplicitlySet(DateTime time)
    {
        lock (_gate)
        {
            _timer?.Dispose();
            _timer = null;
            _updateOnClose = false;
            _triggered = false;
        }
        Shown.Set(time, stored: true);
    }

    /// <summary>The storage moved LastWriteTime itself (a size change): its time is what clients see again.</summary>
    public void StorageMovedTime() => Shown.StorageMoved();

    /// <summary>
    /// CLOSE (before its post-query) and cleanup: an update still pending happens now; the last open of the
    /// file stores the time clients saw when the file's writes moved storage's (a frozen time, say).
    /// </summary>
    public async ValueTask CloseAsync(CancellationToken cancel)
    {
        await ApplyScheduledAsync(cancel).ConfigureAwait(false);
        bool last;
        lock (open.Node.Gate)
        {
            lock (_gate)
            {
                if (_closed) return;
                _closed = true;
                _timer?.Dispose();
                _timer = null;
                _updateOnClose = false;
            }
            // Under the node's lock, so that of two opens closing together exactly one sees the other closed.
            last = !open.DeleteOnClose && !open.Node.DeletePending
                && open.Node.Opens.All(o => ReferenceEquals(o, open) || o.WriteTime.IsClosed);
        }
        if (!last) return;
        try { await PersistIfStaleAsync(cancel).ConfigureAwait(false); }
        catch (StorageException) { /* the file went away meanwhile (POSIX delete): nothing to keep; the close goes on */ }
    }

    private async Task FireAsync()
    {
        DateTime now;
        lock (_gate)
        {
            if (_closed || _timer is null) return;
            _timer.Dispose();
            _timer = null;
            if (open.LastWriteFrozen) return;
            now = Time.GetUtcNow().UtcDateTime;
        }
        long writes = Shown.Set(now);
        try
        {
            await open.Handle.SetInfoAsync(new FileInfoUpdate(LastWriteTime: now)).ConfigureAwait(false);
            Shown.Persisted(writes);
            open.Tree.Share.Notifications?.Publish(open.Handle.Path, ChangeKind.Modified, false);
        }
        catch (Exception ex) when (ex is StorageException or ObjectDisposedException or IOException)
        {
            // The file went away or the handle closed meanwhile: nothing left to update.
        }
    }
}

/// <summary>
/// The LastWriteTime clients see for one file, kept in memory on its <see cref="FileNode"/> while writes
/// moved storage's time without the client-visible time moving (a delayed update, a frozen or explicitly set
/// time) — Samba's share-mode write time. Every point that reports the file's times passes storage's metadata
/// through <see cref="Observe"/> (a fresh read) or <see cref="Overlay"/> (a listing snapshot).
/// </summary>
public sealed class WriteTimeOverlay
{
    private readonly object _gate = new();
    private DateTime? _base;    // storage's LastWriteTime as last observed while no time is held
    private DateTime? _shown;   // while set: what clients see instead of storage's
    private long _writes;       // writes completed on the file (storage's time moved)
    private long _stored;       // _writes when _shown was last written to storage

    /// <summary>True when neither a held time nor storage's is known (after <see cref="StorageMoved"/>).</summary>
    internal bool NeedsBase
    {
        get { lock (_gate) return _shown is null && _base is null; }
    }

    /// <summary>Metadata just read from storage, as clients must see it; remembers storage's time while none is held.</summary>
    public FileMetadata Observe(FileMetadata m)
    {
        lock (_gate)
        {
            if (_shown is { } t) return m with { LastWriteTime = t };
            _base = m.LastWriteTime;
            return m;
        }
    }

    /// <summary>Metadata as clients must see it (for metadata that may be older than the node's state).</summary>
    public FileMetadata Overlay(FileMetadata m)
    {
        lock (_gate) return _shown is { } t ? m with { LastWriteTime = t } : m;
    }

    /// <summary>Before a write: holds the current time. False when the node never saw storage's time (call <see cref="Activate"/>).</summary>
    internal bool BeginWrite()
    {
        lock (_gate)
        {
            if (_shown is not null) return true;
            if (_base is not { } current) return false;
            _shown = current;
            return true;
        }
    }

    internal void Activate(DateTime current)
    {
        lock (_gate) _shown ??= current;
    }

    internal void EndWrite()
    {
        lock (_gate) _writes++;
    }

    /// <summary>Sets the time clients see; returns the write count to pass to <see cref="Persisted"/> once storage has it.</summary>
    internal long Set(DateTime time, bool stored = false)
    {
        lock (_gate)
        {
            _shown = time;
            if (stored) _stored = _writes;
            return _writes;
        }
    }

    internal void Persisted(long writes)
    {
        lock (_gate) _stored = Math.Max(_stored, writes);
    }

    /// <summary>The held time when writes moved storage's time since it was last stored.</summary>
    internal (DateTime Time, long Writes)? Stale()
    {
        lock (_gate) return _shown is { } t && _writes > _stored ? (t, _writes) : null;
    }

    /// <summary>Storage moved its time itself (size change, overwrite): storage is the truth again until the next write.</summary>
    internal void StorageMoved()
    {
        lock (_gate)
        {
            _shown = null;
            _base = null;
            _stored = _writes;
        }
    }
}
