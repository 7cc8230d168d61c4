using System.Buffers.Binary;
using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Gateway.Smb.Files.Info;
using SmbCopy.Gateway.Smb.Pipes;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Gateway.Smb.Handlers;

/// <summary>SMB2 QUERY_INFO (MS-SMB2 3.3.5.20): file, file-system, security and quota information.</summary>
public sealed class QueryInfoHandler : ISmb2Handler
{
    public Smb2Command Command => Smb2Command.QueryInfo;
    public HandlerRequirements Requirements => HandlerRequirements.Tree;

    /// <summary>3.3.5.2.5: the larger of InputBufferLength and OutputBufferLength.</summary>
    public int ExpectedPayloadSize(ReadOnlySpan<byte> message)
    {
        var body = WireReader.Slice(message, Smb2Header.Size, 16);
        uint output = BinaryPrimitives.ReadUInt32LittleEndian(body[4..]);
        uint input = BinaryPrimitives.ReadUInt32LittleEndian(body[12..]);
        return (int)Math.Min(int.MaxValue, Math.Max(output, input));
    }

    public async ValueTask<Smb2Response> HandleAsync(Smb2Request request)
    {
        var query = QueryInfoRequest.Parse(request.Message, Smb2Header.Size);
        var open = request.ResolveOpen(query.FileId.Persistent, query.FileId.Volatile);
        if (open is null) return Smb2Response.Error(NtStatus.FileClosed);
        var connection = request.Connection;
        if (query.OutputBufferLength > connection.MaxTransactSize || query.InputBuffer.Length > connection.MaxTransactSize)
            return Smb2Response.Error(NtStatus.InvalidParameter);

        var answer = query.InfoType switch
        {
            InfoType.File => open switch
            {
                FileOpen file => await FileInfoQueries.QueryAsync(file, query.FileInformationClass, connection.Dialect, query.Flags,
                    query.InputBuffer, query.OutputBufferLength, request.Cancellation).ConfigureAwait(false),
                PipeOpen pipe => FileInfoQueries.QueryPipe(pipe, query.FileInformationClass),
                _ => InfoAnswer.Fail(NtStatus.InvalidParameter),
            },
            InfoType.FileSystem => open switch
            {
                FileOpen file => await FsInfoQueries.QueryAsync(file, query.FsInformationClass, request.Tree!.Share.ReadOnly, request.Cancellation).ConfigureAwait(false),
                PipeOpen => FsInfoQueries.QueryPipe(query.FsInformationClass),
                _ => InfoAnswer.Fail(NtStatus.InvalidParameter),
            },
            InfoType.Security => SecurityInfo.Query((AccessMask)open.GrantedAccess, open is FileOpen { IsDirectory: true },
                query.SecurityInformation, query.OutputBufferLength),
            InfoType.Quota => InfoAnswer.Fail(NtStatus.NotSupported), // no quotas on any backend
            _ => InfoAnswer.Fail(NtStatus.InvalidParameter),
        };
        if (answer.Status.IsError())
            connection.Logger.LogDebug("QUERY_INFO {Type}/{Class} on {Name}: {Status}", query.InfoType, query.FileInfoClass, open.DisplayName, answer.Status);
        return InfoResponses.Shape(answer, query.OutputBufferLength, connection.Dialect);
    }
}
