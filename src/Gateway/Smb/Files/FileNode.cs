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
    public object Gate { get; } = new();
    public bool DeletePending { get; set; }
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

    /// <summary>
    /// MS-FSA 2.1.4.10: would an access by <paramref name="open"/> to [offset, offset+length) conflict
    /// with a lock? Reads conflict with other opens' exclusive locks; writes with any lock except the
    /// writer's own exclusive lock (a shared lock blocks its owner's writes too).
    /// </summary>
    public bool IoConflicts(FileOpen open, ulong offset, ulong length, bool write)
    {
        if (length == 0) return false;
        lock (Gate)
        {
            foreach (var l in _locks)
            {
                if (!l.Overlaps(offset, length)) continue;
                bool own = ReferenceEquals(l.Owner, open);
                if (write)
                {
                    if (!(own && l.Exclusive)) return true;
                }
                else if (l.Exclusive && !own) return true;
            }
        }
        return false;
    }

    /// <summary>Grants a lock if no conflicting lock exists (caller holds <see cref="Gate"/>).</summary>
    public bool TryLock(ByteRangeLock request)
    {
        foreach (var l in _locks)
        {
            if (!l.Overlaps(request.Offset, request.Length) && !(request.Length == 0 && l.Length == 0 && l.Offset == request.Offset)) continue;
            if (l.Exclusive || request.Exclusive)
            {
                // Windows: an open may stack a shared lock on its own shared lock, nothing else overlaps.
                return false;
            }
        }
        _locks.Add(request);
        return true;
    }

    /// <summary>Removes exactly the lock [offset, length) held by <paramref name="owner"/> (caller holds <see cref="Gate"/>).</summary>
    public bool Unlock(FileOpen owner, ulong offset, ulong length)
    {
        int index = _locks.FindIndex(l => ReferenceEquals(l.Owner, owner) && l.Offset == offset && l.Length == length);
        if (index < 0) return false;
        _locks.RemoveAt(index);
        return true;
    }

    /// <summary>Raised (outside the lock) when locks are released, so that waiting lock requests retry.</summary>
    public event Action? LocksReleased;
    internal void NotifyLocksReleased() => LocksReleased?.Invoke();
}

/// <summary>A byte-range lock (MS-SMB2 2.2.26.1): [Offset, Offset + Length), shared or exclusive.</summary>
public sealed record ByteRangeLock(FileOpen Owner, ulong Offset, ulong Length, bool Exclusive)
{
    public bool Overlaps(ulong offset, ulong length)
    {
        if (Length == 0 || length == 0) return false;
        ulong end = Offset + Length < Offset ? ulong.MaxValue : Offset + Length;
        ulong otherEnd = offset + length < offset ? ulong.MaxValue : offset + length;
        return offset < end && Offset < otherEnd;
    }
}

/// <summary>The file nodes of one share, created with the first open and dropped with the last.</summary>
public sealed class FileNodeTable
{
    private readonly ConcurrentDictionary<ulong, FileNode> _nodes = new();
    private readonly object _gate = new();

    public FileNode Acquire(ulong fileId)
    {
        lock (_gate)
        {
            var node = _nodes.GetOrAdd(fileId, id => new FileNode(this, id));
            node.References++;
            return node;
        }
    }

    public void Release(FileNode node)
    {
        lock (_gate)
        {
            if (--node.References == 0) _nodes.TryRemove(new KeyValuePair<ulong, FileNode>(node.FileId, node));
        }
    }

    public FileNode? Find(ulong fileId) => _nodes.GetValueOrDefault(fileId);
    public int Count => _nodes.Count;
}
