using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;

namespace SmbCopy.Gateway.Smb.Handlers;

/// <summary>
/// SMB2 OPLOCK_BREAK acknowledgments (MS-SMB2 3.3.5.22). The server grants no oplocks and no leases, so no
/// break is ever in progress: an oplock acknowledgment for an existing open answers STATUS_INVALID_DEVICE_STATE
/// (3.3.5.22.1, "Open.OplockState is not Breaking"); a lease acknowledgment names no lease of this client, so it
/// answers STATUS_OBJECT_NAME_NOT_FOUND (3.3.5.22.2). Any other StructureSize is STATUS_INVALID_PARAMETER.
/// </summary>
public sealed class OplockBreakHandler : ISmb2Handler
{
    public Smb2Command Command => Smb2Command.OplockBreak;
    public HandlerRequirements Requirements => HandlerRequirements.Tree;

    public ValueTask<Smb2Response> HandleAsync(Smb2Request request)
    {
        var log = request.Connection.Logger;
        ushort size = OplockBreakRequest.PeekStructureSize(request.Span, Smb2Header.Size);
        if (size == OplockBreak.StructureSize)
        {
            var ack = OplockBreak.Parse(request.Message, Smb2Header.Size);
            var open = request.ResolveOpen(ack.FileId.Persistent, ack.FileId.Volatile);
            if (open is null) return ValueTask.FromResult(Smb2Response.Error(NtStatus.FileClosed));
            log.LogDebug("oplock break acknowledgment for {Open} without a break in progress", open.DisplayName);
            return ValueTask.FromResult(Smb2Response.Error(NtStatus.InvalidDeviceState));
        }
        if (size == LeaseBreakAcknowledgment.StructureSize && request.Connection.Dialect != Smb2Dialect.Smb202)
        {
            var ack = LeaseBreakAcknowledgment.Parse(request.Message, Smb2Header.Size);
            log.LogDebug("lease break acknowledgment for unknown lease {LeaseKey}", ack.LeaseKey);
            return ValueTask.FromResult(Smb2Response.Error(NtStatus.ObjectNameNotFound));
        }
        log.LogDebug("OPLOCK_BREAK with StructureSize {Size} from {Remote}", size, request.Connection.RemoteEndPoint);
        return ValueTask.FromResult(Smb2Response.Error(NtStatus.InvalidParameter));
    }
}
