using System.Runtime.InteropServices;
using static SmbCopy.Storage.Interop.Libc;

namespace SmbCopy.Storage.Local;

/// <summary>errno → <see cref="StorageError"/>, the local driver's only translation point.</summary>
internal static class Errno
{
    public static int Last => Marshal.GetLastPInvokeError();

    public static StorageError ToError(int errno) => errno switch
    {
        ENOENT => StorageError.NotFound,
        ENOTDIR => StorageError.PathNotFound,
        EEXIST => StorageError.AlreadyExists,
        EISDIR => StorageError.IsADirectory,
        ENOTEMPTY => StorageError.DirectoryNotEmpty,
        EACCES or EPERM => StorageError.AccessDenied,
        ENAMETOOLONG => StorageError.NameInvalid,
        ELOOP => StorageError.AccessDenied,
        ENOSPC or EDQUOT => StorageError.NoSpace,
        EROFS => StorageError.ReadOnly,
        EOPNOTSUPP or ENOSYS or ENOTTY or ENXIO or ENODEV => StorageError.NotSupported,
        EXDEV => StorageError.CrossDevice,
        EINVAL => StorageError.InvalidParameter,
        EFBIG => StorageError.FileTooLarge,
        EBUSY or ETXTBSY => StorageError.Busy,
        EMFILE or ENFILE or ENOMEM or EMLINK => StorageError.InsufficientResources,
        EBADF or ESTALE => StorageError.HandleClosed,
        _ => StorageError.IoError,
    };

    public static StorageException Exception(int errno, string operation) =>
        Exception(ToError(errno), errno, operation);

    public static StorageException Exception(StorageError error, int errno, string operation) =>
        new(error, $"{operation}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);

    /// <summary>Errors of a path resolution beneath the share root: EXDEV means the path tried to leave it.</summary>
    public static StorageException ResolveException(int errno, string operation) => errno switch
    {
        EXDEV => Exception(StorageError.OutsideShare, errno, operation),
        ENOTDIR => Exception(StorageError.PathNotFound, errno, operation),
        _ => Exception(errno, operation),
    };

    /// <summary>Maps what <see cref="RandomAccess"/> throws.</summary>
    public static StorageException FromManaged(Exception e, string operation) => e switch
    {
        StorageException s => s,
        UnauthorizedAccessException => new StorageException(StorageError.AccessDenied, $"{operation}: {e.Message}", e),
        ObjectDisposedException => new StorageException(StorageError.HandleClosed, $"{operation}: {e.Message}", e),
        IOException io when io.HResult is > 0 and < 4096 => Exception(io.HResult, operation),
        ArgumentOutOfRangeException => new StorageException(StorageError.FileTooLarge, $"{operation}: {e.Message}", e),
        _ => new StorageException(StorageError.IoError, $"{operation}: {e.Message}", e),
    };
}
