using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;

namespace SmbCopy.Gateway.Smb.Handlers;

/// <summary>SMB2 LOGOFF (MS-SMB2 3.3.5.6): closes the session's opens and tree connects and removes it.</summary>
public sealed class LogoffHandler : ISmb2Handler
{
    public Smb2Command Command => Smb2Command.Logoff;
    public HandlerRequirements Requirements => HandlerRequirements.Session;

    public async ValueTask<Smb2Response> HandleAsync(Smb2Request request)
    {
        EmptyBody.Validate(request.Span);
        var session = request.Session!;
        request.Connection.Sessions.TryRemove(session.SessionId, out _);
        await request.Server.RemoveSessionAsync(session).ConfigureAwait(false);
        var response = Smb2Response.Ok(EmptyBody.WriteTo, 4);
        // The session is gone, but its response is still signed with its key (3.3.5.6).
        if (request.Header.IsSigned || session.SigningRequired) response.SignWith = session;
        return response;
    }
}
