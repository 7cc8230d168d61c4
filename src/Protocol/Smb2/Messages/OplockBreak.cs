using System.Buffers.Binary;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Smb2.Messages;

/// <summary>Distinguishes the OPLOCK_BREAK request forms by StructureSize (24 oplock ack, 36 lease ack).</summary>
public static class OplockBreakRequest
{
    public static ushort PeekStructureSize(ReadOnlySpan<byte> message, int bodyOffset)
    {
        if (bodyOffset < 0 || (long)bodyOffset + 2 > message.Length) throw new MalformedMessageException("OPLOCK_BREAK body missing");
        return BinaryPrimitives.ReadUInt16LittleEndian(message[bodyOffset..]);
    }
}

/// <summary>
/// Oplock break notification / acknowledgment / response (MS-SMB2 2.2.23.1, 2.2.24.1, 2.2.25.1), all the same
/// 24 bytes: StructureSize(2)=24 OplockLevel(1) Reserved(1) Reserved2(4) FileId(16).
/// </summary>
public readonly record struct OplockBreak(OplockLevel OplockLevel, Smb2FileId FileId)
{
    public const ushort StructureSize = 24;

    public static OplockBreak Parse(ReadOnlyMemory<byte> message, int bodyOffset)
    {
        var r = FileMessageWire.BeginBody(message.Span, bodyOffset, StructureSize);
        var level = (OplockLevel)r.ReadByte();
        r.ReadByte();
        r.ReadUInt32();
        return new OplockBreak(level, Smb2FileId.Read(ref r));
    }

    public void WriteTo(WireWriter w)
    {
        w.WriteUInt16(StructureSize);
        w.WriteByte((byte)OplockLevel);
        w.WriteByte(0);
        w.WriteUInt32(0);
        FileId.WriteTo(w);
    }
}

/// <summary>
/// Lease break notification (MS-SMB2 2.2.23.2), 44 bytes: StructureSize(2)=44 NewEpoch(2) Flags(4) LeaseKey(16)
/// CurrentLeaseState(4) NewLeaseState(4) BreakReason(4) AccessMaskHint(4) ShareMaskHint(4).
/// </summary>
public readonly record struct LeaseBreakNotification(ushort NewEpoch, uint Flags, Guid LeaseKey, uint CurrentLeaseState, uint NewLeaseState)
{
    public const ushort StructureSize = 44;
    public const uint FlagAckRequired = 1;

    public void WriteTo(WireWriter w)
    {
        w.WriteUInt16(StructureSize);
        w.WriteUInt16(NewEpoch);
        w.WriteUInt32(Flags);
        w.WriteGuid(LeaseKey);
        w.WriteUInt32(CurrentLeaseState);
        w.WriteUInt32(NewLeaseState);
        w.WriteUInt32(0);
        w.WriteUInt32(0);
        w.WriteUInt32(0);
    }
}

/// <summary>
/// Lease break acknowledgment / response (MS-SMB2 2.2.24.2, 2.2.25.2), 36 bytes: StructureSize(2)=36 Reserved(2)
/// Flags(4) LeaseKey(16) LeaseState(4) LeaseDuration(8).
/// </summary>
public readonly record struct LeaseBreakAcknowledgment(uint Flags, Guid LeaseKey, uint LeaseState, ulong LeaseDuration)
{
    public const ushort StructureSize = 36;

    public static LeaseBreakAcknowledgment Parse(ReadOnlyMemory<byte> message, int bodyOffset)
    {
        var r = FileMessageWire.BeginBody(message.Span, bodyOffset, StructureSize);
        r.ReadUInt16();
        uint flags = r.ReadUInt32();
        var key = r.ReadGuid();
        uint state = r.ReadUInt32();
        return new LeaseBreakAcknowledgment(flags, key, state, r.ReadUInt64());
    }

    public void WriteTo(WireWriter w)
    {
        w.WriteUInt16(StructureSize);
        w.WriteUInt16(0);
        w.WriteUInt32(Flags);
        w.WriteGuid(LeaseKey);
        w.WriteUInt32(LeaseState);
        w.WriteUInt64(LeaseDuration);
    }
}
