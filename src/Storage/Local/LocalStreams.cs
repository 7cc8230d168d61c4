using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using static SmbCopy.Storage.Interop.Libc;

namespace SmbCopy.Storage.Local;

// Named streams on the local driver.
//
// A stream is a regular file, so positional I/O, copy_file_range and FICLONERANGE work on it as on any file. The
// streams of one file live in one directory of the stream depot, "smbcopy:streams" at the share root:
// "smbcopy:streams/<id>/<stream name>". The depot's name contains ':', which no share path may contain
// (StoragePath.Split refuses it) and which the enumeration never lists (not a valid Windows name), so clients can
// neither see nor reach it, and every access to it is still resolved beneath the share root (openat2).
// The file points at its directory with the xattr user.smbcopy.streams = <id>: 32 random hex digits, not the inode
// number (a new file reusing an inode never inherits old streams), carried along by renames (xattrs follow the
// inode). Deleting the file deletes its stream directory. Stream names are matched case-insensitively through the
// same NameCache as file names and stored with the case they were created with.
internal sealed partial class LocalVolume
{
    /// <summary>The stream depot at the share root (unreachable by share paths: they cannot contain ':').</summary>
    internal const string StreamDepot = "smbcopy:streams";
    private const int IdLength = 32;

    internal bool HasNamedStreams => (Capabilities & StorageCapabilities.NamedStreams) != 0;

    private OpenResult OpenStream(int rootFd, string[] components, OpenRequest request)
    {
        if (!HasNamedStreams)
            throw new StorageException(StorageError.NotSupported, "Named streams need user extended attributes on the share's file system.");
        string streamName = request.Stream!;
        StoragePath.ValidateStreamName(streamName);
        if (request.Kind == ObjectKind.Directory)
            throw new StorageException(StorageError.NotADirectory, "A named stream is not a directory.");

        bool creates = request.Disposition is CreateDisposition.Create or CreateDisposition.OpenIf
            or CreateDisposition.OverwriteIf or CreateDisposition.Supersede;
        bool overwrite = request.Disposition is CreateDisposition.Overwrite or CreateDisposition.OverwriteIf
            or CreateDisposition.Supersede;
        // The file itself: opened for metadata; created (as a file) when the stream is created on a missing file.
        var fileRequest = new OpenRequest(creates ? CreateDisposition.OpenIf : CreateDisposition.Open, StorageAccess.None,
            ObjectKind.Any, request.Attributes);
        var (fileHandle, fileAction) = OpenCore(rootFd, components, fileRequest);
        var file = (LocalHandle)fileHandle;
        try
        {
            if ((overwrite || (request.Access & StorageAccess.Write) != 0) && fileAction != OpenAction.Created)
            {
                if (_readOnly)
                    throw new StorageException(StorageError.ReadOnly, "The share is read-only.");
                if ((file.StoredAttributes() & StorageFileAttributes.ReadOnly) != 0)
                    throw new StorageException(StorageError.AccessDenied, "The file is read-only.");
            }
            string? id = file.StreamDirectoryId(create: creates && !_readOnly);
            if (id is null)
                throw creates ? new StorageException(StorageError.ReadOnly, "The share is read-only.")
                    : new StorageException(StorageError.NotFound, "The stream does not exist.");
            var dataRequest = request with { Kind = ObjectKind.File, Stream = null, Attributes = StorageFileAttributes.None };
            OpenResult data;
            try
            {
                data = OpenCore(rootFd, [StreamDepot, id, streamName], dataRequest);
            }
            catch (StorageException e) when (e.Error == StorageError.PathNotFound)
            {
                // The directory of an id is gone (cleaned up by hand): a create makes it again.
                if (!creates || _readOnly)
                    throw new StorageException(StorageError.NotFound, "The stream does not exist.");
                EnsureStreamDirectory(rootFd, id);
                data = OpenCore(rootFd, [StreamDepot, id, streamName], dataRequest);
            }
            var dataHandle = (LocalHandle)data.Handle;
            return new OpenResult(new LocalStreamHandle(file, dataHandle), data.Action);
        }
        catch
        {
            if (fileAction == OpenAction.Created)
            {
                try { file.DeleteCreated(); } catch (StorageException) { /* best effort */ }
            }
            file.Dispose();
            throw;
        }
    }

    /// <summary>Creates the depot (if missing) and the directory of one id.</summary>
    internal void EnsureStreamDirectory(int rootFd, string id)
    {
        if (Mkdirat(rootFd, StreamDepot, 0x1C0) != 0 && Errno.Last != EEXIST)
            throw Errno.Exception(Errno.Last, "Creating the stream depot");
        int depot = OpenBeneath(rootFd, StreamDepot, O_PATH | O_DIRECTORY);
        if (depot < 0)
            throw Errno.ResolveException(Errno.Last, "Opening the stream depot");
        try
        {
            if (Mkdirat(depot, id, 0x1C0) != 0 && Errno.Last != EEXIST)
                throw Errno.Exception(Errno.Last, "Creating a stream directory");
        }
        finally { Close(depot); }
    }

    /// <summary>Deletes the stream directory of an id and every stream in it (the file they belonged to is gone).</summary>
    internal void RemoveStreamDirectory(string id)
    {
        using var root = LeaseRoot();
        int depot = OpenBeneath(root.Fd, StreamDepot, O_RDONLY | O_DIRECTORY);
        if (depot < 0)
            return;
        try
        {
            int dir = Openat(depot, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
            if (dir >= 0)
            {
                try
                {
                    foreach (var (name, _, _) in ReadStreamDirectory(dir, withSizes: false))
                        Unlinkat(dir, name, 0);
                }
                finally { Close(dir); }
            }
            Unlinkat(depot, id, AT_REMOVEDIR);
        }
        finally { Close(depot); }
    }

    /// <summary>The streams of an id's directory: names, and sizes when asked.</summary>
    internal List<StorageStreamEntry> ListStreams(string id)
    {
        using var root = LeaseRoot();
        int dir = OpenBeneath(root.Fd, StreamDepot + "/" + id, O_RDONLY | O_DIRECTORY);
        if (dir < 0)
        {
            int errno = Errno.Last;
            if (errno is ENOENT or ENOTDIR)
                return [];
            throw Errno.ResolveException(errno, "Opening a stream directory");
        }
        try
        {
            var result = new List<StorageStreamEntry>();
            foreach (var (name, size, allocation) in ReadStreamDirectory(dir, withSizes: true))
                result.Add(new StorageStreamEntry(name, size, allocation));
            return result;
        }
        finally { Close(dir); }
    }

    private static unsafe List<(string Name, long Size, long Allocation)> ReadStreamDirectory(int dir, bool withSizes)
    {
        var result = new List<(string, long, long)>();
        int fd = Openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0)
            throw Errno.Exception(Errno.Last, "Reading a stream directory");
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(DirectoryReader.BufferSize);
        try
        {
            int n;
            while ((n = DirectoryReader.ReadBatch(fd, buffer)) > 0)
            {
                var batch = new DirectoryReader.Batch(buffer.AsSpan(0, n));
                while (batch.Next(out var raw, out _, out _))
                {
                    string name;
                    try { name = new UTF8Encoding(false, true).GetString(raw); }
                    catch (DecoderFallbackException) { continue; }
                    long size = 0, allocation = 0;
                    if (withSizes)
                    {
                        if (StatxCall(fd, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, out var st) != 0 || st.FileType != S_IFREG)
                            continue;
                        size = (long)st.Size;
                        allocation = (long)st.Blocks * 512;
                    }
                    result.Add((name, size, allocation));
                }
            }
            return result;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            Close(fd);
        }
    }

    /// <summary>A read-write handle on the file a stream belongs to (a stream renamed to the unnamed stream).</summary>
    internal LocalHandle ReopenForWrite(LocalHandle file)
    {
        if (_readOnly)
            throw new StorageException(StorageError.ReadOnly, "The share is read-only.");
        using var root = LeaseRoot();
        var components = StoragePath.Split(file.Path);
        var (handle, _) = OpenCore(root.Fd, components, new OpenRequest(CreateDisposition.Open, StorageAccess.ReadWrite, ObjectKind.File));
        if (handle.FileId != file.FileId)
        {
            handle.Dispose();
            throw new StorageException(StorageError.NotFound, "The file was replaced meanwhile.");
        }
        return (LocalHandle)handle;
    }

    /// <summary>Renames a stream inside its directory (the data handle follows).</summary>
    internal void RenameStream(LocalHandle data, string newName, bool replaceIfExists)
    {
        StoragePath.ValidateStreamName(newName);
        if (_readOnly)
            throw new StorageException(StorageError.ReadOnly, "The share is read-only.");
        using var root = LeaseRoot();
        var (parentDisk, oldName) = DiskSplit(data.DiskPathForStreams);
        int dir = OpenBeneath(root.Fd, parentDisk, O_PATH | O_DIRECTORY);
        if (dir < 0)
            throw Errno.ResolveException(Errno.Last, "Opening a stream directory");
        try
        {
            var before = NameCache.Observe(dir);
            string? existing = LookupName(dir, newName);
            if (existing is not null && existing.Equals(oldName, StringComparison.OrdinalIgnoreCase))
            {
                if (existing == newName)
                    return;
                existing = null; // a case change of the same stream
            }
            if (existing is not null)
            {
                if (!replaceIfExists)
                    throw new StorageException(StorageError.AlreadyExists, "The target stream exists.");
                if (Unlinkat(dir, existing, 0) != 0)
                    throw Errno.Exception(Errno.Last, "Replacing a stream");
            }
            if (Renameat2(dir, oldName, dir, newName, 0) != 0)
                throw Errno.Exception(Errno.Last, "Renaming a stream");
            Names.Invalidate(before);
            data.DiskPathForStreams = DiskJoin(parentDisk, newName);
        }
        finally { Close(dir); }
    }
}

internal sealed partial class LocalHandle
{
    private static ReadOnlySpan<byte> StreamsXattr => "user.smbcopy.streams\0"u8;
    private static ReadOnlySpan<byte> EaPrefix => "user.smbcopy.ea."u8;

    /// <summary>The on-disk path (for the stream code: the data file of a stream).</summary>
    internal string DiskPathForStreams
    {
        get { lock (_pathLock) return _diskPath; }
        set { lock (_pathLock) _diskPath = value; }
    }

    /// <summary>The stored DOS attributes (Archive / none when none are stored).</summary>
    internal StorageFileAttributes StoredAttributes()
    {
        if (!Volume.UsesXattrs)
            return StorageFileAttributes.None;
        using var fd = new FdLease(_fd);
        LocalMetadata.ReadXattrs(fd.Fd, out _, out uint? dos);
        return LocalMetadata.StoredAttributes(IsDirectory, dos);
    }

    /// <summary>The id of this file's stream directory; with <paramref name="create"/>, made when missing.</summary>
    internal unsafe string? StreamDirectoryId(bool create)
    {
        using var fd = new FdLease(_fd);
        string? id = ReadStreamId(fd.Fd);
        if (id is not null || !create)
            return id;
        id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        using (var root = Volume.LeaseRoot())
            Volume.EnsureStreamDirectory(root.Fd, id);
        byte[] value = Encoding.ASCII.GetBytes(id);
        fixed (byte* name = StreamsXattr)
        fixed (byte* v = value)
        {
            if (Fsetxattr(fd.Fd, name, v, (nuint)value.Length, XATTR_CREATE) == 0)
                return id;
        }
        int errno = Errno.Last;
        Volume.RemoveStreamDirectory(id);
        if (errno == EEXIST && ReadStreamId(fd.Fd) is string other)
            return other; // another open made it first
        throw Errno.Exception(errno, "Linking a file to its streams");
    }

    private static unsafe string? ReadStreamId(int fd)
    {
        byte* buffer = stackalloc byte[64];
        nint n;
        fixed (byte* name = StreamsXattr)
            n = Fgetxattr(fd, name, buffer, 64);
        if (n != 32)
            return null;
        var span = new ReadOnlySpan<byte>(buffer, 32);
        foreach (byte b in span)
        {
            if (b is not ((>= (byte)'0' and <= (byte)'9') or (>= (byte)'a' and <= (byte)'f')))
                return null; // not ours: never used as a path
        }
        return Encoding.ASCII.GetString(span);
    }

    /// <summary>The named streams of this file.</summary>
    internal IReadOnlyList<StorageStreamEntry> ListStreams()
    {
        if (!Volume.HasNamedStreams)
            return [];
        string? id;
        using (var fd = new FdLease(_fd))
            id = ReadStreamId(fd.Fd);
        return id is null ? [] : Volume.ListStreams(id);
    }

    public ValueTask<IReadOnlyList<StorageStreamEntry>> GetStreamsAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        return ValueTask.FromResult(ListStreams());
    }

    /// <summary>Deletes a file this driver just created for a stream whose open then failed.</summary>
    internal void DeleteCreated() => DeleteNow();

    /// <summary>The stream directory id of the entry <paramref name="name"/> of <paramref name="parent"/>, if any.</summary>
    private static string? StreamIdOfEntry(int parent, string name)
    {
        int fd = Openat(parent, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0);
        if (fd < 0)
            return null;
        try { return ReadStreamId(fd); }
        finally { Close(fd); }
    }

    /// <summary>The stream directory id read before the file is unlinked (its streams go with it).</summary>
    private string? StreamIdBeforeDelete()
    {
        if (!Volume.HasNamedStreams)
            return null;
        using var fd = new FdLease(_fd);
        return ReadStreamId(fd.Fd);
    }

    // ------------------------------------------------------------------ extended attributes

    public ValueTask<IReadOnlyList<StorageEa>> GetEasAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        if (!Volume.UsesXattrs)
            return ValueTask.FromResult<IReadOnlyList<StorageEa>>([]);
        using var fd = new FdLease(_fd);
        return ValueTask.FromResult<IReadOnlyList<StorageEa>>(ReadEas(fd.Fd));
    }

    private static unsafe List<StorageEa> ReadEas(int fd)
    {
        var result = new List<StorageEa>();
        nint size = Flistxattr(fd, null, 0);
        if (size <= 0)
            return result;
        byte[] list = new byte[size + 256];
        fixed (byte* p = list)
            size = Flistxattr(fd, p, (nuint)list.Length);
        if (size <= 0)
            return result;
        var names = list.AsSpan(0, (int)size);
        byte[]? value = null; // allocated only when the file has EAs (every file has the driver's own xattrs)
        while (!names.IsEmpty)
        {
            int nul = names.IndexOf((byte)0);
            if (nul < 0) break;
            var name = names[..nul];
            names = names[(nul + 1)..];
            if (!name.StartsWith(EaPrefix) || name.Length == EaPrefix.Length)
                continue;
            value ??= new byte[65536 + 1];
            byte[] cname = new byte[name.Length + 1];
            name.CopyTo(cname);
            nint n;
            fixed (byte* c = cname)
            fixed (byte* v = value)
                n = Fgetxattr(fd, c, v, (nuint)value.Length);
            if (n < 1)
                continue;
            result.Add(new StorageEa(Encoding.ASCII.GetString(name[EaPrefix.Length..]), value[0], value.AsSpan(1, (int)n - 1).ToArray()));
        }
        return result;
    }

    public unsafe ValueTask SetEasAsync(IReadOnlyList<StorageEa> eas, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        ArgumentNullException.ThrowIfNull(eas);
        if (!Volume.UsesXattrs)
            throw new StorageException(StorageError.NotSupported, "Extended attributes need user xattrs on the share's file system.");
        if (Volume.ReadOnly)
            throw new StorageException(StorageError.ReadOnly, "The share is read-only.");
        using var fd = new FdLease(_fd);
        foreach (var ea in eas)
        {
            if (ea.Name.Length is 0 or > 255 || ea.Value.Length > 65535 || !Ascii.IsValid(ea.Name))
                throw new StorageException(StorageError.InvalidParameter, "Invalid extended attribute.");
            string upper = ea.Name.ToUpperInvariant();
            byte[] name = new byte[EaPrefix.Length + upper.Length + 1];
            EaPrefix.CopyTo(name);
            Encoding.ASCII.GetBytes(upper, name.AsSpan(EaPrefix.Length));
            if (ea.Value.Length == 0)
            {
                fixed (byte* n = name)
                    if (Fremovexattr(fd.Fd, n) != 0 && Errno.Last != ENODATA)
                        throw Errno.Exception(Errno.Last, "Removing an extended attribute");
                continue;
            }
            byte[] value = new byte[ea.Value.Length + 1];
            value[0] = ea.Flags;
            ea.Value.CopyTo(value, 1);
            fixed (byte* n = name)
            fixed (byte* v = value)
                if (Fsetxattr(fd.Fd, n, v, (nuint)value.Length, 0) != 0)
                {
                    int errno = Errno.Last;
                    throw errno is ERANGE or E2BIG
                        ? Errno.Exception(StorageError.NoSpace, errno, "Storing an extended attribute")
                        : Errno.Exception(errno, "Storing an extended attribute");
                }
        }
        return ValueTask.CompletedTask;
    }
}
