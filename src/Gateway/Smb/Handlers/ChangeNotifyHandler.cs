using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Gateway.Smb.Handlers;

/// <summary>
/// SMB2 CHANGE_NOTIFY (MS-SMB2 3.3.5.19): waits (async, 3.3.4.2) for changes made through this
/// gateway under a directory open and completes once with a FILE_NOTIFY_INFORMATION chain
/// (MS-FSCC 2.7.1). The watch state lives on the open (<see cref="DirectoryWatch"/>): changes between
/// requests are buffered, too many become STATUS_NOTIFY_ENUM_DIR, closing the open answers
/// STATUS_NOTIFY_CLEANUP, CANCEL answers STATUS_CANCELLED.
/// </summary>
public sealed class ChangeNotifyHandler(ILogger<ChangeNotifyHandler> logger) : ISmb2Handler
{
    public Smb2Command Command => Smb2Command.ChangeNotify;
    public HandlerRequirements Requirements => HandlerRequirements.Tree;

    public async ValueTask<Smb2Response> HandleAsync(Smb2Request request)
    {
        var notify = ChangeNotifyRequest.Parse(request.Message, Smb2Header.Size);
        var open = request.ResolveOpen(notify.FileId.Persistent, notify.FileId.Volatile);
        if (open is null) return Smb2Response.Error(NtStatus.FileClosed);
        if (open is not FileOpen file || !file.IsDirectory) return Fail(NtStatus.InvalidParameter, open.DisplayName, "not a directory");
        if (!file.Has(AccessMask.FileListDirectory)) return Fail(NtStatus.AccessDenied, file.DisplayName, "no FILE_LIST_DIRECTORY");
        if (notify.OutputBufferLength > request.Connection.MaxTransactSize)
            return Fail(NtStatus.InvalidParameter, file.DisplayName, $"OutputBufferLength {notify.OutputBufferLength} > MaxTransactSize");
        var notifier = request.Tree!.Share.Notifications;
        if (notifier is null) return Fail(NtStatus.NotSupported, file.DisplayName, "share without notifications");

        bool deletePending;
        lock (file.Node.Gate) deletePending = file.Node.DeletePending;
        if (deletePending) return Fail(NtStatus.DeletePending, file.DisplayName, "directory is delete-pending");

        DirectoryWatch watch;
        bool created = false;
        lock (file)
        {
            if (file.Watch is null)
            {
                // The first request's filter, tree flag and buffer size stay for the open's life (Windows).
                file.Watch = new DirectoryWatch(notifier, () => file.Handle.Path, notify.CompletionFilter, notify.WatchTree, (int)notify.OutputBufferLength);
                created = true;
            }
            watch = file.Watch;
        }
        // Closed meanwhile (CLOSE raced this request): its close did not see the new watch.
        if (created && !request.Session!.Opens.ContainsKey(file.VolatileId)) watch.Dispose();

        var wait = watch.WaitAsync((int)notify.OutputBufferLength, request.Cancellation);
        if (!wait.IsCompleted) await request.GoAsyncAsync().ConfigureAwait(false);
        var result = await wait.ConfigureAwait(false);
        logger.LogDebug("CHANGE_NOTIFY on '{Path}': {Status}, {Count} change(s)", file.DisplayName, result.Status, result.Changes.Count);

        if (result.Status.IsError()) return SignedLikeRequest(request, Smb2Response.Error(result.Status));
        var w = new WireWriter(64);
        ChangeNotifyResponse.WriteHeaderPart(w, 0);
        if (result.Status == NtStatus.Success)
        {
            var entries = new FileNotifyInformationWriter(w, (int)notify.OutputBufferLength);
            foreach (var (action, name) in result.Changes)
            {
                if (!entries.TryAdd(action, name))
                {
                    w.Dispose();
                    return SignedLikeRequest(request, EmptyWithStatus(NtStatus.NotifyEnumDir));
                }
            }
            w.PatchUInt32(4, (uint)(w.Length - 8));
            return SignedLikeRequest(request, Smb2Response.Ok(w));
        }
        w.Dispose();
        return SignedLikeRequest(request, EmptyWithStatus(result.Status));
    }

    /// <summary>
    /// The completion may come after LOGOFF tore the session down (NOTIFY_CLEANUP): it is still signed
    /// with that session's key when the request was (the client still verifies it, 3.3.4.1.1).
    /// </summary>
    private static Smb2Response SignedLikeRequest(Smb2Request request, Smb2Response response)
    {
        if (request.Session is { } session && (request.Header.IsSigned || session.SigningRequired)) response.SignWith = session;
        return response;
    }

    /// <summary>NOTIFY_ENUM_DIR / NOTIFY_CLEANUP: a CHANGE_NOTIFY response with an empty buffer.</summary>
    private static Smb2Response EmptyWithStatus(NtStatus status)
    {
        var w = new WireWriter(16);
        ChangeNotifyResponse.WriteHeaderPart(w, 0);
        w.WriteByte(0); // the variable part's 1 byte implied by StructureSize 9
        return Smb2Response.WithStatus(status, w);
    }

    private Smb2Response Fail(NtStatus status, string path, string reason)
    {
        logger.LogDebug("CHANGE_NOTIFY on '{Path}': {Status} ({Reason})", path, status, reason);
        return Smb2Response.Error(status);
    }
}
