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
    /// <summary>Bound on in-flight entries, markers of CANCELs that overtook their request included.</summary>
    private const int MaxEarlyCancels = 256;

    public ValueTask<Smb2Response> HandleAsync(Smb2Request request)
    {
        var header = request.Header;
        ulong key = header.IsAsync ? AsyncIds.ToMessageKey(header.AsyncId) : header.MessageId;
        var inFlight = request.Connection.InFlight;
        while (true)
        {
            if (inFlight.TryGetValue(key, out var cts))
            {
                try { cts.Cancel(); }
                catch (ObjectDisposedException) { /* completed meanwhile */ }
                break;
            }
            // Frames run concurrently: the CANCEL may overtake its request (sent right after it).
            // Leave a cancelled marker that the request picks up when it registers (Smb2Dispatcher).
            if (header.IsAsync) break;
            if (inFlight.Count >= MaxEarlyCancels) SweepMarkers(inFlight);
            var marker = new EarlyCancel();
            if (inFlight.TryAdd(key, marker)) break;
            marker.Dispose();
        }
        return ValueTask.FromResult(Smb2Response.None());
    }

    /// <summary>Drops markers of CANCELs whose request never came (it had completed already).</summary>
    private static void SweepMarkers(System.Collections.Concurrent.ConcurrentDictionary<ulong, CancellationTokenSource> inFlight)
    {
        long now = Environment.TickCount64;
        foreach (var (id, cts) in inFlight)
        {
            if (cts is EarlyCancel m && now - m.Created > 5000 && inFlight.TryRemove(new(id, cts))) cts.Dispose();
        }
    }

    /// <summary>An already-cancelled token left by a CANCEL that found no request (yet).</summary>
    private sealed class EarlyCancel : CancellationTokenSource
    {
        public EarlyCancel() => Cancel();
        public long Created { get; } = Environment.TickCount64;
    }
}

/// <summary>AsyncId ↔ MessageId: an async request's AsyncId is derived from its MessageId so CANCEL can find it either way.</summary>
public static class AsyncIds
{
    private const ulong Tag = 0x8000_0000_0000_0000UL;
    public static ulong FromMessageId(ulong messageId) => messageId | Tag;
    public static ulong ToMessageKey(ulong asyncId) => asyncId & ~Tag;
}
