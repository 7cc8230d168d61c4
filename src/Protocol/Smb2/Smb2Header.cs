using System.Buffers.Binary;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Smb2;

/// <summary>
/// The 64-byte SMB2 packet header, sync or async form (MS-SMB2 2.2.1.1, 2.2.1.2).
/// Bytes 8..11 are Status in responses and ChannelSequence+Reserved in 3.x requests.
/// Bytes 32..39 are Reserved+TreeId when sync, AsyncId when ASYNC_COMMAND is set.
/// </summary>
public struct Smb2Header
{
    public const int Size = 64;
    public const uint ProtocolId = 0x424D53FE; // 0xFE 'S' 'M' 'B' read little-endian
    public const uint TransformProtocolId = 0x424D53FD;
    public const uint CompressionProtocolId = 0x424D53FC;
    public const uint Smb1ProtocolId = 0x424D53FF;
    public const int SignatureOffset = 48;

    public ushort CreditCharge;
    public uint Status;
    public Smb2Command Command;
    public ushort Credits;
    public Smb2Flags Flags;
    public uint NextCommand;
    public ulong MessageId;
    public uint Reserved;
    public uint TreeId;
    public ulong AsyncId;
    public ulong SessionId;

    public readonly bool IsAsync => (Flags & Smb2Flags.AsyncCommand) != 0;
    public readonly bool IsRelated => (Flags & Smb2Flags.RelatedOperations) != 0;
    public readonly bool IsSigned => (Flags & Smb2Flags.Signed) != 0;
    public NtStatus NtStatus { readonly get => (NtStatus)Status; set => Status = (uint)value; }

    public static Smb2Header Parse(ReadOnlySpan<byte> message)
    {
        if (message.Length < Size) throw new MalformedMessageException("message shorter than the SMB2 header");
        if (BinaryPrimitives.ReadUInt32LittleEndian(message) != ProtocolId) throw new MalformedMessageException("not an SMB2 header");
        if (BinaryPrimitives.ReadUInt16LittleEndian(message[4..]) != Size) throw new MalformedMessageException("bad header StructureSize");
        var h = new Smb2Header
        {
            CreditCharge = BinaryPrimitives.ReadUInt16LittleEndian(message[6..]),
            Status = BinaryPrimitives.ReadUInt32LittleEndian(message[8..]),
            Command = (Smb2Command)BinaryPrimitives.ReadUInt16LittleEndian(message[12..]),
            Credits = BinaryPrimitives.ReadUInt16LittleEndian(message[14..]),
            Flags = (Smb2Flags)BinaryPrimitives.ReadUInt32LittleEndian(message[16..]),
            NextCommand = BinaryPrimitives.ReadUInt32LittleEndian(message[20..]),
            MessageId = BinaryPrimitives.ReadUInt64LittleEndian(message[24..]),
            SessionId = BinaryPrimitives.ReadUInt64LittleEndian(message[40..]),
        };
        if (h.IsAsync)
            h.AsyncId = BinaryPrimitives.ReadUInt64LittleEndian(message[32..]);
        else
        {
            h.Reserved = BinaryPrimitives.ReadUInt32LittleEndian(message[32..]);
            h.TreeId = BinaryPrimitives.ReadUInt32LittleEndian(message[36..]);
        }
        return h;
    }

    /// <summary>Writes the header with a zero signature into the first 64 bytes of <paramref name="destination"/>.</summary>
    public readonly void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, ProtocolId);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], Size);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], CreditCharge);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], Status);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[12..], (ushort)Command);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[14..], Credits);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], (uint)Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[20..], NextCommand);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[24..], MessageId);
        if (IsAsync)
            BinaryPrimitives.WriteUInt64LittleEndian(destination[32..], AsyncId);
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(destination[32..], Reserved);
            BinaryPrimitives.WriteUInt32LittleEndian(destination[36..], TreeId);
        }
        BinaryPrimitives.WriteUInt64LittleEndian(destination[40..], SessionId);
        destination.Slice(SignatureOffset, 16).Clear();
    }
}
