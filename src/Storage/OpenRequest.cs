namespace SmbCopy.Storage;

/// <summary>What to do when the name exists or not. Values are those of the Windows FILE_* create dispositions.</summary>
public enum CreateDisposition
{
    /// <summary>Replace if it exists (new contents, new attributes), create if not.</summary>
    Supersede = 0,
    /// <summary>Open if it exists, else <see cref="StorageError.NotFound"/>.</summary>
    Open = 1,
    /// <summary>Create if it does not exist, else <see cref="StorageError.AlreadyExists"/>.</summary>
    Create = 2,
    /// <summary>Open if it exists, create if not.</summary>
    OpenIf = 3,
    /// <summary>Truncate if it exists, else <see cref="StorageError.NotFound"/>.</summary>
    Overwrite = 4,
    /// <summary>Truncate if it exists, create if not.</summary>
    OverwriteIf = 5,
}

/// <summary>What the open did. Values are those of the Windows FILE_* create actions.</summary>
public enum OpenAction
{
    Superseded = 0,
    Opened = 1,
    Created = 2,
    Overwritten = 3,
}

/// <summary>Constraint on the kind of object opened (FILE_DIRECTORY_FILE / FILE_NON_DIRECTORY_FILE).</summary>
public enum ObjectKind
{
    /// <summary>File or directory; a create makes a file.</summary>
    Any = 0,
    /// <summary>Must be a directory (a create makes one), else <see cref="StorageError.NotADirectory"/>.</summary>
    Directory,
    /// <summary>Must not be a directory, else <see cref="StorageError.IsADirectory"/>.</summary>
    File,
}

/// <summary>Data access wanted on the handle. Metadata can be read and set with any access.</summary>
[Flags]
public enum StorageAccess
{
    /// <summary>Metadata only (queries, SetInfo, rename, delete).</summary>
    None = 0,
    Read = 1,
    Write = 2,
    ReadWrite = Read | Write,
}

/// <summary>
/// Open or create request. Share modes and byte-range locks are the gateway's business (it tracks opens), not storage's.
/// </summary>
/// <param name="Disposition">What to do when the name exists or not.</param>
/// <param name="Access">Data access wanted. Write on an existing read-only file is <see cref="StorageError.AccessDenied"/>.
/// Ignored for directories.</param>
/// <param name="Kind">Directory / non-directory constraint.</param>
/// <param name="Attributes">Attributes of a created, overwritten or superseded object (Archive is added for files).</param>
/// <param name="AllocationSize">Initial allocation for a created, overwritten or superseded file (0: none).</param>
/// <param name="Stream">A named data stream of the file or directory at the path (null or "": the file itself).
/// Only on volumes with <see cref="StorageCapabilities.NamedStreams"/> (others: <see cref="StorageError.NotSupported"/>).
/// The name is matched case-insensitively and kept with the case it was created with; it is validated with
/// <see cref="StoragePath.ValidateStreamName"/>. The disposition applies to the stream; a create of a stream on a
/// missing file creates the file too (a file, as Windows); <see cref="Kind"/> must not be Directory.</param>
public readonly record struct OpenRequest(
    CreateDisposition Disposition,
    StorageAccess Access = StorageAccess.Read,
    ObjectKind Kind = ObjectKind.Any,
    StorageFileAttributes Attributes = StorageFileAttributes.None,
    long AllocationSize = 0,
    string? Stream = null);

/// <summary>Result of <see cref="IStorageVolume.OpenAsync"/>: the handle (owned by the caller) and what was done.</summary>
public readonly record struct OpenResult(IStorageHandle Handle, OpenAction Action);
