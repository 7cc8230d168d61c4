namespace SmbCopy.Storage;

/// <summary>
/// Windows view of a file or directory. Times are UTC <see cref="DateTime"/>s (100 ns resolution, like FILETIME:
/// <c>ToFileTimeUtc()</c> gives the wire value).
/// </summary>
/// <param name="CreationTime">Birth time (native, or as last set by a client).</param>
/// <param name="LastAccessTime">Last access.</param>
/// <param name="LastWriteTime">Last data modification.</param>
/// <param name="ChangeTime">Last metadata or data change.</param>
/// <param name="Attributes">FILE_ATTRIBUTE_* bits; <see cref="StorageFileAttributes.Normal"/> alone for a file without any.</param>
/// <param name="EndOfFile">Size in bytes (0 for a directory).</param>
/// <param name="AllocationSize">Bytes allocated on the backend (0 for a directory).</param>
/// <param name="FileId">Stable 64-bit identifier, unchanged by rename and reopen, unique within the volume.</param>
/// <param name="LinkCount">Number of names of the file (1 for a directory).</param>
/// <param name="IsDirectory">True for a directory.</param>
public readonly record struct FileMetadata(
    DateTime CreationTime,
    DateTime LastAccessTime,
    DateTime LastWriteTime,
    DateTime ChangeTime,
    StorageFileAttributes Attributes,
    long EndOfFile,
    long AllocationSize,
    ulong FileId,
    uint LinkCount,
    bool IsDirectory);

/// <summary>
/// What <see cref="IStorageHandle.SetInfoAsync"/> changes; a null member is left unchanged.
/// </summary>
/// <param name="CreationTime">New creation time.</param>
/// <param name="LastAccessTime">New last access time.</param>
/// <param name="LastWriteTime">New last write time.</param>
/// <param name="ChangeTime">New change time; a backend that cannot set it (POSIX ctime) ignores it.</param>
/// <param name="Attributes">New attributes: the <see cref="StorageFileAttributes.Settable"/> bits replace the stored
/// ones; <see cref="StorageFileAttributes.Normal"/> clears them; Directory and SparseFile bits are ignored.</param>
/// <param name="Sparse">Mark or unmark the file sparse (FSCTL_SET_SPARSE).</param>
public readonly record struct FileInfoUpdate(
    DateTime? CreationTime = null,
    DateTime? LastAccessTime = null,
    DateTime? LastWriteTime = null,
    DateTime? ChangeTime = null,
    StorageFileAttributes? Attributes = null,
    bool? Sparse = null);

/// <summary>One directory entry: the name as stored (case preserved) and its metadata.</summary>
public readonly record struct StorageDirectoryEntry(string Name, FileMetadata Metadata);

/// <summary>A named data stream of a file or directory: its name as stored (case preserved, without ':' or ":$DATA"),
/// its size and the bytes allocated for it.</summary>
public readonly record struct StorageStreamEntry(string Name, long Size, long AllocationSize);

/// <summary>
/// A Windows extended attribute (MS-FSCC 2.4.15): an ASCII name (compared case-insensitively; Windows keeps it upper
/// case), flags (FILE_NEED_EA = 0x80) and a value (an empty value deletes the attribute when set).
/// </summary>
public sealed record StorageEa(string Name, byte Flags, byte[] Value)
{
    /// <summary>FILE_NEED_EA: the file cannot be understood without this attribute.</summary>
    public const byte NeedEa = 0x80;
}
