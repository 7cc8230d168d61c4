using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Smb2.Messages;

/// <summary>SMB2_LOCK_ELEMENT flags (MS-SMB2 2.2.26.1).</summary>
[Flags]
public enum LockFlags : uint
{
    None = 0,
    Shared = 0x1,
    Exclusive = 0x2,
    Unlock = 0x4,
    FailImmediately = 0x10,
}

/// <summary>SMB2_LOCK_ELEMENT: Offset(8) Length(8) Flags(4) Reserved(4).</summary>
public readonly record struct LockElement(ulong Offset, ulong Length, LockFlags Flags)
{
    public const int Size = 24;
}

/// <summary>
/// SMB2 LOCK request (MS-SMB2 2.2.26): StructureSize(2)=48 LockCount(2) LockSequenceNumber(4 bits)+LockSequenceIndex(28 bits)
/// FileId(16) Locks(24 × LockCount). LockCount 0 parses to an empty list (the handler rejects it).
/// </summary>
public readonly record struct LockRequest(byte LockSequenceNumber, uint LockSequenceIndex, Smb2FileId FileId, IReadOnlyList<LockElement> Locks)
{
    public const ushort StructureSize = 48;

    public static LockRequest Parse(ReadOnlyMemory<byte> message, int bodyOffset)
    {
        var span = message.Span;
        var r = FileMessageWire.BeginBody(span, bodyOffset, StructureSize);
        ushort count = r.ReadUInt16();
        uint sequence = r.ReadUInt32();
        var fileId = Smb2FileId.Read(ref r);
        if ((long)count * LockElement.Size > r.Remaining) throw new MalformedMessageException($"LockCount {count} needs {count * LockElement.Size} bytes, have {r.Remaining}");
        var locks = new LockElement[count];
        for (int i = 0; i < count; i++)
        {
            ulong offset = r.ReadUInt64();
            ulong length = r.ReadUInt64();
            var flags = (LockFlags)r.ReadUInt32();
            r.ReadUInt32();
            locks[i] = new LockElement(offset, length, flags);
        }
        return new LockRequest((byte)(sequence & 0xF), sequence >> 4, fileId, locks);
    }
}

/// <summary>SMB2 LOCK response (MS-SMB2 2.2.27): StructureSize(2)=4 Reserved(2).</summary>
public readonly record struct LockResponse
{
    public const ushort StructureSize = 4;

    public void WriteTo(WireWriter w)
    {
        w.WriteUInt16(StructureSize);
        w.WriteUInt16(0);
    }
}
