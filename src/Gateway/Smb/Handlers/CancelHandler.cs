using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Smb.Handlers;

/// <summary>
/// SMB2 CANCEL (MS-SMB2 3.3.5.16): finds the pending request by MessageId (or AsyncId for async
/// requests) and cancels it; the cancelled request answers STATUS_CANCELLED. CANCEL itself gets no reply.
/// </summary>
public sealed class CancelHandler : ISmb2Handler
{
    public Smb2Command Command => Smb2Command.Cancel;
    public HandlerRequirements Requirements => HandlerRequirements.None;

    public ValueTask<Smb2Response> HandleAsync(Smb2Request request)
    {
        var header = request.Header;
        ulong key = header.IsAsync ? AsyncIds.ToMessageKey(header.AsyncId) : header.MessageId;
        if (request.Connection.InFlight.TryGetValue(key, out var cts))
        {
            try { cts.Cancel(); }
            catch (ObjectDisposedException) { /* completed meanwhile */ }
        }
        return ValueTask.FromResult(Smb2Response.None());
    }
}

/// <summary>AsyncId ↔ MessageId: an async request's AsyncId is derived from its MessageId so CANCEL can find it either way.</summary>
public static class AsyncIds
{
    private const ulong Tag = 0x8000_0000_0000_0000UL;
    public static ulong FromMessageId(ulong messageId) => messageId | Tag;
    public static ulong ToMessageKey(ulong asyncId) => asyncId & ~Tag;
}
