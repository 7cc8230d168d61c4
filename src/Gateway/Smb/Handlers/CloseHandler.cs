using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;

namespace SmbCopy.Gateway.Smb.Handlers;

/// <summary>SMB2 CLOSE (MS-SMB2 3.3.5.10), with the post-query attributes when asked.</summary>
public sealed class CloseHandler : ISmb2Handler
{
    public Smb2Command Command => Smb2Command.Close;
    public HandlerRequirements Requirements => HandlerRequirements.Tree;

    public async ValueTask<Smb2Response> HandleAsync(Smb2Request request)
    {
        var close = CloseRequest.Parse(request.Message, Smb2Header.Size);
        var open = request.ResolveOpen(close.FileId.Persistent, close.FileId.Volatile);
        if (open is null) return Smb2Response.Error(NtStatus.FileClosed);
        if (!request.Session!.Opens.TryRemove(open.VolatileId, out _)) return Smb2Response.Error(NtStatus.FileClosed);

        // An update of LastWriteTime still owed by this open's writes happens now, before the post-query sees it.
        if (open is FileOpen closing) await closing.WriteTime.CloseAsync(request.Cancellation).ConfigureAwait(false);
        var result = CloseResponse.Empty;
        if (close.PostQueryAttributes && open is FileOpen file)
        {
            try
            {
                var m = file.Node.WriteTime.Observe(await file.Handle.GetInfoAsync(request.Cancellation).ConfigureAwait(false));
                result = new CloseResponse(CloseRequest.FlagPostQueryAttributes, m.CreationTime.ToFileTimeUtc(), m.LastAccessTime.ToFileTimeUtc(),
                    m.LastWriteTime.ToFileTimeUtc(), m.ChangeTime.ToFileTimeUtc(), m.AllocationSize, m.EndOfFile, (FileAttributes)(uint)m.Attributes);
            }
            catch (SmbCopy.Storage.StorageException) { /* deleted meanwhile: answer without attributes */ }
        }
        await open.CloseAsync().ConfigureAwait(false);
        return Smb2Response.Ok(result.WriteTo, 64);
    }
}
