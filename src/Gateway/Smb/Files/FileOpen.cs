using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Storage;

namespace SmbCopy.Gateway.Smb.Files;

/// <summary>An open of a file or directory on a disk share: the storage handle plus the SMB view of it.</summary>
public sealed class FileOpen : SmbOpen
{
    private int _closed;

    public FileOpen(ulong persistentId, ulong volatileId, TreeConnect tree, AccessMask access, ShareAccess shareAccess,
        IStorageHandle handle, FileNode node, IStorageVolume volume)
        : base(persistentId, volatileId, tree, (uint)access)
    {
        Access = access;
        ShareAccess = shareAccess;
        Handle = handle;
        Node = node;
        Volume = volume;
        WriteTime = new DelayedWriteTime(this);
    }

    public AccessMask Access { get; }
    public ShareAccess ShareAccess { get; }
    public IStorageHandle Handle { get; }
    public IStorageVolume Volume { get; }
    public FileNode Node { get; }
    public bool IsDirectory => Handle.IsDirectory;
    public override string DisplayName => Handle.Path;

    /// <summary>FILE_DELETE_ON_CLOSE from CREATE: the file becomes delete-pending when this open closes.</summary>
    public bool DeleteOnClose { get; set; }
    /// <summary>FilePositionInformation (only stored and returned; I/O is positional).</summary>
    public long Position { get; set; }
    /// <summary>Index of the next EA a FileFullEaInformation query without a name list returns (MS-FSA 2.1.1.10 Open.NextEaEntry).</summary>
    public int EaIndex { get; set; }
    /// <summary>FileModeInformation.</summary>
    public uint Mode { get; set; }
    /// <summary>QUERY_DIRECTORY state of a directory open (MS-SMB2 3.3.5.18).</summary>
    public DirectorySearch? Search { get; set; }
    /// <summary>The oplock this open holds (guarded by Node.Gate).</summary>
    public OplockLevel Oplock { get; set; }
    /// <summary>Set while a break of this open's oplock waits for the client's acknowledgment.</summary>
    public TaskCompletionSource? OplockBreaking { get; set; }
    /// <summary>The level the pending break notification offered.</summary>
    public OplockLevel OplockBreakTarget { get; set; }
    /// <summary>Set when this open's level II oplock was broken to none (a break the client must not acknowledge, MS-SMB2 2.2.24.1).</summary>
    public bool OplockLevelIIBroken { get; set; }

    /// <summary>CHANGE_NOTIFY state of a directory open (MS-SMB2 3.3.5.19), created by the first request; completed with NOTIFY_CLEANUP on close.</summary>
    public DirectoryWatch? Watch { get; set; }
    /// <summary>Times frozen by SET_INFO with -1 (MS-FSA 2.1.5.14.2): not updated by this open's writes.</summary>
    public bool LastWriteFrozen { get; set; }
    /// <summary>This open's delayed LastWriteTime update (Windows/Samba timing of the write-time change).</summary>
    public DelayedWriteTime WriteTime { get; }

    /// <summary>Durable state (MS-SMB2 3.3.1.10 Open.IsDurable ...) when the open was granted a durable handle.</summary>
    public SmbCopy.Gateway.Smb.Durable.DurableState? Durable { get; set; }
    /// <summary>Open.LockSequenceArray (3.3.5.14), created by the first LOCK that is checked.</summary>
    public SmbCopy.Gateway.Smb.Durable.LockSequenceTable LockSequences => _lockSequences ??= new SmbCopy.Gateway.Smb.Durable.LockSequenceTable();
    private SmbCopy.Gateway.Smb.Durable.LockSequenceTable? _lockSequences;

    public bool Has(AccessMask rights) => (Access & rights) != 0;

    public override async ValueTask CloseAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        if (Durable is { } durable) Tree.Session.EstablishedOn.Server.DurableOpens.Remove(durable);
        Watch?.Dispose();
        // A write-time update still owed happens at cleanup, also when no CLOSE comes (disconnect, logoff).
        try { await WriteTime.CloseAsync(CancellationToken.None).ConfigureAwait(false); }
        catch (StorageException) { /* the file is gone */ }
        bool deleteNow;
        FileOpen[]? watching = null;
        lock (Node.Gate)
        {
            if (DeleteOnClose) Node.DeletePending = true;
            bool last = Node.RemoveOpen(this);
            deleteNow = last && Node.DeletePending;
            // MS-FSA: a file with open named streams is deleted when the last of them closes (smb2.streams.delete).
            if (deleteNow && Node.Stream is null && Node.Table.StreamsOf(Node.FileId).Any(n => n.References > 0))
            {
                Node.Table.DeferDelete(Node.FileId, Handle.Path);
                deleteNow = false;
            }
            if (Node.DeletePending && !last) watching = [.. Node.Opens.Where(o => o.Watch is not null)];
        }
        // Opens waiting for this open's oplock break go on once it is closed.
        if (OplockBreaking is not null) Oplocks.CompleteBreak(this, OplockLevel.None);
        // A directory being deleted completes the notifies pending on its other opens (MS-FSA 2.1.5.4).
        if (watching is not null) foreach (var o in watching) o.Watch!.CompletePending(SmbCopy.Protocol.Smb2.NtStatus.DeletePending);
        try
        {
            if (deleteNow)
            {
                try { await Handle.SetDeleteOnCloseAsync(true).ConfigureAwait(false); }
                catch (StorageException) { /* checked when delete-pending was set; the object may be gone already */ }
            }
            await Handle.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            Copy.CopyHooks.OpenClosed(this);
            Node.Table.Release(Node);
            Node.NotifyLocksReleased();
            if (Node.Stream is not null && Node.Table.TakeDeferredDelete(Node.FileId) is string deferred)
            {
                try { await Volume.DeleteAsync(deferred).ConfigureAwait(false); }
                catch (StorageException) { /* already gone or replaced meanwhile */ }
                Tree.Share.Notifications?.Publish(deferred, ChangeKind.Removed, false);
            }
            // The delete of a named stream changes its file; it does not remove a directory entry.
            if (Handle.StreamName is not null)
            {
                if (deleteNow) Tree.Share.Notifications?.Publish(Handle.Path, ChangeKind.Modified, false, CompletionFilter.StreamName);
            }
            else
                Tree.Share.Notifications?.Publish(Handle.Path, deleteNow ? ChangeKind.Removed : ChangeKind.None, IsDirectory);
        }
    }
}

/// <summary>Enumeration state of a directory open between QUERY_DIRECTORY calls.</summary>
public sealed class DirectorySearch
{
    public required string Pattern { get; init; }
    public required List<SearchEntry> Entries { get; init; }
    public int Next { get; set; }
    /// <summary><see cref="ChangeNotifier.RemovalGeneration"/> when the entries were read (names removed since are re-checked).</summary>
    public long Generation { get; init; }
}

/// <summary>One entry of a directory listing, "." and ".." included.</summary>
public readonly record struct SearchEntry(string Name, FileMetadata Metadata);
