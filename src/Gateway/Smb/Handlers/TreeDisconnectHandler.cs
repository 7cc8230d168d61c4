using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;

namespace SmbCopy.Gateway.Smb.Handlers;

/// <summary>SMB2 TREE_DISCONNECT (MS-SMB2 3.3.5.8): closes the tree's opens.</summary>
public sealed class TreeDisconnectHandler : ISmb2Handler
{
    public Smb2Command Command => Smb2Command.TreeDisconnect;
    public HandlerRequirements Requirements => HandlerRequirements.Tree;

    public async ValueTask<Smb2Response> HandleAsync(Smb2Request request)
    {
        EmptyBody.Validate(request.Span);
        var session = request.Session!;
        var tree = request.Tree!;
        session.Trees.TryRemove(tree.TreeId, out _);
        foreach (var open in session.Opens.Values.Where(o => ReferenceEquals(o.Tree, tree)).ToList())
        {
            if (session.Opens.TryRemove(open.VolatileId, out _))
                await open.CloseAsync().ConfigureAwait(false);
        }
        return Smb2Response.Ok(EmptyBody.WriteTo, 4);
    }
}
