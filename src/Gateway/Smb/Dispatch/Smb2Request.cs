using SmbCopy.Gateway.Smb.Connection;
using SmbCopy.Gateway.Smb.Server;
using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Smb.Dispatch;

/// <summary>One request of a (possibly compound) message, with what the dispatcher resolved for it.</summary>
public sealed class Smb2Request
{
    public required SmbConnection Connection { get; init; }
    public required SmbServer Server { get; init; }
    public required Smb2Header Header { get; init; }
    /// <summary>This request's bytes, from its header to the end of its message (all *Offset fields count from here).</summary>
    public required ReadOnlyMemory<byte> Message { get; init; }
    public SmbSession? Session { get; set; }
    public TreeConnect? Tree { get; set; }
    /// <summary>The open a previous CREATE of a related compound produced (FileId all 0xFF refers to it).</summary>
    public SmbOpen? RelatedOpen { get; init; }
    public bool WasEncrypted { get; init; }
    public bool IsCompoundMember { get; init; }
    public CancellationToken Cancellation { get; init; }

    /// <summary>Set by the dispatcher: sends the interim STATUS_PENDING response (3.3.4.2).</summary>
    internal Func<Smb2Request, ValueTask>? SendInterim { get; init; }
    /// <summary>Nonzero once the request went async; the final response carries it.</summary>
    public ulong AsyncId { get; internal set; }
    /// <summary>The open this request's FileId named (set by <see cref="ResolveOpen"/>): a related request that
    /// follows inherits it (MS-SMB2 3.3.5.2.7.2).</summary>
    public SmbOpen? ResolvedOpen { get; internal set; }

    /// <summary>
    /// Answers STATUS_PENDING now (MS-SMB2 3.3.4.2) so the client's credits are not held while the
    /// request waits (CHANGE_NOTIFY, blocking LOCK, long copies); the final response follows later.
    /// CANCEL finds the request by its AsyncId from then on. Idempotent.
    /// </summary>
    public async ValueTask GoAsyncAsync()
    {
        if (AsyncId != 0 || SendInterim is null) return;
        // A request followed by others in its compound cannot go async: the rest would wait behind it
        // forever. Windows and Samba fail it with STATUS_INTERNAL_ERROR (MS-SMB2 <159>, <162>).
        if (Header.NextCommand != 0) throw new SmbStatusException(NtStatus.InternalError, "async request inside a compound");
        AsyncId = Handlers.AsyncIds.FromMessageId(Header.MessageId);
        await SendInterim(this).ConfigureAwait(false);
    }

    public ReadOnlySpan<byte> Span => Message.Span;

    /// <summary>
    /// Resolves a FileId (MS-SMB2 3.3.5.2.10, 3.3.5.2.7.2): all-0xFF in a related compound means the
    /// previous CREATE's open; otherwise the volatile part must name an open of this session whose
    /// persistent part matches, and it must belong to this tree.
    /// </summary>
    public SmbOpen? ResolveOpen(ulong persistent, ulong @volatile)
    {
        if (persistent == ulong.MaxValue && @volatile == ulong.MaxValue)
        {
            // The previous operation's FileId (3.3.5.2.7.2), as long as that open is still open: a CLOSE
            // earlier in the chain leaves the rest with STATUS_FILE_CLOSED.
            var related = Header.IsRelated ? RelatedOpen : null;
            if (related is null || !related.Session.Opens.TryGetValue(related.VolatileId, out var live)
                || !ReferenceEquals(live, related)) return null;
            return ResolvedOpen = related;
        }
        if (Session is null || !Session.Opens.TryGetValue(@volatile, out var open)) return null;
        if (open.PersistentId != persistent) return null;
        if (Tree is not null && !ReferenceEquals(open.Tree, Tree)) return null;
        return ResolvedOpen = open;
    }
}
