using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using SmbCopy.Storage.Interop;
using static SmbCopy.Storage.Interop.Libc;

namespace SmbCopy.Storage.Local;

/// <summary>
/// A share on a local directory.
/// <para>Confinement: every path is resolved by openat2(2) from the share root's descriptor with RESOLVE_BENEATH |
/// RESOLVE_NO_MAGICLINKS, so ".." and symbolic links cannot leave the share (links inside it are followed);
/// ".." and absolute names are refused before that (<see cref="StoragePath"/>). Only regular files and directories are
/// opened: devices, fifos and sockets are checked with an O_PATH descriptor (which does not open them) and refused
/// with <see cref="StorageError.NotSupported"/>.</para>
/// <para>Names: the exact name is tried first; if absent, a case-insensitive match is looked up in
/// <see cref="NameCache"/>. New names keep the case given.</para>
/// </summary>
internal sealed partial class LocalVolume : IStorageVolume
{
    private const ulong Resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    private readonly SafeFileHandle _root;
    private readonly string _rootPath;
    private readonly bool _readOnly;
    private readonly bool _procFd;
    private readonly NameCache _names = new();

    private LocalVolume(string name, string rootPath, SafeFileHandle root, bool readOnly, StorageCapabilities capabilities,
        int cloneAlignment, ILogger logger)
    {
        Name = name;
        _rootPath = rootPath;
        _root = root;
        _readOnly = readOnly;
        Capabilities = capabilities;
        CloneAlignment = cloneAlignment;
        Logger = logger;
        _procFd = Directory.Exists("/proc/self/fd");
    }

    public string Name { get; }
    public StorageCapabilities Capabilities { get; }
    public int CloneAlignment { get; }
    internal ILogger Logger { get; }
    internal bool ReadOnly => _readOnly;
    internal bool UsesXattrs => (Capabilities & StorageCapabilities.ExtendedAttributes) != 0;
    internal bool NativeBirthTime => (Capabilities & StorageCapabilities.NativeBirthTime) != 0;
    internal NameCache Names => _names;

    // ------------------------------------------------------------------ opening the volume

    internal static LocalVolume Open(StorageVolumeOptions options, ILogger logger)
    {
        string path = System.IO.Path.GetFullPath(options.Path);
        int fd = Openat(AT_FDCWD, path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0)
            throw Errno.Exception(Errno.Last, $"Opening the share directory '{path}'");
        var root = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            int probe = Openat2(fd, ".", (ulong)(O_PATH | O_DIRECTORY | O_CLOEXEC), 0, Resolve);
            if (probe < 0)
            {
                int errno = Errno.Last;
                throw errno == ENOSYS
                    ? Errno.Exception(StorageError.NotSupported, errno, "openat2(2) (Linux 5.6+) is required")
                    : Errno.Exception(errno, "Resolving the share root");
            }
            Close(probe);
            var (capabilities, alignment) = Probe(fd, options.ReadOnly);
            logger.LogInformation("Local volume {Share} at {Path}: {Capabilities}", options.Name, path, capabilities);
            return new LocalVolume(options.Name, path, root, options.ReadOnly, capabilities, alignment, logger);
        }
        catch
        {
            root.Dispose();
            throw;
        }
    }

    private static unsafe (StorageCapabilities, int) Probe(int rootFd, bool readOnly)
    {
        var caps = StorageCapabilities.None;
        if (StatxCall(rootFd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_BTIME, out var st) == 0 && st.HasBirthTime)
            caps |= StorageCapabilities.NativeBirthTime;
        int blockSize = 4096;
        if (Fstatfs(rootFd, out var fs) == 0 && fs.BlockSize > 0)
            blockSize = (int)fs.BlockSize;

        int dir = Openat(rootFd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (dir >= 0)
        {
            try
            {
                byte* buf = stackalloc byte[8];
                fixed (byte* name = LocalMetadata.DosAttrName)
                    if (Fgetxattr(dir, name, buf, 8) >= 0 || Errno.Last is ENODATA or ERANGE)
                        caps |= StorageCapabilities.ExtendedAttributes | StorageCapabilities.PersistentDosAttributes
                            | StorageCapabilities.PersistentCreationTime;
                int flags = 0;
                if (Ioctl(dir, FS_IOC_GETFLAGS, &flags) != 0 || (flags & FS_CASEFOLD_FL) == 0)
                    caps |= StorageCapabilities.CaseSensitiveBackingStore;
            }
            finally { Close(dir); }
        }
        else
        {
            caps |= StorageCapabilities.CaseSensitiveBackingStore;
        }
        // Named streams live in the stream depot and are linked from their file by an xattr; EAs are xattrs.
        if ((caps & StorageCapabilities.ExtendedAttributes) != 0)
            caps |= StorageCapabilities.NamedStreams | StorageCapabilities.FileEas;

        // Offload probes on two unnamed temporary files (never visible in the share).
        caps |= StorageCapabilities.RangeCopy; // copy_file_range exists since Linux 4.5; refused calls fall back
        if (readOnly)
            return (caps, 0);
        int a = Openat(rootFd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0x180);
        if (a < 0)
            return (caps, 0);
        int b = Openat(rootFd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0x180);
        try
        {
            if (b < 0)
                return (caps, 0);
            int alignment = 0;
            if (Ftruncate(a, blockSize) == 0)
            {
                var range = new FileCloneRange { SourceFd = a, SourceOffset = 0, SourceLength = (ulong)blockSize, DestinationOffset = 0 };
                if (Ioctl(b, FICLONERANGE, &range) == 0)
                {
                    caps |= StorageCapabilities.CloneRange;
                    alignment = blockSize;
                }
                long inOff = 0, outOff = 0;
                if (CopyFileRange(a, &inOff, b, &outOff, 1, 0) < 0 && Errno.Last is ENOSYS or EOPNOTSUPP or EXDEV)
                    caps &= ~StorageCapabilities.RangeCopy;
            }
            if (Fallocate(b, FALLOC_FL_KEEP_SIZE, 0, blockSize) == 0)
                caps |= StorageCapabilities.Preallocation;
            if (Ftruncate(b, blockSize) == 0 && Fallocate(b, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, blockSize) == 0)
                caps |= StorageCapabilities.SparseFiles;
            return (caps, alignment);
        }
        finally
        {
            Close(a);
            if (b >= 0) Close(b);
        }
    }

    // ------------------------------------------------------------------ volume information

    public ValueTask<VolumeInfo> GetVolumeInfoAsync(CancellationToken cancellationToken = default)
    {
        using var root = new FdLease(_root);
        if (Fstatfs(root.Fd, out var fs) != 0)
            throw Errno.Exception(Errno.Last, "Reading the volume's status");
        long fragment = fs.FragmentSize > 0 ? fs.FragmentSize : fs.BlockSize;
        uint serial = unchecked((uint)(fs.FsId0 ^ fs.FsId1));
        if (serial == 0)
            serial = Fnv1a(_rootPath);
        return ValueTask.FromResult(new VolumeInfo(
            (long)fs.Blocks * fragment,
            (long)fs.AvailableBlocks * fragment,
            (int)fs.BlockSize,
            FileSystemName(fs.Type),
            serial,
            (int)fs.NameLength));
    }

    private static uint Fnv1a(string s)
    {
        uint h = 2166136261;
        foreach (byte b in System.Text.Encoding.UTF8.GetBytes(s))
            h = (h ^ b) * 16777619;
        return h;
    }

    private static string FileSystemName(long type) => (uint)type switch
    {
        0xEF53 => "ext4",
        0x9123683E => "btrfs",
        0x58465342 => "xfs",
        0x01021994 => "tmpfs",
        0x6969 => "nfs",
        0x2FC12FC1 => "zfs",
        0x794C7630 => "overlayfs",
        0xF2F52010 => "f2fs",
        0xFF534D42 => "cifs",
        0x65735546 => "fuse",
        _ => $"0x{type:x}",
    };

    // ------------------------------------------------------------------ resolution

    internal static string DiskJoin(string parent, string name) => parent.Length == 0 ? name : parent + "/" + name;

    internal static (string Parent, string Name) DiskSplit(string diskPath)
    {
        int slash = diskPath.LastIndexOf('/');
        return slash < 0 ? ("", diskPath) : (diskPath[..slash], diskPath[(slash + 1)..]);
    }

    /// <summary>openat2 beneath the root; returns the descriptor or -1 with errno set.</summary>
    internal int OpenBeneath(int rootFd, string diskPath, int flags, int mode = 0) =>
        Openat2(rootFd, diskPath.Length == 0 ? "." : diskPath, (ulong)(flags | O_CLOEXEC), (ulong)mode, Resolve);

    /// <summary>Opens (O_PATH) the directory of share path components, case-insensitively; returns its on-disk path.</summary>
    internal int OpenDirectory(int rootFd, ReadOnlySpan<string> components, out string diskPath)
    {
        diskPath = JoinDisk(components);
        int fd = OpenBeneath(rootFd, diskPath, O_PATH | O_DIRECTORY);
        if (fd >= 0)
            return fd;
        int errno = Errno.Last;
        if (errno is not (ENOENT or ENOTDIR))
            throw Errno.ResolveException(errno, "Resolving a directory");

        // Slow path: walk, matching each component case-insensitively.
        diskPath = "";
        fd = OpenBeneath(rootFd, "", O_PATH | O_DIRECTORY);
        if (fd < 0)
            throw Errno.ResolveException(Errno.Last, "Opening the share root");
        try
        {
            foreach (var component in components)
            {
                string actual = LookupName(fd, component)
                    ?? throw new StorageException(StorageError.PathNotFound, "A directory of the path does not exist.");
                string next = DiskJoin(diskPath, actual);
                int child = OpenBeneath(rootFd, next, O_PATH | O_DIRECTORY);
                if (child < 0)
                {
                    int e = Errno.Last;
                    throw e is ENOENT or ENOTDIR
                        ? Errno.Exception(StorageError.PathNotFound, e, "Resolving a directory")
                        : Errno.ResolveException(e, "Resolving a directory");
                }
                Close(fd);
                fd = child;
                diskPath = next;
            }
            int result = fd;
            fd = -1;
            return result;
        }
        finally
        {
            if (fd >= 0) Close(fd);
        }
    }

    /// <summary>The on-disk name matching <paramref name="name"/> in a directory (exact first), or null.</summary>
    internal string? LookupName(int directoryFd, string name)
    {
        if (StatxCall(directoryFd, name, AT_SYMLINK_NOFOLLOW, 0, out _) == 0)
            return name;
        int errno = Errno.Last;
        if (errno != ENOENT)
            throw Errno.ResolveException(errno, "Looking up a name");
        return _names.Find(directoryFd, name);
    }

    // ------------------------------------------------------------------ open / create

    public ValueTask<OpenResult> OpenAsync(string path, OpenRequest request, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var components = StoragePath.Split(path);
        if (request.Disposition is < CreateDisposition.Supersede or > CreateDisposition.OverwriteIf)
            throw new StorageException(StorageError.InvalidParameter, "Unknown create disposition.");
        if (request.Kind == ObjectKind.Directory && request.Disposition is CreateDisposition.Overwrite
                or CreateDisposition.OverwriteIf or CreateDisposition.Supersede)
            throw new StorageException(StorageError.InvalidParameter, "A directory cannot be overwritten or superseded.");

        using var root = new FdLease(_root);
        if (!string.IsNullOrEmpty(request.Stream))
            return ValueTask.FromResult(OpenStream(root.Fd, components, request));
        return ValueTask.FromResult(OpenCore(root.Fd, components, request));
    }

    /// <summary>Opens share-relative (or, for streams, depot) components, retrying when the name changes meanwhile.</summary>
    private OpenResult OpenCore(int rootFd, string[] components, OpenRequest request)
    {
        for (int attempt = 0; ; attempt++)
        {
            var result = TryOpen(rootFd, components, request, out bool raced);
            if (!raced)
                return result;
            if (attempt == 3)
                throw new StorageException(StorageError.Busy, "The name keeps changing while it is opened.");
        }
    }

    private OpenResult TryOpen(int rootFd, string[] components, OpenRequest request, out bool raced)
    {
        raced = false;
        string diskPath = JoinDisk(components);
        int pathFd = OpenBeneath(rootFd, diskPath, O_PATH);
        if (pathFd < 0)
        {
            int errno = Errno.Last;
            if (errno is not (ENOENT or ENOTDIR))
                throw Errno.ResolveException(errno, "Opening");
            if (components.Length == 0)
                throw Errno.Exception(errno, "Opening the share root");

            int parentFd = OpenDirectory(rootFd, components.AsSpan(0, components.Length - 1), out string parentDisk);
            try
            {
                string? actual = LookupName(parentFd, components[^1]);
                if (actual is null)
                    return Create(rootFd, parentFd, parentDisk, components[^1], request, out raced);
                diskPath = DiskJoin(parentDisk, actual);
                pathFd = OpenBeneath(rootFd, diskPath, O_PATH);
                if (pathFd < 0)
                {
                    errno = Errno.Last;
                    if (errno == ENOENT && StatxCall(parentFd, actual, AT_SYMLINK_NOFOLLOW, 0, out _) != 0)
                    {
                        raced = true; // removed since the lookup (or the cache was stale)
                        _names.Invalidate(NameCache.Observe(parentFd));
                        return default;
                    }
                    throw Errno.ResolveException(errno, "Opening");
                }
            }
            finally { Close(parentFd); }
        }

        try
        {
            return OpenExisting(rootFd, pathFd, diskPath, request, out raced);
        }
        finally { Close(pathFd); }
    }

    private OpenResult OpenExisting(int rootFd, int pathFd, string diskPath, OpenRequest request, out bool raced)
    {
        raced = false;
        if (StatxCall(pathFd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, out var st) != 0)
            throw Errno.Exception(Errno.Last, "Reading a file's status");
        int type = st.FileType;
        if (type is not (S_IFREG or S_IFDIR))
            throw new StorageException(StorageError.NotSupported, "Only regular files and directories can be opened.");
        bool isDirectory = type == S_IFDIR;
        if (request.Disposition == CreateDisposition.Create)
            throw new StorageException(StorageError.AlreadyExists, "The name already exists.");
        if (request.Kind == ObjectKind.Directory && !isDirectory)
            throw new StorageException(StorageError.NotADirectory, "Not a directory.");
        if (request.Kind == ObjectKind.File && isDirectory)
            throw new StorageException(StorageError.IsADirectory, "Is a directory.");

        bool overwrite = request.Disposition is CreateDisposition.Overwrite or CreateDisposition.OverwriteIf
            or CreateDisposition.Supersede;
        if (overwrite && isDirectory)
            throw new StorageException(StorageError.IsADirectory, "A directory cannot be overwritten.");
        bool write = !isDirectory && (overwrite || (request.Access & StorageAccess.Write) != 0);
        if (write && _readOnly)
            throw new StorageException(StorageError.ReadOnly, "The share is read-only.");

        int flags = isDirectory ? O_RDONLY | O_DIRECTORY : write ? O_RDWR : O_RDONLY;
        int fd = OpenBeneath(rootFd, diskPath, flags | O_NONBLOCK | O_NOCTTY);
        if (fd < 0 && Errno.Last == EACCES && write)
            fd = OpenBeneath(rootFd, diskPath, O_WRONLY | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
        {
            int errno = Errno.Last;
            if (errno is ENOENT or ENXIO or ENODEV) { raced = true; return default; }
            throw Errno.ResolveException(errno, "Opening");
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            if (StatxCall(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, out var st2) != 0)
                throw Errno.Exception(Errno.Last, "Reading a file's status");
            if (st2.Inode != st.Inode || st2.DevMajor != st.DevMajor || st2.DevMinor != st.DevMinor)
            {
                raced = true; // replaced between the check and the open
                handle.Dispose();
                return default;
            }
            int fl = Fcntl(fd, F_GETFL, 0);
            if (fl >= 0)
                Fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);

            var action = OpenAction.Opened;
            if (!isDirectory)
            {
                LocalMetadata.ReadXattrs(fd, out _, out uint? dos);
                var existing = LocalMetadata.StoredAttributes(false, dos);
                if (write && (existing & StorageFileAttributes.ReadOnly) != 0)
                    throw new StorageException(StorageError.AccessDenied, "The file is read-only.");
                if (overwrite)
                {
                    var wanted = request.Attributes & StorageFileAttributes.Settable;
                    var mustKeep = existing & (StorageFileAttributes.Hidden | StorageFileAttributes.System);
                    if ((wanted & mustKeep) != mustKeep)
                        throw new StorageException(StorageError.AccessDenied,
                            "A hidden or system file is overwritten only with those attributes.");
                    if (Ftruncate(fd, 0) != 0)
                        throw Errno.Exception(Errno.Last, "Truncating");
                    if (UsesXattrs)
                        LocalMetadata.WriteDosAttributes(fd, wanted | StorageFileAttributes.Archive);
                    if (request.AllocationSize > 0)
                        Preallocate(fd, request.AllocationSize);
                    action = request.Disposition == CreateDisposition.Supersede ? OpenAction.Superseded : OpenAction.Overwritten;
                }
            }
            var result = new OpenResult(new LocalHandle(this, handle, diskPath, isDirectory, st2, request.Access), action);
            handle = null!;
            return result;
        }
        finally
        {
            handle?.Dispose();
        }
    }

    private OpenResult Create(int rootFd, int parentFd, string parentDisk, string name, OpenRequest request, out bool raced)
    {
        raced = false;
        if (request.Disposition is CreateDisposition.Open or CreateDisposition.Overwrite)
            throw new StorageException(StorageError.NotFound, "The file does not exist.");
        if (_readOnly)
            throw new StorageException(StorageError.ReadOnly, "The share is read-only.");
        string diskPath = DiskJoin(parentDisk, name);
        bool isDirectory = request.Kind == ObjectKind.Directory;
        var before = NameCache.Observe(parentFd);
        int fd;
        if (isDirectory)
        {
            if (Mkdirat(parentFd, name, 0x1FF) != 0)
            {
                int errno = Errno.Last;
                if (errno == EEXIST) { raced = true; _names.Invalidate(before); return default; }
                throw Errno.Exception(errno, "Creating a directory");
            }
            _names.Changed(parentFd, before, name, null);
            fd = Openat(parentFd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
        }
        else
        {
            int access = (request.Access & StorageAccess.Write) != 0 ? O_RDWR : O_RDONLY;
            fd = Openat(parentFd, name, access | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0x1B6);
            if (fd < 0)
            {
                int errno = Errno.Last;
                if (errno == EEXIST) { raced = true; _names.Invalidate(before); return default; }
                throw Errno.Exception(errno, "Creating a file");
            }
            _names.Changed(parentFd, before, name, null);
        }
        if (fd < 0)
            throw Errno.Exception(Errno.Last, "Opening a new directory");
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            if (UsesXattrs)
            {
                var attributes = request.Attributes & StorageFileAttributes.Settable;
                if (!isDirectory)
                    attributes |= StorageFileAttributes.Archive;
                if (attributes != LocalMetadata.StoredAttributes(isDirectory, null))
                    LocalMetadata.WriteDosAttributes(fd, attributes);
                if (!NativeBirthTime)
                    LocalMetadata.WriteBirthTime(fd, DateTime.UtcNow);
            }
            if (!isDirectory && request.AllocationSize > 0)
                Preallocate(fd, request.AllocationSize);
            if (StatxCall(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, out var st) != 0)
                throw Errno.Exception(Errno.Last, "Reading a file's status");
            var result = new OpenResult(new LocalHandle(this, handle, diskPath, isDirectory, st, request.Access), OpenAction.Created);
            handle = null!;
            return result;
        }
        catch
        {
            // Do not leave a half-made object behind.
            if (Unlinkat(parentFd, name, isDirectory ? AT_REMOVEDIR : 0) == 0)
                _names.Invalidate(NameCache.Observe(parentFd));
            throw;
        }
        finally
        {
            handle?.Dispose();
        }
    }

    /// <summary>Reserves space up to <paramref name="size"/> without changing the end of file (best effort).</summary>
    internal void Preallocate(int fd, long size)
    {
        if ((Capabilities & StorageCapabilities.Preallocation) == 0)
            return;
        if (Fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, size) != 0)
        {
            int errno = Errno.Last;
            if (errno is ENOSPC or EDQUOT or EFBIG)
                throw Errno.Exception(errno, "Reserving space");
        }
    }

    internal FdLease LeaseRoot() => new(_root);

    // Every open handle of the volume, so that a rename through one handle moves the others (IStorageHandle.Path).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<LocalHandle, byte> _openHandles = new();

    internal void Track(LocalHandle handle) => _openHandles.TryAdd(handle, 0);

    internal void Untrack(LocalHandle handle) => _openHandles.TryRemove(handle, out _);

    /// <summary>After <paramref name="source"/> renamed its object from <paramref name="oldDisk"/> to
    /// <paramref name="newDisk"/>: the other opens of that object, and for a directory every open below it, follow.</summary>
    internal void Renamed(LocalHandle source, string oldDisk, string newDisk)
    {
        foreach (var handle in _openHandles.Keys)
        {
            if (!ReferenceEquals(handle, source))
                handle.FollowRename(source, oldDisk, newDisk);
        }
    }

    // ------------------------------------------------------------------ path operations

    public async ValueTask RenameAsync(string path, string newPath, bool replaceIfExists, CancellationToken cancellationToken = default)
    {
        var (handle, _) = await OpenAsync(path, new OpenRequest(CreateDisposition.Open, StorageAccess.None), cancellationToken)
            .ConfigureAwait(false);
        await using (handle.ConfigureAwait(false))
            await handle.RenameAsync(newPath, replaceIfExists, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DeleteAsync(string path, CancellationToken cancellationToken = default)
    {
        var (handle, _) = await OpenAsync(path, new OpenRequest(CreateDisposition.Open, StorageAccess.None), cancellationToken)
            .ConfigureAwait(false);
        await using (handle.ConfigureAwait(false))
            await handle.DeleteAsync(cancellationToken).ConfigureAwait(false);
    }

    // ------------------------------------------------------------------ offload

    public ValueTask CloneRangeAsync(IStorageHandle source, long sourceOffset, IStorageHandle destination, long destinationOffset,
        long length, CancellationToken cancellationToken = default)
    {
        var (src, dst) = LocalPair(source, destination);
        CheckRange(sourceOffset, destinationOffset, length);
        cancellationToken.ThrowIfCancellationRequested();
        if (dst.Volume._readOnly)
            throw new StorageException(StorageError.ReadOnly, "The share is read-only.");
        if (length == 0)
            return ValueTask.CompletedTask;
        if (length <= InlineCloneBytes)
        {
            try
            {
                src.CloneTo(sourceOffset, dst, destinationOffset, length);
                return ValueTask.CompletedTask;
            }
            catch (StorageException e) { return ValueTask.FromException(e); }
        }
        return new ValueTask(Task.Run(() => src.CloneTo(sourceOffset, dst, destinationOffset, length), cancellationToken));
    }

    /// <summary>
    /// Clones and range copies up to these sizes are made on the caller's worker (a reflink of 1 GiB takes about a
    /// millisecond, a copy_file_range of a 16 MiB copy-chunk request a few): a second worker cost a wake-up per request.
    /// Larger ones run on their own worker, so that the caller can send an interim response while they last.
    /// </summary>
    private const long InlineCloneBytes = 1L << 30, InlineCopyBytes = 64L << 20;

    public ValueTask<long> CopyRangeAsync(IStorageHandle source, long sourceOffset, IStorageHandle destination, long destinationOffset,
        long length, CancellationToken cancellationToken = default)
    {
        var (src, dst) = LocalPair(source, destination);
        CheckRange(sourceOffset, destinationOffset, length);
        cancellationToken.ThrowIfCancellationRequested();
        if (dst.Volume._readOnly)
            throw new StorageException(StorageError.ReadOnly, "The share is read-only.");
        if (length == 0)
            return ValueTask.FromResult(0L);
        if (length <= InlineCopyBytes)
        {
            try { return ValueTask.FromResult(src.CopyTo(sourceOffset, dst, destinationOffset, length, cancellationToken)); }
            catch (StorageException e) { return ValueTask.FromException<long>(e); }
            catch (OperationCanceledException e) { return ValueTask.FromException<long>(e); }
        }
        return new ValueTask<long>(Task.Run(
            () => src.CopyTo(sourceOffset, dst, destinationOffset, length, cancellationToken), cancellationToken));
    }

    private static (LocalHandle, LocalHandle) LocalPair(IStorageHandle source, IStorageHandle destination)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        // A named stream is a file of its own: copy and clone work on its data file.
        if (source is LocalStreamHandle sourceStream) source = sourceStream.Data;
        if (destination is LocalStreamHandle destinationStream) destination = destinationStream.Data;
        if (source is not LocalHandle src || destination is not LocalHandle dst)
            throw new StorageException(StorageError.CrossDevice, "Both handles must belong to the local driver.");
        if (src.IsDirectory || dst.IsDirectory)
            throw new StorageException(StorageError.IsADirectory, "Ranges are copied between files.");
        return (src, dst);
    }

    private static void CheckRange(long sourceOffset, long destinationOffset, long length)
    {
        if (sourceOffset < 0 || destinationOffset < 0 || length < 0
            || sourceOffset > long.MaxValue - length || destinationOffset > long.MaxValue - length)
            throw new StorageException(StorageError.InvalidParameter, "Offsets and length must be non-negative and not overflow.");
    }

    // ------------------------------------------------------------------ lifetime

    public void Dispose() => _root.Dispose();

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    internal bool ProcFdAvailable => _procFd;

    internal static Libc.Statx StatOrThrow(int fd)
    {
        if (StatxCall(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_BTIME, out var st) != 0)
            throw Errno.Exception(Errno.Last, "Reading a file's status");
        return st;
    }

    private static string JoinDisk(ReadOnlySpan<string> components)
    {
        if (components.Length == 0)
            return "";
        var sb = new System.Text.StringBuilder(components[0]);
        for (int i = 1; i < components.Length; i++)
            sb.Append('/').Append(components[i]);
        return sb.ToString();
    }
}
