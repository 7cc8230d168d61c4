using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;

namespace SmbCopy.Gateway.Smb.Handlers;

/// <summary>SMB2 FLUSH (MS-SMB2 3.3.5.11): makes the file's data durable.</summary>
public sealed class FlushHandler : ISmb2Handler
{
    public Smb2Command Command => Smb2Command.Flush;
    public HandlerRequirements Requirements => HandlerRequirements.Tree;

    public async ValueTask<Smb2Response> HandleAsync(Smb2Request request)
    {
        var flush = FlushRequest.Parse(request.Message, Smb2Header.Size);
        var open = request.ResolveOpen(flush.FileId.Persistent, flush.FileId.Volatile);
        if (open is null) return Smb2Response.Error(NtStatus.FileClosed);
        if (open is FileOpen file)
        {
            if (!file.IsDirectory && !file.Has(AccessMask.FileWriteData | AccessMask.FileAppendData))
                return Smb2Response.Error(NtStatus.AccessDenied);
            if (!file.IsDirectory)
            {
                await file.Handle.FlushAsync(request.Cancellation).ConfigureAwait(false);
                // A flush applies a pending delayed LastWriteTime update (Windows, Samba: smb2.timestamps.delayed-write-vs-flush).
                await file.WriteTime.ApplyPendingAsync(request.Cancellation).ConfigureAwait(false);
            }
        }
        return Smb2Response.Ok(new FlushResponse().WriteTo, 4);
    }
}
