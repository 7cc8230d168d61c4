using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Smb.Dispatch;

/// <summary>
/// What one request of a compound hands to the next (MS-SMB2 3.3.5.2.7): the SessionId, TreeId and FileId a
/// related request inherits, and the failures the rest of a related chain inherits. One per received frame;
/// the dispatcher asks <see cref="Precheck"/> before dispatching a request and reports it with
/// <see cref="Completed"/> or <see cref="Refused"/> afterwards.
/// </summary>
internal sealed class CompoundChain
{
    private bool _first = true;
    // 3.3.5.2.7.2: the chain has no SessionId/TreeId to hand on; every related request that follows fails.
    private bool _lostIds;
    // 3.3.5.2.7.2 <260>: a failed CREATE fails the related requests that use its FileId with its status.
    private NtStatus _failedCreate = NtStatus.Success;

    /// <summary>Session of the previous operation (null when it had none or failed to find one).</summary>
    public SmbSession? Session { get; private set; }
    /// <summary>Tree connect of the previous operation.</summary>
    public TreeConnect? Tree { get; private set; }
    /// <summary>The open the previous operation used or created: FileId all-0xFF of a related request.</summary>
    public SmbOpen? Open { get; private set; }

    /// <summary>
    /// The status <paramref name="header"/>'s request fails with before it runs, or Success.
    /// <paramref name="needsSession"/>: the command requires a session (every command but NEGOTIATE,
    /// SESSION_SETUP, ECHO and CANCEL).
    /// </summary>
    public NtStatus Precheck(in Smb2Header header, bool needsSession)
    {
        if (!header.IsRelated) return NtStatus.Success;
        if (_first)
        {
            // 3.3.5.2.7.2 <259>: the first request of a chain must not be related. Windows and Samba fail it with
            // STATUS_INVALID_PARAMETER, and the related requests after it have nothing to inherit.
            _lostIds = true;
            return NtStatus.InvalidParameter;
        }
        if (_lostIds) return NtStatus.InvalidParameter;
        if (_failedCreate != NtStatus.Success) return _failedCreate;
        if (needsSession && Session is null)
        {
            // 3.3.5.2.7.2: "the previous operation failed to create SessionId or TreeId, or does not contain a
            // SessionId" → this and all subsequent operations fail with STATUS_INVALID_PARAMETER.
            _lostIds = true;
            return NtStatus.InvalidParameter;
        }
        return NtStatus.Success;
    }

    /// <summary>A request that ran: what it used and produced becomes what the next related request inherits.</summary>
    public void Completed(in Smb2Header header, NtStatus status, SmbSession? session, TreeConnect? tree, SmbOpen? open)
    {
        if (!header.IsRelated)
        {
            // An unrelated request starts over from its own header's ids (3.3.5.2.7.1).
            _lostIds = false;
            _failedCreate = NtStatus.Success;
            Open = null;
        }
        _first = false;
        Session = session;
        Tree = tree;
        if (open is not null) Open = open;
        if (header.Command == Smb2Command.Create && status.IsError()) _failedCreate = status;
    }

    /// <summary>A request failed by <see cref="Precheck"/>: the chain keeps what it had, and its failure.</summary>
    public void Refused(in Smb2Header header)
    {
        _ = header;
        _first = false;
    }
}
