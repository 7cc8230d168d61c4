using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Gateway.Smb.Durable;

/// <summary>
/// Durable handles on the gateway's opens: the grant at CREATE (MS-SMB2 3.3.5.9.6, 3.3.5.9.10), the reconnect
/// (3.3.5.9.7, 3.3.5.9.12), the replay of a v2 CREATE (3.3.5.9.10, SMB2_FLAGS_REPLAY_OPERATION), and what happens
/// to a durable open when its session goes away (3.3.7.1: kept, disconnected, until reconnect or timeout).
/// </summary>
public static class DurableOpens
{
    /// <summary>
    /// After a successful file open: grants durability when asked and allowed, registers the open, and returns the
    /// response context (DHnQ: 8 reserved bytes; DH2Q: Timeout and Flags, never PERSISTENT), or null.
    /// </summary>
    public static CreateResponseContext? Grant(Smb2Request request, in CreateRequest create, FileOpen open, OplockLevel granted)
    {
        var (status, durable) = DurableRequest.Parse(create, request.Connection.Dialect);
        if (status != NtStatus.Success || !durable.Grants(granted, open.IsDirectory)) return null;
        var session = request.Session!;
        uint timeoutMs = durable.RequestV2 is { } v2 ? DurableRequest.EffectiveTimeoutMs(v2.Timeout) : (uint)DurableOpenTable.DefaultTimeout.TotalMilliseconds;
        var state = new DurableState
        {
            PersistentId = open.PersistentId,
            Version = durable.RequestV2 is null ? 1 : 2,
            CreateGuid = durable.RequestV2?.CreateGuid ?? Guid.Empty,
            ClientGuid = request.Connection.ClientGuid,
            Timeout = TimeSpan.FromMilliseconds(timeoutMs),
            OwnerUser = session.UserName,
            OwnerDomain = session.Domain,
            ShareName = open.Tree.Share.Name,
            Open = open,
            CloseAsync = open.CloseAsync,
        };
        open.Durable = state;
        request.Server.DurableOpens.Register(state);
        return durable.RequestV2 is null
            ? CreateResponseContext.DurableHandle()
            : CreateResponseContext.DurableHandleV2(timeoutMs, 0);
    }

    /// <summary>
    /// The session of a durable open is going away without a CLOSE (connection lost, LOGOFF, a newer session
    /// replacing it): keep the open, disconnected. Not kept (false: the caller closes it) when it is not durable,
    /// is delete-on-close (Samba and Windows delete the file at disconnect), or no longer holds its batch oplock.
    /// </summary>
    public static bool TryDisconnect(FileOpen open)
    {
        if (open.Durable is not { } state || state.IsGone) return false;
        if (open.DeleteOnClose || open.OplockBreaking is not null) return false;
        lock (open.Node.Gate)
        {
            if (open.Oplock != OplockLevel.Batch) return false;
        }
        open.Tree.Session.EstablishedOn.Server.DurableOpens.Disconnect(state);
        return true;
    }

    /// <summary>DHnC / DH2C: finds the disconnected open, checks it may be taken, and rebinds it to this session and tree.</summary>
    public static async ValueTask<Smb2Response> ReconnectAsync(Smb2Request request, DurableRequest durable)
    {
        var table = request.Server.DurableOpens;
        var session = request.Session!;
        var tree = request.Tree!;
        var fileId = durable.ReconnectV2?.FileId ?? durable.ReconnectV1!.Value;
        int version = durable.ReconnectV2 is null ? 1 : 2;
        var state = table.Find(fileId.Persistent);
        var status = DurableOpenTable.CheckReconnect(state, version, durable.ReconnectV2?.CreateGuid ?? Guid.Empty,
            request.Connection.ClientGuid, session.UserName, session.Domain, tree.Share.Name);
        if (status == NtStatus.Success && !table.TryClaim(state!)) status = NtStatus.ObjectNameNotFound;
        if (status != NtStatus.Success || state!.Open is not { } open)
        {
            request.Connection.Logger.LogInformation(
                "durable reconnect (v{Version}) of {PersistentId:X} by {User}: {Status} (known {Known}, disconnected {Disconnected}, CreateGuid {Guid} vs {OpenGuid}, ClientGuid {Client} vs {OpenClient})",
                version, fileId.Persistent, session.UserName, status, state is { IsGone: false }, state?.IsDisconnected,
                durable.ReconnectV2?.CreateGuid, state?.CreateGuid, request.Connection.ClientGuid, state?.ClientGuid);
            return Smb2Response.Error(status == NtStatus.Success ? NtStatus.ObjectNameNotFound : status);
        }

        ulong id = session.NextVolatileId();
        open.Rebind(tree, id);
        session.Opens[id] = open;
        request.Connection.Logger.LogInformation("durable open {PersistentId:X} ({Path}) reconnected by session {SessionId:X}",
            open.PersistentId, open.DisplayName, session.SessionId);
        return await OpenResponseAsync(request, open, []).ConfigureAwait(false);
    }

    /// <summary>
    /// 3.3.5.9.10 replay: a v2 CREATE with SMB2_FLAGS_REPLAY_OPERATION whose CreateGuid names an open this client
    /// already has on this session is answered with that open instead of opening again. Null: not a replay.
    /// </summary>
    public static async ValueTask<Smb2Response?> TryReplayAsync(Smb2Request request, DurableRequest durable)
    {
        if (durable.RequestV2 is not { } v2 || (request.Header.Flags & Smb2Flags.ReplayOperation) == 0) return null;
        var state = request.Server.DurableOpens.FindByCreateGuid(v2.CreateGuid, request.Connection.ClientGuid);
        if (state?.Open is not { } open || state.IsDisconnected) return null;
        var session = request.Session!;
        if (!session.Opens.TryGetValue(open.VolatileId, out var current) || !ReferenceEquals(current, open)) return null;
        request.Connection.Logger.LogInformation("replayed CREATE (CreateGuid {CreateGuid}) answered with open {PersistentId:X}", v2.CreateGuid, open.PersistentId);
        uint timeoutMs = (uint)state.Timeout.TotalMilliseconds;
        return await OpenResponseAsync(request, open, [CreateResponseContext.DurableHandleV2(timeoutMs, 0)]).ConfigureAwait(false);
    }

    private static async ValueTask<Smb2Response> OpenResponseAsync(Smb2Request request, FileOpen open, List<CreateResponseContext> contexts)
    {
        var metadata = open.Node.WriteTime.Observe(await open.Handle.GetInfoAsync(request.Cancellation).ConfigureAwait(false));
        OplockLevel oplock;
        lock (open.Node.Gate) oplock = open.Oplock;
        var w = FileCreate.WriteResponse(open, metadata, oplock, CreateAction.Opened, contexts);
        var response = Smb2Response.Ok(w);
        response.CreatedOpen = open;
        return response;
    }
}
