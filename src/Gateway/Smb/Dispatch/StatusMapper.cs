using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Wire;
using SmbCopy.Storage;

namespace SmbCopy.Gateway.Smb.Dispatch;

/// <summary>
/// The one place where failures from below (storage errors, I/O errors) become NTSTATUS codes.
/// </summary>
public static class StatusMapper
{
    public static NtStatus FromException(Exception ex) => ex switch
    {
        MalformedMessageException => NtStatus.InvalidParameter,
        SmbStatusException s => s.Status,
        StorageException s => FromStorageError(s.Error),
        UnauthorizedAccessException => NtStatus.AccessDenied,
        FileNotFoundException => NtStatus.ObjectNameNotFound,
        DirectoryNotFoundException => NtStatus.ObjectPathNotFound,
        PathTooLongException => NtStatus.NameTooLong,
        OperationCanceledException => NtStatus.Cancelled,
        _ => NtStatus.InternalError,
    };

    public static NtStatus FromStorageError(StorageError error) => error switch
    {
        StorageError.NotFound => NtStatus.ObjectNameNotFound,
        StorageError.PathNotFound => NtStatus.ObjectPathNotFound,
        StorageError.AlreadyExists => NtStatus.ObjectNameCollision,
        StorageError.NotADirectory => NtStatus.NotADirectory,
        StorageError.IsADirectory => NtStatus.FileIsADirectory,
        StorageError.DirectoryNotEmpty => NtStatus.DirectoryNotEmpty,
        StorageError.AccessDenied => NtStatus.AccessDenied,
        StorageError.CannotDelete => NtStatus.CannotDelete,
        StorageError.NameInvalid => NtStatus.ObjectNameInvalid,
        // A name that climbs out of the share ("..") is OBJECT_PATH_SYNTAX_BAD, as Windows and Samba answer.
        StorageError.OutsideShare => NtStatus.ObjectPathSyntaxBad,
        StorageError.NoSpace => NtStatus.DiskFull,
        StorageError.ReadOnly => NtStatus.MediaWriteProtected,
        StorageError.NotSupported => NtStatus.NotSupported,
        StorageError.CrossDevice => NtStatus.NotSameDevice,
        StorageError.InvalidParameter => NtStatus.InvalidParameter,
        StorageError.FileTooLarge => NtStatus.DiskFull,
        StorageError.Busy => NtStatus.SharingViolation,
        StorageError.InsufficientResources => NtStatus.InsufficientResources,
        StorageError.HandleClosed => NtStatus.FileClosed,
        StorageError.Unavailable => NtStatus.NetworkNameDeleted,
        _ => NtStatus.Unsuccessful,
    };
}

/// <summary>Thrown by gateway code that wants to end a request with a specific status from deep inside.</summary>
public sealed class SmbStatusException(NtStatus status, string? message = null) : Exception(message ?? status.ToString())
{
    public NtStatus Status { get; } = status;
}
