using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Gateway.Smb.Files.Info;
using SmbCopy.Gateway.Smb.Pipes;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;

namespace SmbCopy.Gateway.Smb.Handlers;

/// <summary>SMB2 SET_INFO (MS-SMB2 3.3.5.21): file information, security (accepted, not stored), no file-system or quota changes.</summary>
public sealed class SetInfoHandler : ISmb2Handler
{
    public Smb2Command Command => Smb2Command.SetInfo;
    public HandlerRequirements Requirements => HandlerRequirements.Tree;

    /// <summary>3.3.5.2.5: BufferLength.</summary>
    public int ExpectedPayloadSize(ReadOnlySpan<byte> message) =>
        PayloadField.UInt32At(message, 4);

    public async ValueTask<Smb2Response> HandleAsync(Smb2Request request)
    {
        var set = SetInfoRequest.Parse(request.Message, Smb2Header.Size);
        var open = request.ResolveOpen(set.FileId.Persistent, set.FileId.Volatile);
        if (open is null) return Smb2Response.Error(NtStatus.FileClosed);
        var connection = request.Connection;
        if (set.Buffer.Length > connection.MaxTransactSize) return Smb2Response.Error(NtStatus.InvalidParameter);

        var status = set.InfoType switch
        {
            InfoType.File => open switch
            {
                FileOpen file => await FileInfoUpdates.SetAsync(request.Server, file, set.FileInformationClass, set.Buffer, request.Cancellation).ConfigureAwait(false),
                PipeOpen => Enum.IsDefined(set.FileInformationClass) ? NtStatus.InvalidParameter : NtStatus.InvalidInfoClass,
                _ => NtStatus.InvalidParameter,
            },
            InfoType.FileSystem => SetFileSystem(set.FsInformationClass),
            InfoType.Security => SecurityInfo.ValidateSet((AccessMask)open.GrantedAccess, set.SecurityInformation, set.Buffer.Span),
            InfoType.Quota => NtStatus.NotSupported,
            _ => NtStatus.InvalidParameter,
        };
        if (status != NtStatus.Success)
        {
            connection.Logger.LogDebug("SET_INFO {Type}/{Class} on {Name}: {Status}", set.InfoType, set.FileInfoClass, open.DisplayName, status);
            return status == NtStatus.InfoLengthMismatch ? InfoResponses.InfoLengthMismatch(connection.Dialect) : Smb2Response.Error(status);
        }
        return Smb2Response.Ok(new SetInfoResponse().WriteTo, 2);
    }

    /// <summary>3.3.5.21.2: the settable classes need administrator rights the gateway never grants; the rest are not settable.</summary>
    private static NtStatus SetFileSystem(FsInformationClass infoClass) => infoClass switch
    {
        FsInformationClass.Control or FsInformationClass.ObjectId or FsInformationClass.Label => NtStatus.AccessDenied,
        _ when Enum.IsDefined(infoClass) => NtStatus.NotSupported,
        _ => NtStatus.InvalidInfoClass,
    };
}
