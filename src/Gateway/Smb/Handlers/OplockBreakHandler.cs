using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;

namespace SmbCopy.Gateway.Smb.Handlers;

/// <summary>
/// SMB2 OPLOCK_BREAK acknowledgments (MS-SMB2 3.3.5.22). Oplock form (24): completes a break in
/// progress (<see cref="Oplocks"/>); without one, STATUS_INVALID_DEVICE_STATE (3.3.5.22.1). Lease
/// form (36): no lease is ever granted (no SMB2_GLOBAL_CAP_LEASING), so the key names no lease of
/// this client: STATUS_OBJECT_NAME_NOT_FOUND (3.3.5.22.2). Other sizes: STATUS_INVALID_PARAMETER.
/// </summary>
public sealed class OplockBreakHandler : ISmb2Handler
{
    public Smb2Command Command => Smb2Command.OplockBreak;
    public HandlerRequirements Requirements => HandlerRequirements.Tree;

    public ValueTask<Smb2Response> HandleAsync(Smb2Request request)
    {
        var log = request.Connection.Logger;
        ushort size = OplockBreakRequest.PeekStructureSize(request.Span, Smb2Header.Size);
        if (size == OplockBreak.StructureSize) return ValueTask.FromResult(AcknowledgeOplock(request));
        if (size == LeaseBreakAcknowledgment.StructureSize && request.Connection.Dialect != Smb2Dialect.Smb202)
        {
            var lease = LeaseBreakAcknowledgment.Parse(request.Message, Smb2Header.Size);
            log.LogDebug("lease break acknowledgment for unknown lease {LeaseKey}", lease.LeaseKey);
            return ValueTask.FromResult(Smb2Response.Error(NtStatus.ObjectNameNotFound));
        }
        log.LogDebug("OPLOCK_BREAK with StructureSize {Size} from {Remote}", size, request.Connection.RemoteEndPoint);
        return ValueTask.FromResult(Smb2Response.Error(NtStatus.InvalidParameter));
    }

    private static Smb2Response AcknowledgeOplock(Smb2Request request)
    {
        var ack = OplockBreak.Parse(request.Message, Smb2Header.Size);
        var open = request.ResolveOpen(ack.FileId.Persistent, ack.FileId.Volatile);
        if (open is null) return Smb2Response.Error(NtStatus.FileClosed);
        if (open is not FileOpen file) return Smb2Response.Error(NtStatus.InvalidDeviceState);

        OplockLevel offered;
        lock (file.Node.Gate)
        {
            if (file.OplockBreaking is null)
            {
                // A level II → none break needs no acknowledgment (MS-SMB2 2.2.24.1: "the client does not send a
                // request"); acknowledging one is a protocol error, as on Windows (smbtorture smb2.oplock.levelii500).
                // Any other acknowledgment without a break in progress: 3.3.5.22.1 (OplockState is not Breaking).
                if (file.OplockLevelIIBroken && file.Oplock == OplockLevel.None)
                {
                    request.Connection.Logger.LogDebug("oplock acknowledgment for {Open} after a level II break to none", file.DisplayName);
                    return Smb2Response.Error(NtStatus.InvalidOplockProtocol);
                }
                return Smb2Response.Error(NtStatus.InvalidDeviceState);
            }
            offered = file.OplockBreakTarget;
        }
        // 3.3.5.22.1: an acknowledgment naming SMB2_OPLOCK_LEVEL_LEASE ends the break at none with STATUS_INVALID_PARAMETER.
        if (ack.OplockLevel == OplockLevel.Lease)
        {
            Oplocks.CompleteBreak(file, OplockLevel.None);
            return Smb2Response.Error(NtStatus.InvalidParameter);
        }
        // The acknowledged level may not exceed what the break offered (3.3.5.22.1).
        if (ack.OplockLevel is not (OplockLevel.None or OplockLevel.LevelII) || (offered == OplockLevel.None && ack.OplockLevel != OplockLevel.None))
        {
            Oplocks.CompleteBreak(file, OplockLevel.None);
            return Smb2Response.Error(NtStatus.InvalidOplockProtocol);
        }
        Oplocks.CompleteBreak(file, ack.OplockLevel);
        return Smb2Response.Ok(new OplockBreak(ack.OplockLevel, ack.FileId).WriteTo, 24);
    }
}
