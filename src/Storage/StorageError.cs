namespace SmbCopy.Storage;

/// <summary>
/// Why a storage operation failed. Storage knows nothing of SMB: the gateway maps these codes to NTSTATUS in one
/// place. Drivers translate their native errors (errno, NFS4ERR_*, SCSI sense) into these codes.
/// </summary>
public enum StorageError
{
    /// <summary>The last component of the path does not exist.</summary>
    NotFound = 1,
    /// <summary>A directory component of the path (not the last one) does not exist or is not a directory.</summary>
    PathNotFound,
    /// <summary>The name already exists (create with Create disposition, rename without replace).</summary>
    AlreadyExists,
    /// <summary>A directory was required, the object is a file.</summary>
    NotADirectory,
    /// <summary>A non-directory was required, the object is a directory.</summary>
    IsADirectory,
    /// <summary>A directory to delete is not empty.</summary>
    DirectoryNotEmpty,
    /// <summary>The backend refused the operation (permissions, replace of a directory, write to a read-only file).</summary>
    AccessDenied,
    /// <summary>The object cannot be deleted (it has the read-only attribute).</summary>
    CannotDelete,
    /// <summary>The name is not valid (wildcards, reserved characters, empty component, too long).</summary>
    NameInvalid,
    /// <summary>The path would leave the share: "..", an absolute name, a symbolic link pointing outside.</summary>
    OutsideShare,
    /// <summary>No space left (or quota exceeded).</summary>
    NoSpace,
    /// <summary>The volume is read-only.</summary>
    ReadOnly,
    /// <summary>The operation or the object type (device, fifo, socket) is not supported by this backend.</summary>
    NotSupported,
    /// <summary>The two objects are on different devices / volumes for an operation that needs one.</summary>
    CrossDevice,
    /// <summary>An argument is out of range or inconsistent (unaligned clone, negative offset, ...).</summary>
    InvalidParameter,
    /// <summary>The file would exceed the largest size the backend supports.</summary>
    FileTooLarge,
    /// <summary>The object is busy (in use by the backend in a way that prevents the operation).</summary>
    Busy,
    /// <summary>The backend ran out of a resource other than space (file descriptors, memory).</summary>
    InsufficientResources,
    /// <summary>The handle was closed (disposed) or has become stale.</summary>
    HandleClosed,
    /// <summary>The backend is unreachable (network drivers).</summary>
    Unavailable,
    /// <summary>Any other I/O failure.</summary>
    IoError,
}

/// <summary>A storage operation failed with a <see cref="StorageError"/>.</summary>
public sealed class StorageException : Exception
{
    public StorageException(StorageError error, string message)
        : base(message) => Error = error;

    public StorageException(StorageError error, string message, int nativeError)
        : base(message) { Error = error; NativeError = nativeError; }

    public StorageException(StorageError error, string message, Exception innerException)
        : base(message, innerException) => Error = error;

    /// <summary>The storage error code (what the gateway maps to NTSTATUS).</summary>
    public StorageError Error { get; }

    /// <summary>The backend's own error number (errno for the local driver), for logs only; 0 when none.</summary>
    public int NativeError { get; }

    public override string ToString() => $"{Error}: {base.ToString()}";
}
