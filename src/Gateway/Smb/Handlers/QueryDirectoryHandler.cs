using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Gateway.Smb.Handlers;

/// <summary>
/// SMB2 QUERY_DIRECTORY (MS-SMB2 3.3.5.18): request checks here, the listing itself in
/// <see cref="DirectoryListing"/> (MS-FSA 2.1.5.6.3).
/// </summary>
public sealed class QueryDirectoryHandler(ILogger<QueryDirectoryHandler> logger) : ISmb2Handler
{
    public Smb2Command Command => Smb2Command.QueryDirectory;
    public HandlerRequirements Requirements => HandlerRequirements.Tree;

    /// <summary>OutputBufferLength (body offset 28) is the payload for the credit charge (3.3.5.2.5).</summary>
    public int ExpectedPayloadSize(ReadOnlySpan<byte> message) =>
        PayloadField.UInt32At(message, 28);

    public async ValueTask<Smb2Response> HandleAsync(Smb2Request request)
    {
        var query = QueryDirectoryRequest.Parse(request.Message, Smb2Header.Size);
        var open = request.ResolveOpen(query.FileId.Persistent, query.FileId.Volatile);
        if (open is null) return Smb2Response.Error(NtStatus.FileClosed);
        if (open is not FileOpen file || !file.IsDirectory) return Fail(NtStatus.InvalidParameter, open.DisplayName, "not a directory");
        if (!file.Has(AccessMask.FileListDirectory)) return Fail(NtStatus.AccessDenied, file.DisplayName, "no FILE_LIST_DIRECTORY");
        if (query.OutputBufferLength > request.Connection.MaxTransactSize)
            return Fail(NtStatus.InvalidParameter, file.DisplayName, $"OutputBufferLength {query.OutputBufferLength} > MaxTransactSize");
        var infoClass = query.FileInformationClass;
        if (!DirectoryEntryWriter.IsSupported(infoClass))
            return Fail(DirectoryListing.IsKnownUnsupported(infoClass) ? NtStatus.NotSupported : NtStatus.InvalidInfoClass,
                file.DisplayName, $"class {(byte)infoClass}");
        // MS-FSA 2.1.5.6.3: a buffer that cannot hold one entry's fixed part.
        if (query.OutputBufferLength < DirectoryEntryWriter.FixedSize(infoClass))
            return Fail(NtStatus.InfoLengthMismatch, file.DisplayName, $"OutputBufferLength {query.OutputBufferLength}");
        string pattern = query.FileName;
        if (pattern.AsSpan().IndexOfAny('\\', '/') >= 0) return Fail(NtStatus.ObjectNameInvalid, file.DisplayName, $"pattern '{pattern}'");

        int length = (int)query.OutputBufferLength;
        var w = new WireWriter(8 + Math.Min(length, 64 * 1024));
        try
        {
            QueryDirectoryResponse.WriteHeaderPart(w, 0);
            var result = await DirectoryListing.QueryAsync(file, infoClass, query.Flags, pattern, length, w, request.Cancellation)
                .ConfigureAwait(false);
            if (result.Status.IsError() || result.Status == NtStatus.NoMoreFiles)
            {
                w.Dispose();
                return Smb2Response.Error(result.Status);
            }
            w.PatchUInt32(4, (uint)(w.Length - 8));
            return Smb2Response.WithStatus(result.Status, w);
        }
        catch
        {
            w.Dispose();
            throw;
        }
    }

    private Smb2Response Fail(NtStatus status, string path, string reason)
    {
        logger.LogDebug("QUERY_DIRECTORY on '{Path}': {Status} ({Reason})", path, status, reason);
        return Smb2Response.Error(status);
    }
}
