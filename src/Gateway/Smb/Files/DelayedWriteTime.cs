using SmbCopy.Storage;

namespace SmbCopy.Gateway.Smb.Files;

/// <summary>
/// Delayed LastWriteTime updates of one open, as Windows (before Server 2019) and Samba 4.17 do them and
/// smbtorture's smb2.timestamps.delayed-* tests expect (MS-FSA 2.1.5.3 leaves the timing of the update to the
/// object store: "the object store SHOULD update LastWriteTime"; the Windows behaviour notes allow it to be
/// deferred):
/// <list type="bullet">
/// <item>The first write through an open does not move LastWriteTime; it schedules an update
/// <see cref="Delay"/> later (the storage's own mtime change is undone after every write).</item>
/// <item>Writes after that update do not move it either; they make the close set it.</item>
/// <item>FLUSH, SET_INFO FileEndOfFileInformation and FileBasicInformation (even all-zero) apply a pending
/// update at once; the close applies one that is still pending.</item>
/// <item>An explicit LastWriteTime set through any open of the file cancels the pending updates of all its
/// opens (their later writes start over).</item>
/// </list>
/// Thread-safe; the storage calls run outside the lock.
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
    private DateTime? _held;       // the LastWriteTime this open's writes keep on disk

    /// <summary>Time provider for the delayed update (tests replace it).</summary>
    public TimeProvider Time { get; set; } = TimeProvider.System;

    /// <summary>True while an update is scheduled or owed to the close.</summary>
    public bool Pending
    {
        get { lock (_gate) return _timer is not null || _updateOnClose; }
    }

    /// <summary>
    /// Called by WRITE before it writes. Returns true when the write must be followed by
    /// <see cref="AfterWriteAsync"/> (the file's LastWriteTime stays where it was).
    /// </summary>
    public async ValueTask<bool> BeforeWriteAsync(CancellationToken cancel)
    {
        bool needHeld;
        lock (_gate)
        {
            if (_closed) return false;
            needHeld = _held is null;
        }
        DateTime? current = needHeld ? (await open.Handle.GetInfoAsync(cancel).ConfigureAwait(false)).LastWriteTime : null;
        lock (_gate)
        {
            _held ??= current;
            if (!_triggered)
            {
                _triggered = true;
                _timer = Time.CreateTimer(_ => _ = FireAsync(), null, Delay, Timeout.InfiniteTimeSpan);
            }
            else if (_timer is null)
            {
                _updateOnClose = true;
            }
            return _held is not null;
        }
    }

    /// <summary>After a write: puts back the LastWriteTime the write moved.</summary>
    public async ValueTask AfterWriteAsync(CancellationToken cancel)
    {
        DateTime? held;
        lock (_gate) held = _held;
        if (held is { } time)
            await open.Handle.SetInfoAsync(new FileInfoUpdate(LastWriteTime: time), cancel).ConfigureAwait(false);
    }

    /// <summary>FLUSH / SET_INFO: a pending update happens now (no-op when nothing is pending).</summary>
    public async ValueTask ApplyPendingAsync(CancellationToken cancel)
    {
        DateTime now;
        lock (_gate)
        {
            if (_closed || (_timer is null && !_updateOnClose)) return;
            _timer?.Dispose();
            _timer = null;
            _updateOnClose = false;
            // A time frozen through this open (-1, MS-FSA 2.1.5.14.2) is not moved by its writes, late or not.
            if (open.LastWriteFrozen) return;
            now = Time.GetUtcNow().UtcDateTime;
            _held = now;
        }
        await open.Handle.SetInfoAsync(new FileInfoUpdate(LastWriteTime: now), cancel).ConfigureAwait(false);
    }

    /// <summary>
    /// SET_INFO with an explicit LastWriteTime on some open of the file: no update pending before it survives it
    /// (the close of another open does not overwrite it). Later writes through this open start over, as
    /// MS-FSA 2.1.5.3 updates the time for writes of opens that did not set it (Open.UserSetModificationTime).
    /// </summary>
    public void ExplicitlySet(DateTime time)
    {
        lock (_gate)
        {
            _timer?.Dispose();
            _timer = null;
            _updateOnClose = false;
            _triggered = false;
            _held = time;
        }
    }

    /// <summary>The storage moved LastWriteTime itself (a size change): writes keep the new time from now on.</summary>
    public void StorageMovedTime()
    {
        lock (_gate) _held = null;
    }

    /// <summary>CLOSE (before its post-query): an update still pending happens now.</summary>
    public async ValueTask CloseAsync(CancellationToken cancel)
    {
        await ApplyPendingAsync(cancel).ConfigureAwait(false);
        Cancel();
    }

    /// <summary>The open is gone (close, disconnect, logoff): drop a scheduled update.</summary>
    public void Cancel()
    {
        lock (_gate)
        {
            _closed = true;
            _timer?.Dispose();
            _timer = null;
            _updateOnClose = false;
        }
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
            _held = now;
        }
        try
        {
            await open.Handle.SetInfoAsync(new FileInfoUpdate(LastWriteTime: now)).ConfigureAwait(false);
            open.Tree.Share.Notifications?.Publish(open.Handle.Path, ChangeKind.Modified, false);
        }
        catch (Exception ex) when (ex is StorageException or ObjectDisposedException or IOException)
        {
            // The file went away or the handle closed meanwhile: nothing left to update.
        }
    }
}
