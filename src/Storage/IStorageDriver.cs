namespace SmbCopy.Storage;

/// <summary>A storage backend type (Local, Nfs, Iscsi): opens volumes.</summary>
public interface IStorageDriver
{
    /// <summary>Name used in configuration ("Local").</summary>
    string Name { get; }

    /// <summary>Opens (mounts) one volume. Probes its capabilities.</summary>
    /// <exception cref="StorageException">The volume cannot be opened.</exception>
    ValueTask<IStorageVolume> OpenVolumeAsync(StorageVolumeOptions options, CancellationToken cancellationToken = default);
}

/// <summary>
/// One volume = one share. Thread safe.
/// <para>Paths are share-relative: components separated by '\' (the canonical separator, used in
/// <see cref="IStorageHandle.Path"/>) or '/'; no leading separator; "" is the root of the share. Lookup is
/// case-insensitive (ordinal ignore case) and case-preserving. ".." components, absolute names, empty components,
/// stream names (':'), wildcards and control characters are refused before the backend is touched
/// (<see cref="StorageError.OutsideShare"/> for ".." and absolute names, <see cref="StorageError.NameInvalid"/>
/// otherwise).</para>
/// </summary>
public interface IStorageVolume : IAsyncDisposable, IDisposable
{
    /// <summary>Share name.</summary>
    string Name { get; }

    StorageCapabilities Capabilities { get; }

    /// <summary>Alignment, in bytes, of offsets and lengths for <see cref="CloneRangeAsync"/> (a length reaching the
    /// source's end of file need not be aligned); 0 when the volume cannot clone.</summary>
    int CloneAlignment { get; }

    ValueTask<VolumeInfo> GetVolumeInfoAsync(CancellationToken cancellationToken = default);

    /// <summary>Opens or creates a file or directory.</summary>
    ValueTask<OpenResult> OpenAsync(string path, OpenRequest request, CancellationToken cancellationToken = default);

    /// <summary>Renames without an open handle (see <see cref="IStorageHandle.RenameAsync"/>).</summary>
    ValueTask RenameAsync(string path, string newPath, bool replaceIfExists, CancellationToken cancellationToken = default);

    /// <summary>Deletes a file or an empty directory now.</summary>
    ValueTask DeleteAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>
    /// Clones (shares the extents of) <paramref name="length"/> bytes of <paramref name="source"/> at
    /// <paramref name="sourceOffset"/> into <paramref name="destination"/> at <paramref name="destinationOffset"/>.
    /// All or nothing: never silently turned into a copy.
    /// </summary>
    /// <exception cref="StorageException"><see cref="StorageError.NotSupported"/> when the backend cannot clone,
    /// <see cref="StorageError.CrossDevice"/> when the handles are not on the same backend volume,
    /// <see cref="StorageError.InvalidParameter"/> when the range is not aligned.</exception>
    ValueTask CloneRangeAsync(IStorageHandle source, long sourceOffset, IStorageHandle destination, long destinationOffset,
        long length, CancellationToken cancellationToken = default);

    /// <summary>
    /// Copies a range inside the backend (the bytes do not pass through the gateway). Loops on short copies; returns
    /// the bytes copied, less than <paramref name="length"/> only when the source's end of file is reached.
    /// </summary>
    /// <exception cref="StorageException"><see cref="StorageError.NotSupported"/> or
    /// <see cref="StorageError.CrossDevice"/>: the caller falls back to a streamed copy.</exception>
    ValueTask<long> CopyRangeAsync(IStorageHandle source, long sourceOffset, IStorageHandle destination, long destinationOffset,
        long length, CancellationToken cancellationToken = default);
}

/// <summary>
/// An open file or directory. I/O is positional (no file pointer), so one handle serves concurrent requests.
/// Disposing closes it (and deletes the object when delete-on-close is set).
/// </summary>
public interface IStorageHandle : IAsyncDisposable, IDisposable
{
    /// <summary>Share-relative path as stored (case preserved), '\'-separated, "" for the root. Follows every rename
    /// made through the volume (<see cref="IStorageVolume.RenameAsync"/>) or any of its handles: renaming an object
    /// through one handle moves all other open handles of that object (same path and file id) to the new name, and
    /// renaming a directory moves every handle open below it. Everything a handle does by name after it was opened
    /// (delete-on-close at dispose, <see cref="DeleteAsync"/>, a later rename, named streams) uses this path, so it acts
    /// on the object wherever it now is (Windows: every open of a file sees its new name).</summary>
    string Path { get; }

    bool IsDirectory { get; }

    /// <summary>Same as <see cref="FileMetadata.FileId"/>.</summary>
    ulong FileId { get; }

    /// <summary>Reads at <paramref name="offset"/>; returns the bytes read, 0 at or past end of file.</summary>
    ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default);

    /// <summary>Writes all of <paramref name="data"/> at <paramref name="offset"/>; a gap past end of file reads as zeros.</summary>
    ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default);

    /// <summary>Makes written data and metadata durable.</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken = default);

    /// <summary>Sets the size (grows with zeros, or truncates).</summary>
    ValueTask SetEndOfFileAsync(long length, CancellationToken cancellationToken = default);

    /// <summary>Windows allocation semantics: below end of file truncates the file; above reserves space where the
    /// backend can (the end of file does not change).</summary>
    ValueTask SetAllocationSizeAsync(long allocationSize, CancellationToken cancellationToken = default);

    ValueTask<FileMetadata> GetInfoAsync(CancellationToken cancellationToken = default);

    ValueTask SetInfoAsync(FileInfoUpdate update, CancellationToken cancellationToken = default);

    /// <summary>
    /// Lists a directory handle's entries matching <paramref name="pattern"/> (Windows wildcards: * ? and the DOS
    /// forms &lt; &gt; "; case-insensitive; null, "*" or "*.*" = all). "." and ".." are not listed (the gateway
    /// synthesizes them). Each entry is listed once per enumeration; every call starts from the beginning.
    /// Entries that cannot be opened through the share (links leading outside it, devices, fifos, sockets,
    /// names Windows cannot represent) are not listed.
    /// </summary>
    IAsyncEnumerable<StorageDirectoryEntry> EnumerateAsync(string? pattern = null, CancellationToken cancellationToken = default);

    /// <summary>Renames the object this handle refers to (SMB SET_INFO FileRenameInformation); the handle stays open
    /// and its <see cref="Path"/> follows, as do the paths of the object's other open handles and, for a directory, of
    /// the handles open below it.</summary>
    /// <exception cref="StorageException"><see cref="StorageError.AlreadyExists"/> when the target exists and
    /// <paramref name="replaceIfExists"/> is false; <see cref="StorageError.AccessDenied"/> when the target is a
    /// directory or read-only.</exception>
    ValueTask RenameAsync(string newPath, bool replaceIfExists, CancellationToken cancellationToken = default);

    /// <summary>Sets or clears delete-on-close. Checks now what Windows checks now: a non-empty directory is
    /// <see cref="StorageError.DirectoryNotEmpty"/>, a read-only file <see cref="StorageError.CannotDelete"/>.</summary>
    ValueTask SetDeleteOnCloseAsync(bool deleteOnClose, CancellationToken cancellationToken = default);

    bool DeleteOnClose { get; }

    /// <summary>Deletes the object now; the handle stays usable for I/O until closed (POSIX semantics).</summary>
    ValueTask DeleteAsync(CancellationToken cancellationToken = default);

    /// <summary>The named stream this handle is open on (stored case), null for the file or directory itself.
    /// A stream handle's <see cref="Path"/> and <see cref="FileId"/> are those of its file; its data, size and
    /// delete-on-close are the stream's; its times and attributes are the file's.</summary>
    string? StreamName => null;

    /// <summary>The named streams of the file (whichever stream this handle is open on), not the unnamed one.
    /// Empty on volumes without <see cref="StorageCapabilities.NamedStreams"/>.</summary>
    ValueTask<IReadOnlyList<StorageStreamEntry>> GetStreamsAsync(CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<IReadOnlyList<StorageStreamEntry>>([]);

    /// <summary>Renames the named stream this handle is open on (FileRenameInformation ":new"); the handle follows.
    /// "" renames it to the file's unnamed data stream (MS-FSA 2.1.5.15.11.1): the stream's data replaces the file's
    /// (AlreadyExists when the file has data and <paramref name="replaceIfExists"/> is false; InvalidParameter for a
    /// directory), the stream is gone, and the handle is then open on the file itself (<see cref="StreamName"/> null).</summary>
    /// <exception cref="StorageException">AlreadyExists (target stream exists, no replace), InvalidParameter (not a
    /// stream handle), NotSupported.</exception>
    ValueTask RenameStreamAsync(string newStreamName, bool replaceIfExists, CancellationToken cancellationToken = default) =>
        throw new StorageException(StorageError.NotSupported, "Named streams are not supported by this backend.");

    /// <summary>The file's extended attributes (<see cref="StorageCapabilities.FileEas"/>), in a stable order; empty
    /// when it has none.</summary>
    ValueTask<IReadOnlyList<StorageEa>> GetEasAsync(CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<IReadOnlyList<StorageEa>>([]);

    /// <summary>Sets (or, with an empty value, removes) extended attributes of the file; names are validated by the
    /// caller (ASCII, 1-255 bytes). NotSupported without <see cref="StorageCapabilities.FileEas"/>.</summary>
    ValueTask SetEasAsync(IReadOnlyList<StorageEa> eas, CancellationToken cancellationToken = default) =>
        throw new StorageException(StorageError.NotSupported, "Extended attributes are not supported by this backend.");
}
