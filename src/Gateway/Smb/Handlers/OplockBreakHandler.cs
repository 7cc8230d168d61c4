using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;

namespace SmbCopy.Gateway.Smb.Handlers;

/// <summary>
/// SMB2 OPLOCK_BREAK acknowledgment (MS-SMB2 3.3.5.22.1). Leases are not granted, so the lease form
/// (StructureSize 36) has nothing to acknowledge.
/// </summary>
public sealed class OplockBreakHandler : ISmb2Handler
{
    private const NtStatus InvalidOplockProtocol = (NtStatus)0xC00000E3;
    private const NtStatus InvalidDeviceState = (NtStatus)0xC0000184;

    public Smb2Command Command => Smb2Command.OplockBreak;
    public HandlerRequirements Requirements => HandlerRequirements.Tree;

    public ValueTask<Smb2Response> HandleAsync(Smb2Request request)
    {
        ushort size = OplockBreakRequest.PeekStructureSize(request.Span, Smb2Header.Size);
        if (size == 36) return ValueTask.FromResult(Smb2Response.Error(NtStatus.InvalidParameter)); // no lease was ever granted
        var ack = OplockBreak.Parse(request.Message, Smb2Header.Size);
        var open = request.ResolveOpen(ack.FileId.Persistent, ack.FileId.Volatile) as FileOpen;
        if (open is null) return ValueTask.FromResult(Smb2Response.Error(NtStatus.FileClosed));

        OplockLevel offered;
        lock (open.Node.Gate)
        {
            if (open.OplockBreaking is null) return ValueTask.FromResult(Smb2Response.Error(InvalidDeviceState));
            offered = open.OplockBreakTarget;
        }
        // The acknowledged level may not exceed what the break offered; Level II → none needs no ack.
        if (ack.OplockLevel is not (OplockLevel.None or OplockLevel.LevelII) || (offered == OplockLevel.None && ack.OplockLevel != OplockLevel.None))
        {
            Oplocks.CompleteBreak(open, OplockLevel.None);
            return ValueTask.FromResult(Smb2Response.Error(InvalidOplockProtocol));
        }
        Oplocks.CompleteBreak(open, ack.OplockLevel);
        return ValueTask.FromResult(Smb2Response.Ok(new OplockBreak(ack.OplockLevel, ack.FileId).WriteTo, 24));
    }
}
