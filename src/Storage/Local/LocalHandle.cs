using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using static SmbCopy.Storage.Interop.Libc;

namespace SmbCopy.Storage.Local;

/// <summary>
/// An open local file or directory: one descriptor, positional I/O (pread/pwrite through <see cref="RandomAccess"/>,
/// made on the caller's thread-pool worker). Metadata calls are short system calls made inline.
/// </summary>
internal sealed partial class LocalHandle : IStorageHandle
{
    private readonly SafeFileHandle _fd;
    private readonly StorageAccess _access;
    private readonly ulong _inode;
    private readonly uint _devMajor, _devMinor;
    private readonly Lock _pathLock = new();
    private string _diskPath; // on-disk, '/'-separated, relative to the share root
    private int _closed;
    private bool _deleteOnClose;
    private bool _deleted;

    internal LocalHandle(LocalVolume volume, SafeFileHandle fd, string diskPath, bool isDirectory, in Statx st, StorageAccess access)
    {
        Volume = volume;
        _fd = fd;
        _diskPath = diskPath;
        IsDirectory = isDirectory;
        _inode = st.Inode;
        _devMajor = st.DevMajor;
        _devMinor = st.DevMinor;
        _access = access;
        volume.Track(this);
    }

    internal LocalVolume Volume { get; }

    public string Path { get { lock (_pathLock) return _diskPath.Replace('/', StoragePath.Separator); } }

    public bool IsDirectory { get; }

    public ulong FileId => _inode;

    public bool DeleteOnClose => _deleteOnClose;

    private string DiskPath { get { lock (_pathLock) return _diskPath; } }

    // ------------------------------------------------------------------ data

    // READ and WRITE run on a thread-pool worker already (one per request): pread/pwrite are made right there, not
    // queued to a second worker as RandomAccess.ReadAsync/WriteAsync do for a non-async descriptor. That hop was a
    // futex wake-up and a context switch per request, the same blocking of one worker either way. Failures come back
    // in the ValueTask, as from an async method, so a caller that starts a read and awaits it later sees them there.

    public ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            ThrowIfClosed();
            RequireFile();
            if (offset < 0)
                throw new StorageException(StorageError.InvalidParameter, "Negative offset.");
            if (buffer.Length == 0)
                return ValueTask.FromResult(0);
            cancellationToken.ThrowIfCancellationRequested();
            return ValueTask.FromResult(RandomAccess.Read(_fd, buffer.Span, offset));
        }
        catch (StorageException e) { return ValueTask.FromException<int>(e); }
        catch (OperationCanceledException e) { return ValueTask.FromException<int>(e); }
        catch (Exception e) { return ValueTask.FromException<int>(Errno.FromManaged(e, "Reading")); }
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        try
        {
            ThrowIfClosed();
            RequireFile();
            RequireWrite();
            if (offset < 0 || offset > long.MaxValue - data.Length)
                throw new StorageException(StorageError.InvalidParameter, "Offset out of range.");
            if (data.Length == 0)
                return ValueTask.CompletedTask;
            cancellationToken.ThrowIfCancellationRequested();
            if (!_writeGate.Wait(0))
                return WriteWhenGateFreeAsync(offset, data, cancellationToken);
            try { RandomAccess.Write(_fd, data.Span, offset); }
            finally { _writeGate.Release(); }
            return ValueTask.CompletedTask;
        }
        catch (StorageException e) { return ValueTask.FromException(e); }
        catch (OperationCanceledException e) { return ValueTask.FromException(e); }
        catch (Exception e) { return ValueTask.FromException(Errno.FromManaged(e, "Writing")); }
    }

    /// <summary>
    /// One pwrite at a time per handle. The kernel serializes buffered writes to one file anyway (the inode's lock),
    /// and a second writer waiting there spins on the lock's owner: with a client's pipelined 8 MiB WRITEs that spin
    /// doubled the gateway's CPU on some puts (perf: rwsem_spin_on_owner). Waiting here costs no thread.
    /// </summary>
    private readonly SemaphoreSlim _writeGate = new(1, 1);

    private async ValueTask WriteWhenGateFreeAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfClosed();
            RandomAccess.Write(_fd, data.Span, offset);
        }
        catch (Exception e) when (e is not (StorageException or OperationCanceledException))
        {
            throw Errno.FromManaged(e, "Writing");
        }
        finally
        {
            _writeGate.Release();
        }
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        return new ValueTask(Task.Run(() =>
        {
            using var fd = new FdLease(_fd);
            if (Fsync(fd.Fd) != 0)
                throw Errno.Exception(Errno.Last, "Flushing");
        }, cancellationToken));
    }

    public ValueTask SetEndOfFileAsync(long length, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        RequireFile();
        RequireWrite();
        if (length < 0)
            throw new StorageException(StorageError.InvalidParameter, "Negative length.");
        using var fd = new FdLease(_fd);
        if (Ftruncate(fd.Fd, length) != 0)
            throw Errno.Exception(Errno.Last, "Setting the end of file");
        return ValueTask.CompletedTask;
    }

    public ValueTask SetAllocationSizeAsync(long allocationSize, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        RequireFile();
        RequireWrite();
        if (allocationSize < 0)
            throw new StorageException(StorageError.InvalidParameter, "Negative allocation size.");
        using var fd = new FdLease(_fd);
        var st = LocalVolume.StatOrThrow(fd.Fd);
        long endOfFile = (long)st.Size, allocated = (long)st.Blocks * 512;
        if (allocationSize < endOfFile)
        {
            if (Ftruncate(fd.Fd, allocationSize) != 0)
                throw Errno.Exception(Errno.Last, "Truncating to the allocation size");
        }
        else if (allocationSize > allocated)
        {
            Volume.Preallocate(fd.Fd, allocationSize);
        }
        else if (allocationSize < allocated)
        {
            // Release space reserved past the end of file (truncating to the same size does that).
            Ftruncate(fd.Fd, endOfFile);
        }
        return ValueTask.CompletedTask;
    }

    // ------------------------------------------------------------------ metadata

    public ValueTask<FileMetadata> GetInfoAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        using var fd = new FdLease(_fd);
        var st = LocalVolume.StatOrThrow(fd.Fd);
        long? btime = null; uint? dos = null;
        if (Volume.UsesXattrs)
            LocalMetadata.ReadXattrs(fd.Fd, out btime, out dos);
        return ValueTask.FromResult(LocalMetadata.Compose(st, btime, dos));
    }

    public unsafe ValueTask SetInfoAsync(FileInfoUpdate update, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        if (Volume.ReadOnly)
            throw new StorageException(StorageError.ReadOnly, "The share is read-only.");
        using var fd = new FdLease(_fd);
        if (update.LastAccessTime is not null || update.LastWriteTime is not null)
        {
            Timespec* times = stackalloc Timespec[2];
            times[0] = update.LastAccessTime is DateTime a ? LocalMetadata.ToTimespec(a) : new Timespec { Nanoseconds = UTIME_OMIT };
            times[1] = update.LastWriteTime is DateTime w ? LocalMetadata.ToTimespec(w) : new Timespec { Nanoseconds = UTIME_OMIT };
            if (Futimens(fd.Fd, times) != 0)
                throw Errno.Exception(Errno.Last, "Setting times");
        }
        // ChangeTime: POSIX ctime cannot be set; ignored.
        if (!Volume.UsesXattrs)
            return ValueTask.CompletedTask; // degrade: creation time and attributes are not kept
        if (update.CreationTime is DateTime c)
            LocalMetadata.WriteBirthTime(fd.Fd, c);
        if (update.Attributes is not null || update.Sparse is not null)
        {
            LocalMetadata.ReadXattrs(fd.Fd, out _, out uint? dos);
            var stored = LocalMetadata.StoredAttributes(IsDirectory, dos);
            var updated = stored;
            if (update.Attributes is StorageFileAttributes requested)
                updated = (stored & StorageFileAttributes.SparseFile) | (requested & StorageFileAttributes.Settable);
            if (update.Sparse is bool sparse && !IsDirectory)
                updated = sparse ? updated | StorageFileAttributes.SparseFile : updated & ~StorageFileAttributes.SparseFile;
            if (updated != stored || dos is null)
                LocalMetadata.WriteDosAttributes(fd.Fd, updated);
        }
        return ValueTask.CompletedTask;
    }

    // ------------------------------------------------------------------ directories

    public async IAsyncEnumerable<StorageDirectoryEntry> EnumerateAsync(string? pattern = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        if (!IsDirectory)
            throw new StorageException(StorageError.NotADirectory, "Only a directory can be enumerated.");
        if (WildcardPattern.MatchesAll(pattern))
            pattern = null;

        if (pattern is not null && !WildcardPattern.HasWildcards(pattern))
        {
            // One name: a (case-insensitive) lookup, no scan.
            if (StoragePath.IsValidComponent(pattern) && LookupEntry(pattern) is StorageDirectoryEntry single)
                yield return single;
            yield break;
        }

        int dfd;
        using (var fd = new FdLease(_fd))
            dfd = Openat(fd.Fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (dfd < 0)
            throw Errno.Exception(Errno.Last, "Opening a directory for enumeration");
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(DirectoryReader.BufferSize);
        var batch = new List<StorageDirectoryEntry>(256);
        string dirDisk = DiskPath;
        try
        {
            while (ReadEntries(dfd, dirDisk, buffer, pattern, batch))
            {
                foreach (var entry in batch)
                    yield return entry;
                batch.Clear();
                cancellationToken.ThrowIfCancellationRequested();
                await Task.Yield();
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            Close(dfd);
        }
    }

    private StorageDirectoryEntry? LookupEntry(string name)
    {
        using var fd = new FdLease(_fd);
        using var root = Volume.LeaseRoot();
        string? actual = Volume.LookupName(fd.Fd, name);
        if (actual is null)
            return null;
        Span<byte> raw = stackalloc byte[System.Text.Encoding.UTF8.GetMaxByteCount(actual.Length)];
        int n = System.Text.Encoding.UTF8.GetBytes(actual, raw);
        return TryEntry(root.Fd, fd.Fd, DiskPath, raw[..n], actual, out var metadata)
            ? new StorageDirectoryEntry(actual, metadata) : null;
    }

    private bool ReadEntries(int dfd, string dirDisk, byte[] buffer, string? pattern, List<StorageDirectoryEntry> output)
    {
        int n = DirectoryReader.ReadBatch(dfd, buffer);
        if (n == 0)
            return false;
        using var root = Volume.LeaseRoot();
        var batch = new DirectoryReader.Batch(buffer.AsSpan(0, n));
        while (batch.Next(out var raw, out _, out _))
        {
            string? name = DirectoryReader.DecodeName(raw);
            if (name is null || !WildcardPattern.IsMatch(pattern, name))
                continue;
            if (TryEntry(root.Fd, dfd, dirDisk, raw, name, out var metadata))
                output.Add(new StorageDirectoryEntry(name, metadata));
        }
        return true;
    }

    /// <summary>Metadata of one entry of directory <paramref name="dfd"/>; false when it is not to be listed.</summary>
    private unsafe bool TryEntry(int rootFd, int dfd, string dirDisk, ReadOnlySpan<byte> raw, string name, out FileMetadata metadata)
    {
        metadata = default;
        Span<byte> path = stackalloc byte[raw.Length + 48];
        raw.CopyTo(path);
        path[raw.Length] = 0;
        Statx st;
        fixed (byte* p = path)
            if (StatxRaw(dfd, p, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME, out st) != 0)
                return false; // gone since it was listed
        long? btime = null; uint? dos = null;
        if (st.FileType == S_IFLNK)
        {
            // A link is listed as what it points to, when that is inside the share.
            int target = Volume.OpenBeneath(rootFd, LocalVolume.DiskJoin(dirDisk, name), O_PATH);
            if (target < 0)
                return false;
            try
            {
                if (StatxCall(target, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_BTIME, out st) != 0
                    || st.FileType is not (S_IFREG or S_IFDIR))
                    return false;
                if (Volume.UsesXattrs && Volume.ProcFdAvailable && ProcPath(path, target, default))
                    fixed (byte* p = path)
                        LocalMetadata.ReadXattrs(p, follow: true, out btime, out dos);
            }
            finally { Close(target); }
        }
        else if (st.FileType is S_IFREG or S_IFDIR)
        {
            if (Volume.UsesXattrs)
            {
                if (Volume.ProcFdAvailable && ProcPath(path, dfd, raw))
                {
                    fixed (byte* p = path)
                        LocalMetadata.ReadXattrs(p, follow: false, out btime, out dos);
                }
                else
                {
                    int fd;
                    fixed (byte* p = path)
                        fd = OpenatRaw(dfd, p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0);
                    if (fd >= 0)
                    {
                        LocalMetadata.ReadXattrs(fd, out btime, out dos);
                        Close(fd);
                    }
                }
            }
        }
        else
        {
            return false; // devices, fifos, sockets are not part of a share
        }
        metadata = LocalMetadata.Compose(st, btime, dos);
        return true;
    }

    /// <summary>Writes "/proc/self/fd/N[/name]\0" into <paramref name="destination"/>.</summary>
    private static bool ProcPath(Span<byte> destination, int fd, ReadOnlySpan<byte> name)
    {
        ReadOnlySpan<byte> prefix = "/proc/self/fd/"u8;
        if (destination.Length < prefix.Length + 12 + name.Length + 2)
            return false;
        prefix.CopyTo(destination);
        int at = prefix.Length;
        if (!fd.TryFormat(destination[at..], out int written, provider: System.Globalization.CultureInfo.InvariantCulture))
            return false;
        at += written;
        if (!name.IsEmpty)
        {
            destination[at++] = (byte)'/';
            name.CopyTo(destination[at..]);
            at += name.Length;
        }
        destination[at] = 0;
        return true;
    }

    // ------------------------------------------------------------------ rename and delete

    /// <summary>Another handle renamed its object from <paramref name="oldDisk"/> to <paramref name="newDisk"/>: this
    /// handle follows when it is open on the same object (same path and inode) or, for a directory, below it.</summary>
    internal void FollowRename(LocalHandle source, string oldDisk, string newDisk)
    {
        lock (_pathLock)
        {
            if (_deleted || Volatile.Read(ref _closed) != 0)
                return;
            if (_inode == source._inode && _devMajor == source._devMajor && _devMinor == source._devMinor
                && _diskPath.Equals(oldDisk, StringComparison.OrdinalIgnoreCase))
                _diskPath = newDisk;
            else if (source.IsDirectory && StoragePath.Rebase(_diskPath, oldDisk, newDisk, '/') is string below)
                _diskPath = below;
        }
    }

    public ValueTask RenameAsync(string newPath, bool replaceIfExists, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        cancellationToken.ThrowIfCancellationRequested();
        var components = StoragePath.Split(newPath);
        if (components.Length == 0)
            throw new StorageException(StorageError.NameInvalid, "The share root is not a rename target.");
        if (Volume.ReadOnly)
            throw new StorageException(StorageError.ReadOnly, "The share is read-only.");
        string oldDisk, newDisk;
        lock (_pathLock)
        {
            if (_diskPath.Length == 0)
                throw new StorageException(StorageError.AccessDenied, "The share root cannot be renamed.");
            if (_deleted)
                throw new StorageException(StorageError.NotFound, "The file was deleted.");
            using var root = Volume.LeaseRoot();
            var (oldParentDisk, oldName) = LocalVolume.DiskSplit(_diskPath);
            int oldParent = OpenParent(root.Fd, oldParentDisk);
            int newParent = -1;
            try
            {
                newParent = Volume.OpenDirectory(root.Fd, components.AsSpan(0, components.Length - 1), out string newParentDisk);
                CheckIdentity(oldParent, oldName);
                string newName = components[^1];
                string? existing = Volume.LookupName(newParent, newName);
                bool sameParent = SameDirectory(oldParent, newParent);
                var oldBefore = NameCache.Observe(oldParent);
                var newBefore = sameParent ? oldBefore : NameCache.Observe(newParent);

                if (existing is null)
                {
                    Rename(oldParent, oldName, newParent, newName, noReplace: true);
                    Volume.Names.Changed(oldParent, oldBefore, sameParent ? newName : null, oldName);
                    if (!sameParent)
                        Volume.Names.Changed(newParent, newBefore, newName, null);
                }
                else
                {
                    if (StatxCall(newParent, existing, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, out var target) != 0)
                        throw Errno.Exception(Errno.Last, "Reading the rename target");
                    bool sameEntry = sameParent && existing.Equals(oldName, StringComparison.OrdinalIgnoreCase)
                        && target.Inode == _inode;
                    if (sameEntry)
                    {
                        if (existing == newName && oldName == newName)
                            return ValueTask.CompletedTask; // same name: nothing to do
                        Rename(oldParent, oldName, newParent, newName, noReplace: false); // case change only
                    }
                    else
                    {
                        if (!replaceIfExists)
                            throw new StorageException(StorageError.AlreadyExists, "The rename target exists.");
                        if (target.FileType == S_IFDIR)
                            throw new StorageException(StorageError.AccessDenied, "A directory cannot be replaced.");
                        if (IsDirectory)
                            throw new StorageException(StorageError.AccessDenied, "A directory cannot replace a file.");
                        if (IsReadOnlyEntry(newParent, existing))
                            throw new StorageException(StorageError.AccessDenied, "The rename target is read-only.");
                        string? replacedStreams = Volume.HasNamedStreams ? StreamIdOfEntry(newParent, existing) : null;
                        Rename(oldParent, oldName, newParent, existing, noReplace: false);
                        if (replacedStreams is not null)
                            Volume.RemoveStreamDirectory(replacedStreams); // the replaced file's streams go with it
                        if (existing != newName)
                            Rename(newParent, existing, newParent, newName, noReplace: true);
                    }
                    Volume.Names.Invalidate(oldBefore);
                    Volume.Names.Invalidate(newBefore);
                }
                oldDisk = _diskPath;
                _diskPath = newDisk = LocalVolume.DiskJoin(newParentDisk, newName);
            }
            finally
            {
                Close(oldParent);
                if (newParent >= 0) Close(newParent);
            }
        }
        // Outside this handle's lock: the others take theirs (two renames at once never wait for each other).
        Volume.Renamed(this, oldDisk, newDisk);
        return ValueTask.CompletedTask;
    }

    private static void Rename(int oldParent, string oldName, int newParent, string newName, bool noReplace)
    {
        if (Renameat2(oldParent, oldName, newParent, newName, noReplace ? RENAME_NOREPLACE : 0) == 0)
            return;
        int errno = Errno.Last;
        if (noReplace && errno == EINVAL)
        {
            // The file system may not know RENAME_NOREPLACE; the target was checked absent just before.
            if (StatxCall(newParent, newName, AT_SYMLINK_NOFOLLOW, 0, out _) == 0)
                throw new StorageException(StorageError.AlreadyExists, "The rename target exists.");
            if (Renameat2(oldParent, oldName, newParent, newName, 0) == 0)
                return;
            errno = Errno.Last;
        }
        throw errno switch
        {
            EEXIST or ENOTEMPTY => Errno.Exception(StorageError.AlreadyExists, errno, "Renaming"),
            EXDEV => Errno.Exception(StorageError.OutsideShare, errno, "Renaming"),
            _ => Errno.Exception(errno, "Renaming"),
        };
    }

    private static bool SameDirectory(int a, int b)
    {
        var sa = NameCache.Observe(a).Directory;
        var sb = NameCache.Observe(b).Directory;
        return sa == sb;
    }

    private unsafe bool IsReadOnlyEntry(int parent, string name)
    {
        if (!Volume.UsesXattrs)
            return false;
        int fd = Openat(parent, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0);
        if (fd < 0)
            return false;
        try
        {
            LocalMetadata.ReadXattrs(fd, out _, out uint? dos);
            return (LocalMetadata.StoredAttributes(false, dos) & StorageFileAttributes.ReadOnly) != 0;
        }
        finally { Close(fd); }
    }

    private int OpenParent(int rootFd, string parentDisk)
    {
        int fd = Volume.OpenBeneath(rootFd, parentDisk, O_PATH | O_DIRECTORY);
        if (fd < 0)
        {
            int errno = Errno.Last;
            throw errno is ENOENT or ENOTDIR
                ? Errno.Exception(StorageError.NotFound, errno, "The file's directory was moved or deleted")
                : Errno.ResolveException(errno, "Opening the file's directory");
        }
        return fd;
    }

    /// <summary>Checks that <paramref name="name"/> in <paramref name="parent"/> is still this handle's object.</summary>
    private void CheckIdentity(int parent, string name)
    {
        if (StatxCall(parent, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, out var st) != 0)
        {
            int errno = Errno.Last;
            throw Errno.Exception(errno == ENOENT ? StorageError.NotFound : Errno.ToError(errno), errno,
                "The file was moved or deleted by someone else");
        }
        bool same = st.Inode == _inode && st.DevMajor == _devMajor && st.DevMinor == _devMinor;
        if (!same && st.FileType != S_IFLNK) // opened through a link inside the share: the link is renamed/deleted
            throw new StorageException(StorageError.NotFound, "The name now refers to another file.");
    }

    public ValueTask SetDeleteOnCloseAsync(bool deleteOnClose, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        if (deleteOnClose)
            CheckDeletable();
        _deleteOnClose = deleteOnClose;
        return ValueTask.CompletedTask;
    }

    public ValueTask DeleteAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        DeleteNow();
        return ValueTask.CompletedTask;
    }

    private void CheckDeletable()
    {
        if (Volume.ReadOnly)
            throw new StorageException(StorageError.ReadOnly, "The share is read-only.");
        if (DiskPath.Length == 0)
            throw new StorageException(StorageError.AccessDenied, "The share root cannot be deleted.");
        using var fd = new FdLease(_fd);
        if (IsDirectory)
        {
            if (!DirectoryReader.IsEmpty(fd.Fd))
                throw new StorageException(StorageError.DirectoryNotEmpty, "The directory is not empty.");
        }
        else if (Volume.UsesXattrs)
        {
            LocalMetadata.ReadXattrs(fd.Fd, out _, out uint? dos);
            if ((LocalMetadata.StoredAttributes(false, dos) & StorageFileAttributes.ReadOnly) != 0)
                throw new StorageException(StorageError.CannotDelete, "The file is read-only.");
        }
    }

    private void DeleteNow()
    {
        CheckDeletable();
        lock (_pathLock)
        {
            if (_deleted)
                throw new StorageException(StorageError.NotFound, "The file was deleted.");
            using var root = Volume.LeaseRoot();
            var (parentDisk, name) = LocalVolume.DiskSplit(_diskPath);
            int parent = OpenParent(root.Fd, parentDisk);
            try
            {
                CheckIdentity(parent, name);
                string? streams = StreamIdBeforeDelete();
                var before = NameCache.Observe(parent);
                if (Unlinkat(parent, name, IsDirectory ? AT_REMOVEDIR : 0) != 0)
                {
                    int errno = Errno.Last;
                    throw errno is ENOTEMPTY or EEXIST
                        ? Errno.Exception(StorageError.DirectoryNotEmpty, errno, "Deleting")
                        : Errno.Exception(errno, "Deleting");
                }
                Volume.Names.Changed(parent, before, null, name);
                _deleted = true;
                if (streams is not null)
                    Volume.RemoveStreamDirectory(streams); // a file's named streams are deleted with it
            }
            finally { Close(parent); }
        }
    }

    // ------------------------------------------------------------------ offload primitives

    internal unsafe void CloneTo(long sourceOffset, LocalHandle destination, long destinationOffset, long length)
    {
        destination.ThrowIfClosed();
        ThrowIfClosed();
        destination.RequireWrite();
        using var src = new FdLease(_fd);
        using var dst = new FdLease(destination._fd);
        var range = new FileCloneRange
        {
            SourceFd = src.Fd,
            SourceOffset = (ulong)sourceOffset,
            SourceLength = (ulong)length,
            DestinationOffset = (ulong)destinationOffset,
        };
        if (Ioctl(dst.Fd, FICLONERANGE, &range) == 0)
            return;
        int errno = Errno.Last;
        throw errno switch
        {
            EOPNOTSUPP or ENOTTY or ENOSYS => Errno.Exception(StorageError.NotSupported, errno, "Cloning a range"),
            EXDEV => Errno.Exception(StorageError.CrossDevice, errno, "Cloning a range"),
            EBADF => Errno.Exception(StorageError.AccessDenied, errno, "Cloning a range"),
            _ => Errno.Exception(errno, "Cloning a range"),
        };
    }

    internal unsafe long CopyTo(long sourceOffset, LocalHandle destination, long destinationOffset, long length,
        CancellationToken cancellationToken)
    {
        destination.ThrowIfClosed();
        ThrowIfClosed();
        destination.RequireWrite();
        using var src = new FdLease(_fd);
        using var dst = new FdLease(destination._fd);
        long inOffset = sourceOffset, outOffset = destinationOffset, total = 0;
        while (total < length)
        {
            cancellationToken.ThrowIfCancellationRequested();
            nuint chunk = (nuint)Math.Min(length - total, 1L << 30);
            nint copied = CopyFileRange(src.Fd, &inOffset, dst.Fd, &outOffset, chunk, 0);
            if (copied < 0)
            {
                int errno = Errno.Last;
                if (errno == EINTR)
                    continue;
                if (total > 0)
                    break; // report the progress; the next call reports the error
                throw errno switch
                {
                    EOPNOTSUPP or ENOSYS or EINVAL => Errno.Exception(StorageError.NotSupported, errno, "Copying a range"),
                    EXDEV => Errno.Exception(StorageError.CrossDevice, errno, "Copying a range"),
                    EBADF => Errno.Exception(StorageError.AccessDenied, errno, "Copying a range"),
                    _ => Errno.Exception(errno, "Copying a range"),
                };
            }
            if (copied == 0)
                break; // end of the source
            total += copied;
        }
        return total;
    }

    // ------------------------------------------------------------------ lifetime

    private void ThrowIfClosed()
    {
        if (Volatile.Read(ref _closed) != 0)
            throw new StorageException(StorageError.HandleClosed, "The handle is closed.");
    }

    private void RequireFile()
    {
        if (IsDirectory)
            throw new StorageException(StorageError.IsADirectory, "Data operations need a file.");
    }

    private void RequireWrite()
    {
        if (Volume.ReadOnly)
            throw new StorageException(StorageError.ReadOnly, "The share is read-only.");
        if ((_access & StorageAccess.Write) == 0)
            throw new StorageException(StorageError.AccessDenied, "The handle was not opened for writing.");
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
            return;
        try
        {
            if (_deleteOnClose && !_deleted)
                DeleteNow();
        }
        catch (StorageException e)
        {
            Volume.Logger.LogWarning(e, "Delete on close of {Path} failed", DiskPath);
        }
        finally
        {
            Volume.Untrack(this);
            _fd.Dispose();
        }
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
