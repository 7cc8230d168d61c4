using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Smb.Files;

/// <summary>What happened to a name (FILE_NOTIFY_INFORMATION Action, MS-FSCC 2.7.1); None publishes nothing.</summary>
public enum ChangeKind
{
    None = 0,
    Added = 1,
    Removed = 2,
    Modified = 3,
    RenamedOldName = 4,
    RenamedNewName = 5,
}

/// <summary>One change as a watcher sees it: the name relative to the watched directory.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="Name">Path relative to the watched directory ('\'-separated).</param>
/// <param name="IsDirectory">The object is a directory.</param>
/// <param name="Changed">The FILE_NOTIFY_CHANGE_* bits this change satisfies (MS-FSCC 2.7.1, MS-SMB2 2.2.35).</param>
public readonly record struct ChangeEvent(ChangeKind Kind, string Name, bool IsDirectory, CompletionFilter Changed);

/// <summary>
/// Change notifications of one share: handlers publish what they changed (share-relative paths,
/// '\'-separated), CHANGE_NOTIFY requests watch a directory (MS-SMB2 3.3.5.19). Only changes made
/// through this gateway are seen.
/// </summary>
public sealed class ChangeNotifier
{
    private readonly object _gate = new();
    private Watcher[] _watchers = [];
    private long _removalGeneration;

    /// <summary>
    /// Counts removals and renames-away in the share: a directory search whose snapshot is older
    /// re-checks the names it is about to return (MS-FSA: a listing does not return names deleted meanwhile).
    /// </summary>
    public long RemovalGeneration => Interlocked.Read(ref _removalGeneration);

    /// <summary>
    /// Publishes a change. <paramref name="changed"/> says which FILE_NOTIFY_CHANGE_* filter bits it
    /// satisfies; None means the usual ones for <paramref name="kind"/> (<see cref="DefaultFilter"/>).
    /// </summary>
    public void Publish(string path, ChangeKind kind, bool isDirectory, CompletionFilter changed = CompletionFilter.None)
    {
        if (kind == ChangeKind.None) return;
        if (kind is ChangeKind.Removed or ChangeKind.RenamedOldName) Interlocked.Increment(ref _removalGeneration);
        var watchers = Volatile.Read(ref _watchers);
        if (watchers.Length == 0) return;
        if (changed == CompletionFilter.None) changed = DefaultFilter(kind, isDirectory);
        int slash = path.LastIndexOf('\\');
        string parent = slash < 0 ? "" : path[..slash];
        foreach (var w in watchers)
        {
            string? relative = RelativeTo(w.Directory, parent, path, w.WatchTree);
            if (relative is not null) w.Callback(new ChangeEvent(kind, relative, isDirectory, changed));
        }
    }

    /// <summary>
    /// The filter bits a change of <paramref name="kind"/> satisfies when the publisher says nothing
    /// more precise: names → FILE_NAME or DIR_NAME, data changes → SIZE and LAST_WRITE.
    /// </summary>
    public static CompletionFilter DefaultFilter(ChangeKind kind, bool isDirectory) => kind switch
    {
        ChangeKind.Added or ChangeKind.Removed or ChangeKind.RenamedOldName or ChangeKind.RenamedNewName =>
            isDirectory ? CompletionFilter.DirName : CompletionFilter.FileName,
        ChangeKind.Modified => CompletionFilter.Size | CompletionFilter.LastWrite,
        _ => CompletionFilter.None,
    };

    /// <summary>Registers a watcher; dispose the result to stop watching.</summary>
    public IDisposable Watch(string directory, bool watchTree, Action<ChangeEvent> callback) =>
        Watch(() => directory, watchTree, callback);

    /// <summary>Registers a watcher of a directory that may move: <paramref name="directory"/> is asked at every
    /// change (a watched directory renamed through any open goes on being watched where it now is).</summary>
    public IDisposable Watch(Func<string> directory, bool watchTree, Action<ChangeEvent> callback)
    {
        var watcher = new Watcher(this, directory, watchTree, callback);
        lock (_gate) _watchers = [.. _watchers, watcher];
        return watcher;
    }

    public int WatcherCount => Volatile.Read(ref _watchers).Length;

    private static string? RelativeTo(string directory, string parent, string path, bool tree)
    {
        if (string.Equals(parent, directory, StringComparison.OrdinalIgnoreCase))
            return directory.Length == 0 ? path : path[(directory.Length + 1)..];
        if (!tree) return null;
        if (directory.Length == 0) return path;
        if (path.Length > directory.Length + 1 && path[directory.Length] == '\\'
            && path.StartsWith(directory, StringComparison.OrdinalIgnoreCase))
            return path[(directory.Length + 1)..];
        return null;
    }

    private sealed class Watcher(ChangeNotifier owner, Func<string> directory, bool watchTree, Action<ChangeEvent> callback) : IDisposable
    {
        public string Directory => directory();
        public bool WatchTree { get; } = watchTree;
        public Action<ChangeEvent> Callback { get; } = callback;

        public void Dispose()
        {
            lock (owner._gate) owner._watchers = [.. owner._watchers.Where(w => !ReferenceEquals(w, this))];
        }
    }
}

/// <summary>How a CHANGE_NOTIFY request completes: a status and the changes to report (empty unless Success).</summary>
public readonly record struct NotifyResult(NtStatus Status, IReadOnlyList<(FileAction Action, string Name)> Changes)
{
    public static NotifyResult Of(NtStatus status) => new(status, []);
}

/// <summary>
/// The change-notify state of one directory open (MS-SMB2 3.3.5.19, MS-FSA 2.1.5.11 via
/// FsRtlNotifyFullChangeDirectory semantics): created by the first CHANGE_NOTIFY, whose
/// CompletionFilter, WATCH_TREE and OutputBufferLength stay in force for the life of the open.
/// Changes that arrive while no request is pending are buffered and returned by the next request;
/// more than fit in the buffer turn into one STATUS_NOTIFY_ENUM_DIR. Pending requests complete in
/// order. Closing the open completes them with STATUS_NOTIFY_CLEANUP.
/// </summary>
public sealed class DirectoryWatch : IDisposable
{
    private readonly object _gate = new();
    private readonly List<(FileAction Action, string Name)> _buffered = [];
    private readonly LinkedList<Waiter> _waiters = new();
    private readonly IDisposable _registration;
    private readonly int _bufferLimit;
    private int _bufferedBytes;
    private bool _overflow;
    private bool _closed;

    public DirectoryWatch(ChangeNotifier notifier, string directory, CompletionFilter filter, bool watchTree, int bufferLimit)
        : this(notifier, () => directory, filter, watchTree, bufferLimit)
    {
    }

    /// <param name="directory">The watched directory's current path (the open's handle path, which follows renames).</param>
    public DirectoryWatch(ChangeNotifier notifier, Func<string> directory, CompletionFilter filter, bool watchTree, int bufferLimit)
    {
        Filter = filter;
        WatchTree = watchTree;
        _bufferLimit = bufferLimit;
        _registration = notifier.Watch(directory, watchTree, OnChange);
    }

    public CompletionFilter Filter { get; }
    public bool WatchTree { get; }

    /// <summary>Pending requests (for tests and diagnostics).</summary>
    public int PendingCount { get { lock (_gate) return _waiters.Count; } }

    /// <summary>Bytes FILE_NOTIFY_INFORMATION needs for <paramref name="name"/>, 4-aligned (MS-FSCC 2.7.1).</summary>
    public static int EntrySize(string name) => (12 + 2 * name.Length + 3) & ~3;

    /// <summary>
    /// Waits for changes: completes at once with buffered changes (or NOTIFY_ENUM_DIR after an
    /// overflow), else when the next matching change arrives, the open closes (NOTIFY_CLEANUP) or
    /// <paramref name="cancellation"/> fires (CANCELLED).
    /// </summary>
    public Task<NotifyResult> WaitAsync(int outputBufferLength, CancellationToken cancellation)
    {
        Waiter waiter;
        lock (_gate)
        {
            if (_closed) return Task.FromResult(NotifyResult.Of(NtStatus.NotifyCleanup));
            if (_overflow)
            {
                _overflow = false;
                return Task.FromResult(NotifyResult.Of(NtStatus.NotifyEnumDir));
            }
            if (_buffered.Count > 0)
                return Task.FromResult(TakeBufferedLocked(outputBufferLength));
            waiter = new Waiter(outputBufferLength);
            waiter.Node = _waiters.AddLast(waiter);
        }
        if (cancellation.CanBeCanceled)
        {
            waiter.CancelRegistration = cancellation.Register(static state =>
            {
                var (watch, w) = ((DirectoryWatch, Waiter))state!;
                watch.Complete(w, NotifyResult.Of(NtStatus.Cancelled));
            }, (this, waiter));
        }
        return waiter.Completion.Task;
    }

    private void Complete(Waiter waiter, NotifyResult result)
    {
        lock (_gate)
        {
            if (waiter.Node?.List is null) return; // already completed
            _waiters.Remove(waiter.Node);
        }
        waiter.Finish(result);
    }

    private NotifyResult TakeBufferedLocked(int outputBufferLength)
    {
        var changes = _buffered.ToArray();
        int bytes = _bufferedBytes;
        _buffered.Clear();
        _bufferedBytes = 0;
        return Fit(changes, bytes, outputBufferLength);
    }

    private static NotifyResult Fit(IReadOnlyList<(FileAction, string)> changes, int bytes, int outputBufferLength) =>
        bytes > outputBufferLength ? NotifyResult.Of(NtStatus.NotifyEnumDir) : new NotifyResult(NtStatus.Success, changes);

    /// <summary>Does a change satisfy the filter (MS-FSCC 2.7.1 / MS-SMB2 2.2.35 CompletionFilter)?</summary>
    public static bool Matches(CompletionFilter filter, in ChangeEvent change) => (filter & change.Changed) != 0;

    private void OnChange(ChangeEvent change)
    {
        if (!Matches(Filter, change)) return;
        var entry = ((FileAction)(uint)change.Kind, change.Name);
        Waiter? waiter = null;
        lock (_gate)
        {
            if (_closed) return;
            if (_waiters.First is { } first)
            {
                waiter = first.Value;
                _waiters.RemoveFirst();
            }
            else
            {
                if (_overflow) return;
                // Repeated identical changes (one per WRITE) are reported once.
                if (_buffered.Count > 0 && _buffered[^1] == entry) return;
                _buffered.Add(entry);
                _bufferedBytes += EntrySize(change.Name);
                if (_bufferedBytes > _bufferLimit)
                {
                    _overflow = true;
                    _buffered.Clear();
                    _bufferedBytes = 0;
                }
                return;
            }
        }
        waiter.Finish(Fit([entry], EntrySize(change.Name), waiter.OutputBufferLength));
    }

    /// <summary>Completes the pending requests with <paramref name="status"/> (the directory became delete-pending); the watch goes on.</summary>
    public void CompletePending(NtStatus status)
    {
        Waiter[] pending;
        lock (_gate)
        {
            pending = [.. _waiters];
            _waiters.Clear();
        }
        foreach (var w in pending) w.Finish(NotifyResult.Of(status));
    }

    /// <summary>Stops watching and completes the pending requests with STATUS_NOTIFY_CLEANUP (the open is closing).</summary>
    public void Dispose()
    {
        Waiter[] pending;
        lock (_gate)
        {
            if (_closed) return;
            _closed = true;
            pending = [.. _waiters];
            _waiters.Clear();
            _buffered.Clear();
        }
        _registration.Dispose();
        foreach (var w in pending) w.Finish(NotifyResult.Of(NtStatus.NotifyCleanup));
    }

    private sealed class Waiter(int outputBufferLength)
    {
        public int OutputBufferLength { get; } = outputBufferLength;
        public TaskCompletionSource<NotifyResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public LinkedListNode<Waiter>? Node { get; set; }
        public CancellationTokenRegistration CancelRegistration { get; set; }

        public void Finish(NotifyResult result)
        {
            if (Completion.TrySetResult(result)) CancelRegistration.Dispose();
        }
    }
}
