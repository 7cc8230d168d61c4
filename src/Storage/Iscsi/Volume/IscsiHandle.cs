using System.Runtime.CompilerServices;

namespace SmbCopy.Storage.Iscsi.Volume;

/// <summary>An open file or directory of an <see cref="IscsiVolume"/>: a node id (so renames and deletes through other
/// paths do not disturb it) and the access it was opened with.</summary>
public sealed class IscsiHandle : IStorageHandle
{
    private readonly StorageAccess _access;
    private string _path;
    private int _closed;

    internal IscsiHandle(IscsiVolume volume, long nodeId, bool isDirectory, StorageAccess access, string path)
    {
        Volume = volume;
        NodeId = nodeId;
        IsDirectory = isDirectory;
        _access = access;
        _path = path;
    }

    internal IscsiVolume Volume { get; }
    internal long NodeId { get; }

    public bool IsDirectory { get; }
    public ulong FileId => (ulong)NodeId;
    public bool DeleteOnClose { get; private set; }

    public string Path
    {
        get
        {
            if (Volatile.Read(ref _closed) != 0) return _path;
            using (Volume.Lock())
                return _path = Volume.PathOfLocked(NodeId) ?? _path;
        }
    }

    internal void ThrowIfClosed()
    {
        if (Volatile.Read(ref _closed) != 0) throw new StorageException(StorageError.HandleClosed, "The handle is closed.");
    }

    internal void ThrowIfNotWritable()
    {
        if ((_access & StorageAccess.Write) == 0)
            throw new StorageException(StorageError.AccessDenied, "The handle was not opened for writing.");
    }

    private void ThrowIfDirectory()
    {
        if (IsDirectory) throw new StorageException(StorageError.IsADirectory, "Is a directory.");
    }

    private Node NodeLocked() => Volume.Store.GetNode(NodeId) ?? throw new StorageException(StorageError.HandleClosed, "The file is gone.");

    public async ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        ThrowIfDirectory();
        if (offset < 0) throw new StorageException(StorageError.InvalidParameter, "Negative offset.");
        using var _ = await Volume.LockAsync(cancellationToken).ConfigureAwait(false);
        return await Volume.ReadLocked(NodeLocked(), offset, buffer, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        ThrowIfDirectory();
        if (offset < 0 || offset + data.Length < offset) throw new StorageException(StorageError.InvalidParameter, "Offset out of range.");
        ThrowIfNotWritable();
        using var _ = await Volume.LockAsync(cancellationToken).ConfigureAwait(false);
        Volume.ThrowIfReadOnly();
        if (offset + data.Length > Volume.Superblock.Units * (long)Volume.UnitSize * 64)
            throw new StorageException(StorageError.FileTooLarge, "The file would be too large.");
        await Volume.WriteLocked(NodeLocked(), offset, data, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        using var _ = await Volume.LockAsync(cancellationToken).ConfigureAwait(false);
        await IscsiVolume.Io(Volume.Device.SynchronizeCacheAsync(cancellationToken)).ConfigureAwait(false);
        Volume.Store.Checkpoint();
    }

    public async ValueTask SetEndOfFileAsync(long length, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        ThrowIfDirectory();
        if (length < 0) throw new StorageException(StorageError.InvalidParameter, "Negative length.");
        ThrowIfNotWritable();
        using var _ = await Volume.LockAsync(cancellationToken).ConfigureAwait(false);
        Volume.ThrowIfReadOnly();
        await Volume.TruncateLockedAsync(NodeLocked(), length, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask SetAllocationSizeAsync(long allocationSize, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        ThrowIfDirectory();
        if (allocationSize < 0) throw new StorageException(StorageError.InvalidParameter, "Negative allocation size.");
        using var _ = await Volume.LockAsync(cancellationToken).ConfigureAwait(false);
        var node = NodeLocked();
        if (allocationSize < node.Size)
        {
            ThrowIfNotWritable();
            Volume.ThrowIfReadOnly();
            await Volume.TruncateLockedAsync(node, allocationSize, cancellationToken).ConfigureAwait(false);
        }
        // above the end of file: units are allocated on write (no preallocation capability)
    }

    public async ValueTask<FileMetadata> GetInfoAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        using var _ = await Volume.LockAsync(cancellationToken).ConfigureAwait(false);
        return Compose(NodeLocked(), Volume.Store.MappedUnits(NodeId) * Volume.UnitSize);
    }

    internal static FileMetadata Compose(Node node, long allocation)
    {
        var attributes = (StorageFileAttributes)node.Attributes & (StorageFileAttributes.Settable | StorageFileAttributes.SparseFile);
        if (node.IsDirectory) attributes |= StorageFileAttributes.Directory;
        if (attributes == StorageFileAttributes.None) attributes = StorageFileAttributes.Normal;
        return new FileMetadata(DateTime.FromFileTimeUtc(node.Created), DateTime.FromFileTimeUtc(node.Accessed),
            DateTime.FromFileTimeUtc(node.Written), DateTime.FromFileTimeUtc(node.Changed), attributes,
            node.IsDirectory ? 0 : node.Size, node.IsDirectory ? 0 : allocation, (ulong)node.Id, 1, node.IsDirectory);
    }

    public async ValueTask SetInfoAsync(FileInfoUpdate update, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        using var _ = await Volume.LockAsync(cancellationToken).ConfigureAwait(false);
        Volume.ThrowIfReadOnly();
        var node = NodeLocked();
        var store = Volume.Store;
        store.InTransaction(() =>
        {
            if (update.CreationTime is DateTime c) store.Set(NodeId, "created", c.ToUniversalTime().ToFileTimeUtc());
            if (update.LastAccessTime is DateTime a) store.Set(NodeId, "accessed", a.ToUniversalTime().ToFileTimeUtc());
            if (update.LastWriteTime is DateTime w) store.Set(NodeId, "written", w.ToUniversalTime().ToFileTimeUtc());
            if (update.ChangeTime is DateTime ch) store.Set(NodeId, "changed", ch.ToUniversalTime().ToFileTimeUtc());
            var stored = (StorageFileAttributes)node.Attributes;
            var updated = stored;
            if (update.Attributes is StorageFileAttributes requested)
                updated = (stored & StorageFileAttributes.SparseFile) | (requested & StorageFileAttributes.Settable);
            if (update.Sparse is bool sparse && !IsDirectory)
                updated = sparse ? updated | StorageFileAttributes.SparseFile : updated & ~StorageFileAttributes.SparseFile;
            if (updated != stored) store.Set(NodeId, "attributes", (long)updated);
            return 0;
        });
    }

    public async IAsyncEnumerable<StorageDirectoryEntry> EnumerateAsync(string? pattern = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        if (!IsDirectory) throw new StorageException(StorageError.NotADirectory, "Only a directory can be enumerated.");
        if (WildcardPattern.MatchesAll(pattern)) pattern = null;
        var entries = new List<StorageDirectoryEntry>();
        using (await Volume.LockAsync(cancellationToken).ConfigureAwait(false))
        {
            var store = Volume.Store;
            var children = store.Children(NodeId);
            List<string>? names = null;
            foreach (var child in children)
            {
                if (pattern != null && !WildcardPattern.IsMatch(pattern, child.Name)) continue;
                var shown = child;
                if (child.Kind == NodeKind.SymbolicLink)
                {
                    // listed only when it leads to a file or directory inside the share, with the target's metadata
                    names ??= (Volume.PathOfLocked(NodeId) ?? "").Split(StoragePath.Separator, StringSplitOptions.RemoveEmptyEntries).ToList();
                    try
                    {
                        var target = Volume.Resolve(IscsiVolume.LinkTarget(names, child.Target ?? ""), followLast: true).Node;
                        if (target is null || target.Kind is not (NodeKind.File or NodeKind.Directory)) continue;
                        shown = target;
                    }
                    catch (StorageException) { continue; }
                    catch (InvalidOperationException) { continue; }
                }
                else if (child.Kind is not (NodeKind.File or NodeKind.Directory)) continue;
                long allocation = shown.IsDirectory ? 0 : store.MappedUnits(shown.Id) * Volume.UnitSize;
                entries.Add(new StorageDirectoryEntry(child.Name!, Compose(shown, allocation)));
            }
        }
        foreach (var e in entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return e;
        }
    }

    public async ValueTask RenameAsync(string newPath, bool replaceIfExists, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        var to = StoragePath.Split(newPath);
        using var _ = await Volume.LockAsync(cancellationToken).ConfigureAwait(false);
        var node = NodeLocked();
        if (node.Parent is null && node.Id != MetadataStore.RootId)
            throw new StorageException(StorageError.NotFound, "The file was deleted.");
        Volume.RenameLocked(node, to, replaceIfExists);
    }

    public async ValueTask SetDeleteOnCloseAsync(bool deleteOnClose, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        if (deleteOnClose)
        {
            using var _ = await Volume.LockAsync(cancellationToken).ConfigureAwait(false);
            Volume.ThrowIfReadOnly();
            Volume.CheckDeletableLocked(NodeLocked());
        }
        DeleteOnClose = deleteOnClose;
    }

    public async ValueTask DeleteAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        using var _ = await Volume.LockAsync(cancellationToken).ConfigureAwait(false);
        Volume.ThrowIfReadOnly();
        var node = NodeLocked();
        if (node.Parent is null && node.Id != MetadataStore.RootId) return; // already gone
        Volume.CheckDeletableLocked(node);
        Volume.UnlinkLocked(NodeId);
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        await Volume.CloseAsync(NodeId, DeleteOnClose).ConfigureAwait(false);
    }
}
