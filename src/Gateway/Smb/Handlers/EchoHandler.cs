using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;

namespace SmbCopy.Gateway.Smb.Handlers;

/// <summary>SMB2 ECHO (MS-SMB2 3.3.5.17).</summary>
public sealed class EchoHandler : ISmb2Handler
{
    public Smb2Command Command => Smb2Command.Echo;
    public HandlerRequirements Requirements => HandlerRequirements.None;

    public ValueTask<Smb2Response> HandleAsync(Smb2Request request)
    {
        EmptyBody.Validate(request.Span);
        return ValueTask.FromResult(Smb2Response.Ok(EmptyBody.WriteTo, 4));
    }
}
