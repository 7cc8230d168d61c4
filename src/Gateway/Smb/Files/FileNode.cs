using System.Collections.Concurrent;
using SmbCopy.Protocol.Fscc;

namespace SmbCopy.Gateway.Smb.Files;

/// <summary>
/// Everything the server knows about one file of a share across all its opens (MS-FSA 2.1.1.4,
/// 2.1.1.5): the opens (for share modes), delete-pending, and byte-range locks. Keyed by file id, so
/// it follows renames. All members are guarded by the node's lock.
/// </summary>
public sealed class FileNode(FileNodeTable table, ulong fileId)
{
    private readonly List<FileOpen> _opens = [];
    private readonly List<ByteRangeLock> _locks = [];

    public ulong FileId { get; } = fileId;
    /// <summary>The named stream (upper-cased key), null for the file itself.</summary>
    public string? Stream { get; internal set; }
    public object Gate { get; } = new();
    public bool DeletePending { get; set; }
    /// <summary>The LastWriteTime clients see while writes' own time changes are held back (delayed, frozen).</summary>
    public WriteTimeOverlay WriteTime { get; } = new();
    public IReadOnlyList<FileOpen> Opens => _opens;
    internal FileNodeTable Table { get; } = table;
    internal int References { get; set; }

    /// <summary>MS-FSA 2.1.5.1.2 share-access check of a new open against the existing ones (caller holds <see cref="Gate"/>).</summary>
    public bool ShareAccessConflicts(AccessMask desired, ShareAccess share)
    {
        foreach (var open in _opens)
        {
            if (Conflicts(desired, share, open.Access, open.ShareAccess)) return true;
        }
        return false;
    }

    private const AccessMask ReadLike = AccessMask.FileReadData | AccessMask.FileExecute;
    private const AccessMask WriteLike = AccessMask.FileWriteData | AccessMask.FileAppendData;

    public static bool Conflicts(AccessMask newAccess, ShareAccess newShare, AccessMask oldAccess, ShareAccess oldShare)
    {
        // Opens without data or delete access (attributes only) never conflict.
        const AccessMask Relevant = ReadLike | WriteLike | AccessMask.Delete;
        if ((newAccess & Relevant) == 0 || (oldAccess & Relevant) == 0) return false;
        if ((newAccess & ReadLike) != 0 && (oldShare & ShareAccess.Read) == 0) return true;
        if ((newAccess & WriteLike) != 0 && (oldShare & ShareAccess.Write) == 0) return true;
        if ((newAccess & AccessMask.Delete) != 0 && (oldShare & ShareAccess.Delete) == 0) return true;
        if ((oldAccess & ReadLike) != 0 && (newShare & ShareAccess.Read) == 0) return true;
        if ((oldAccess & WriteLike) != 0 && (newShare & ShareAccess.Write) == 0) return true;
        if ((oldAccess & AccessMask.Delete) != 0 && (newShare & ShareAccess.Delete) == 0) return true;
        return false;
    }

    internal void AddOpen(FileOpen open) => _opens.Add(open);

    /// <summary>Removes an open and its locks; true when it was the last one.</summary>
    internal bool RemoveOpen(FileOpen open)
    {
        _opens.Remove(open);
        _locks.RemoveAll(l => ReferenceEquals(l.Owner, open));
        return _opens.Count == 0;
    }

    /// <summary>True while <paramref name="owner"/> is one of this node's opens (a waiting lock stops when it closes).</summary>
    internal bool HasOpen(object owner)
    {
        foreach (var open in _opens)
        {
            if (ReferenceEquals(open, owner)) return true;
        }
        return false;
    }

    /// <summary>
    /// MS-FSA 2.1.5.8 / 2.1.5.9 validation: a nonzero-length range whose last byte lies past 2^64 - 1 is
    /// STATUS_INVALID_LOCK_RANGE. A zero-length range is valid at any offset.
    /// </summary>
    public static bool IsValidRange(ulong offset, ulong length) => length == 0 || offset + (length - 1) >= offset;

    /// <summary>
    /// MS-FSA 2.1.4.10: would an access by <paramref name="owner"/> to [offset, offset+length) conflict
    /// with a lock? Reads conflict with other opens' exclusive locks; writes with any lock except the
    /// writer's own exclusive lock (a shared lock blocks its owner's writes too). Zero-length I/O never conflicts.
    /// </summary>
    public bool IoConflicts(object owner, ulong offset, ulong length, bool write)
    {
        if (length == 0) return false;
        lock (Gate) return Conflicts(owner, offset, length, exclusive: write, lockIntent: false);
    }

    /// <summary>
    /// MS-FSA 2.1.4.10 for a lock request or an I/O (caller holds <see cref="Gate"/>). An overlapping
    /// exclusive lock conflicts unless this owner holds it and the access is a shared lock, a read or a
    /// write; an overlapping shared lock conflicts with exclusive intent (exclusive lock or write), whoever holds it.
    /// </summary>
    public bool Conflicts(object owner, ulong offset, ulong length, bool exclusive, bool lockIntent)
    {
        if (offset == 0 && length == 0) return false; // the {0, 0} range conflicts with nothing
        foreach (var l in _locks)
        {
            if (!l.Overlaps(offset, length)) continue;
            if (l.Exclusive)
            {
                if (!ReferenceEquals(l.Owner, owner)) return true;
                if (lockIntent && exclusive) return true; // two exclusive locks never stack, even on one open
            }
            else if (exclusive)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Grants a lock if no conflicting lock exists (caller holds <see cref="Gate"/>; range already validated).</summary>
    public bool TryLock(ByteRangeLock request)
    {
        if (Conflicts(request.Owner, request.Offset, request.Length, request.Exclusive, lockIntent: true)) return false;
        _locks.Add(request);
        return true;
    }

    /// <summary>
    /// MS-FSA 2.1.5.9: removes one lock of <paramref name="owner"/> with exactly this offset and length,
    /// the exclusive one first when an exclusive and shared locks are stacked (caller holds <see cref="Gate"/>).
    /// False → STATUS_RANGE_NOT_LOCKED. Callers raise <see cref="NotifyLocksReleased"/> after leaving the gate.
    /// </summary>
    public bool Unlock(object owner, ulong offset, ulong length)
    {
        int index = -1;
        for (int i = 0; i < _locks.Count; i++)
        {
            var l = _locks[i];
            if (!ReferenceEquals(l.Owner, owner) || l.Offset != offset || l.Length != length) continue;
            index = i;
            if (l.Exclusive) break;
        }
        if (index < 0) return false;
        _locks.RemoveAt(index);
        return true;
    }

    /// <summary>Number of locks held on the file (diagnostics and tests; caller holds <see cref="Gate"/>).</summary>
    internal int LockCount => _locks.Count;

    /// <summary>Raised (outside the lock) when locks are released, so that waiting lock requests retry.</summary>
    public event Action? LocksReleased;
    internal void NotifyLocksReleased() => LocksReleased?.Invoke();
}

/// <summary>
/// A byte-range lock (MS-SMB2 2.2.26.1, MS-FSA 2.1.1.4 ByteRangeLock): [Offset, Offset + Length), shared or
/// exclusive, held by an open (a <see cref="FileOpen"/>; any object in tests).
/// </summary>
public sealed record ByteRangeLock(object Owner, ulong Offset, ulong Length, bool Exclusive)
{
    /// <summary>
    /// MS-FSA 2.1.4.10 overlap: ranges compared by first and last byte, where a zero-length range at X has
    /// last byte X - 1 — so it overlaps only a range that contains both X - 1 and X; the {0, 0} lock overlaps nothing.
    /// </summary>
    public bool Overlaps(ulong offset, ulong length)
    {
        if ((Offset == 0 && Length == 0) || (offset == 0 && length == 0)) return false;
        ulong last = LastByte(Offset, Length);
        ulong otherLast = LastByte(offset, length);
        return offset <= last && otherLast >= Offset;
    }

    private static ulong LastByte(ulong offset, ulong length)
    {
        if (length == 0) return offset - 1; // offset > 0 here
        ulong last = offset + (length - 1);
        return last < offset ? ulong.MaxValue : last;
    }
}

/// <summary>
/// The file nodes of one share, created with the first open and dropped with the last. A named stream is a node of its
/// own (MS-FSA 2.1.1.5: share modes, delete-pending, locks and oplocks are per stream), keyed by the file id and the
/// stream name (case-insensitive); the file itself has the null stream.
/// </summary>
public sealed class FileNodeTable
{
    private readonly ConcurrentDictionary<(ulong, string?), FileNode> _nodes = new();
    private readonly object _gate = new();

    public FileNode Acquire(ulong fileId, string? stream = null)
    {
        var key = Key(fileId, stream);
        lock (_gate)
        {
            var node = _nodes.GetOrAdd(key, k =>
            {
                if (k.Item2 is not null) _streamNodes[k.Item1] = _streamNodes.GetValueOrDefault(k.Item1) + 1;
                return new FileNode(this, k.Item1) { Stream = k.Item2 };
            });
            node.References++;
            return node;
        }
    }

    public void Release(FileNode node)
    {
        lock (_gate)
        {
            if (--node.References == 0 && _nodes.TryRemove(new KeyValuePair<(ulong, string?), FileNode>((node.FileId, node.Stream), node))
                && node.Stream is not null)
                StreamNodeGone(node.FileId);
        }
    }

    /// <summary>
    /// A stream open was renamed (to another stream, or to the unnamed stream with null): its node moves to the new
    /// key. False, leaving the node where it was, when another node already has that key (it has opens).
    /// </summary>
    public bool Rekey(FileNode node, string? newStream)
    {
        var key = Key(node.FileId, newStream);
        lock (_gate)
        {
            if (_nodes.TryGetValue(key, out var existing)) return ReferenceEquals(existing, node);
            if (!_nodes.TryRemove(new KeyValuePair<(ulong, string?), FileNode>((node.FileId, node.Stream), node))) return false;
            if (node.Stream is not null) StreamNodeGone(node.FileId);
            if (key.Item2 is not null) _streamNodes[node.FileId] = _streamNodes.GetValueOrDefault(node.FileId) + 1;
            node.Stream = key.Item2;
            _nodes[key] = node;
            return true;
        }
    }

    /// <summary>The node of the file itself (not of one of its streams).</summary>
    public FileNode? Find(ulong fileId) => _nodes.GetValueOrDefault((fileId, null));

    /// <summary>The node of a file's named stream.</summary>
    public FileNode? Find(ulong fileId, string? stream) => _nodes.GetValueOrDefault(Key(fileId, stream));

    /// <summary>Number of stream nodes per file id (so that files without open streams cost no scan).</summary>
    private readonly Dictionary<ulong, int> _streamNodes = [];

    private void StreamNodeGone(ulong fileId)
    {
        if (_streamNodes.TryGetValue(fileId, out int n) && n > 1) _streamNodes[fileId] = n - 1;
        else _streamNodes.Remove(fileId);
    }

    /// <summary>The nodes of the named streams of a file that have opens now.</summary>
    public List<FileNode> StreamsOf(ulong fileId)
    {
        lock (_gate)
        {
            if (!_streamNodes.ContainsKey(fileId)) return [];
            return [.. _nodes.Values.Where(n => n.FileId == fileId && n.Stream is not null)];
        }
    }

    public int Count => _nodes.Count;

    private readonly ConcurrentDictionary<ulong, string> _deferredDeletes = new();

    /// <summary>
    /// The file was deleted (its last open closed delete-pending) while named streams of it were still open: it stays
    /// delete-pending (every CREATE of it or its streams is DELETE_PENDING) until the last stream open closes.
    /// </summary>
    public void DeferDelete(ulong fileId, string path) => _deferredDeletes[fileId] = path;

    public bool IsDeleteDeferred(ulong fileId) => _deferredDeletes.ContainsKey(fileId);

    /// <summary>After a stream open closed: the path to delete now when the file's delete was deferred and nothing of it is open.</summary>
    public string? TakeDeferredDelete(ulong fileId)
    {
        lock (_gate)
        {
            if (!_deferredDeletes.ContainsKey(fileId) || _nodes.Keys.Any(k => k.Item1 == fileId)) return null;
            return _deferredDeletes.TryRemove(fileId, out var path) ? path : null;
        }
    }

    private static (ulong, string?) Key(ulong fileId, string? stream) =>
        (fileId, string.IsNullOrEmpty(stream) ? null : stream.ToUpperInvariant());
}
