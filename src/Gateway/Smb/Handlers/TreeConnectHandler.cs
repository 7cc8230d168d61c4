using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Server;
using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;

namespace SmbCopy.Gateway.Smb.Handlers;

/// <summary>SMB2 TREE_CONNECT (MS-SMB2 3.3.5.7) for the configured disk shares and IPC$.</summary>
public sealed class TreeConnectHandler : ISmb2Handler
{
    /// <summary>FILE_ALL_ACCESS as Windows grants it on a share the user may write (MS-SMB2 2.2.10).</summary>
    public const uint FullAccess = 0x001F01FF;
    /// <summary>Read, execute, read attributes/EA, read control, synchronize: a read-only share.</summary>
    public const uint ReadOnlyAccess = 0x001200A9;

    public Smb2Command Command => Smb2Command.TreeConnect;
    public HandlerRequirements Requirements => HandlerRequirements.Session;

    public ValueTask<Smb2Response> HandleAsync(Smb2Request request)
    {
        var session = request.Session!;
        var connect = TreeConnectRequest.Parse(request.Span);
        string shareName = connect.ShareName;
        var share = shareName.Length is > 0 and <= 80 ? request.Server.Shares.Find(shareName) : null;
        if (share is null)
        {
            request.Connection.Logger.LogInformation("tree connect to unknown share '{Path}' by {User}", connect.Path, session.UserName);
            return ValueTask.FromResult(Smb2Response.Error(NtStatus.BadNetworkName));
        }
        if (session.IsAnonymous && !share.AllowsGuest && !share.IsPipe)
            return ValueTask.FromResult(Smb2Response.Error(NtStatus.AccessDenied));
        bool encrypt = share.RequireEncryption || request.Server.Options.Security.RequireEncryption;
        if (share.RequireEncryption && session.Cipher is null)
            return ValueTask.FromResult(Smb2Response.Error(NtStatus.AccessDenied));

        uint maximalAccess = share.ReadOnly ? ReadOnlyAccess : FullAccess;
        var tree = new TreeConnect(session.NextTreeId(), share, maximalAccess, session);
        session.Trees[tree.TreeId] = tree;
        request.Tree = tree;

        var body = new TreeConnectResponse(
            share.IsPipe ? TreeConnectResponse.TypePipe : TreeConnectResponse.TypeDisk,
            (share.IsPipe ? TreeConnectResponse.ShareFlagNoCaching : 0u) | (encrypt && session.Cipher is not null ? TreeConnectResponse.ShareFlagEncryptData : 0u),
            Capabilities: 0,
            maximalAccess);
        var response = Smb2Response.Ok(body.WriteTo, 16);
        response.TreeIdOverride = tree.TreeId;
        return ValueTask.FromResult(response);
    }
}
