using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;

namespace SmbCopy.Gateway.Smb.Handlers.Ioctl;

/// <summary>One FSCTL (MS-SMB2 3.3.5.15.x). One implementation per control code, in this folder.</summary>
public interface IFsctlHandler
{
    uint CtlCode { get; }
    /// <summary>True for the codes whose FileId must be all 0xFF (3.3.5.15: DFS referrals, interfaces, validate negotiate, pipe wait).</summary>
    bool TakesNoFileId => false;
    ValueTask<FsctlResult> HandleAsync(FsctlContext context);
}

public sealed class FsctlContext
{
    public required Smb2Request Request { get; init; }
    public required IoctlRequest Ioctl { get; init; }
    /// <summary>The open named by FileId; null for codes that take no file.</summary>
    public SmbOpen? Open { get; init; }
    public ReadOnlySpan<byte> Input => Ioctl.Input.Span;
    public uint MaxOutput => Ioctl.MaxOutputResponse;
}

/// <summary>
/// An FSCTL's outcome. Most failures are plain ERROR responses; a few FSCTLs (copy-chunk) answer an
/// IOCTL response carrying output together with an error status (MS-SMB2 3.3.4.4).
/// </summary>
public readonly record struct FsctlResult(NtStatus Status, ReadOnlyMemory<byte> Output, bool OutputWithError = false, bool Disconnect = false)
{
    public static FsctlResult Ok(ReadOnlyMemory<byte> output) => new(NtStatus.Success, output);
    public static FsctlResult Error(NtStatus status) => new(status, ReadOnlyMemory<byte>.Empty);
    public static FsctlResult ErrorWithOutput(NtStatus status, ReadOnlyMemory<byte> output) => new(status, output, true);
    public static FsctlResult DropConnection() => new(NtStatus.Success, ReadOnlyMemory<byte>.Empty, Disconnect: true);
}
