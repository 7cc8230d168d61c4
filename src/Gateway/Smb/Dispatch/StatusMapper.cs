using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Wire;

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
        UnauthorizedAccessException => NtStatus.AccessDenied,
        FileNotFoundException => NtStatus.ObjectNameNotFound,
        DirectoryNotFoundException => NtStatus.ObjectPathNotFound,
        PathTooLongException => NtStatus.NameTooLong,
        OperationCanceledException => NtStatus.Cancelled,
        _ => NtStatus.InternalError,
    };
}

/// <summary>Thrown by gateway code that wants to end a request with a specific status from deep inside.</summary>
public sealed class SmbStatusException(NtStatus status, string? message = null) : Exception(message ?? status.ToString())
{
    public NtStatus Status { get; } = status;
}
