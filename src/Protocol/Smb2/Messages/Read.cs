using System.Buffers.Binary;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Smb2.Messages;

/// <summary>SMB2 READ request (MS-SMB2 2.2.19). ReadChannelInfo is a slice of the message (RDMA descriptors).</summary>
public readonly record struct ReadRequest(
    byte Padding,
    byte Flags,
    uint Length,
    ulong Offset,
    Smb2FileId FileId,
    uint MinimumCount,
    uint Channel,
    uint RemainingBytes,
    ReadOnlyMemory<byte> ReadChannelInfo)
{
    public const ushort StructureSize = 49;
    public const byte FlagUnbuffered = 0x1;
    public const byte FlagRequestCompressed = 0x2;

    public static ReadRequest Parse(ReadOnlyMemory<byte> message, int bodyOffset)
    {
        var r = FileMessageWire.BeginBody(message.Span, bodyOffset, StructureSize);
        byte padding = r.ReadByte();
        byte flags = r.ReadByte();
        uint length = r.ReadUInt32();
        ulong offset = r.ReadUInt64();
        var fileId = Smb2FileId.Read(ref r);
        uint minimum = r.ReadUInt32();
        uint channel = r.ReadUInt32();
        uint remaining = r.ReadUInt32();
        ushort infoOffset = r.ReadUInt16();
        ushort infoLength = r.ReadUInt16();
        var info = WireReader.Slice(message, infoOffset, infoLength);
        return new ReadRequest(padding, flags, length, offset, fileId, minimum, channel, remaining, info);
    }
}

/// <summary>
/// SMB2 READ response (MS-SMB2 2.2.20): StructureSize(2)=17 DataOffset(1)=0x50 Reserved(1) DataLength(4)
/// DataRemaining(4) Flags(4) then the data at header offset 0x50.
/// </summary>
public static class ReadResponse
{
    public const ushort StructureSize = 17;
    /// <summary>Header-relative offset of the data: 64 + 16.</summary>
    public const byte DataOffset = 0x50;
    public const int HeaderPartSize = 16;

    /// <summary>Writes the 16-byte fixed part; the caller appends exactly <paramref name="dataLength"/> bytes of data right after.</summary>
    public static void WriteHeaderPart(WireWriter w, uint dataLength, uint dataRemaining)
    {
        w.WriteUInt16(StructureSize);
        w.WriteByte(DataOffset);
        w.WriteByte(0);
        w.WriteUInt32(dataLength);
        w.WriteUInt32(dataRemaining);
        w.WriteUInt32(0);
    }

    /// <summary>As <see cref="WriteHeaderPart(WireWriter, uint, uint)"/>, into the first 16 bytes of <paramref name="destination"/>
    /// (a response built in place in its frame buffer).</summary>
    public static void WriteHeaderPart(Span<byte> destination, uint dataLength, uint dataRemaining)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(destination, StructureSize);
        destination[2] = DataOffset;
        destination[3] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], dataLength);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], dataRemaining);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], 0);
    }

    /// <summary>Fixed part plus data in one go.</summary>
    public static void WriteTo(WireWriter w, ReadOnlySpan<byte> data, uint dataRemaining = 0)
    {
        WriteHeaderPart(w, (uint)data.Length, dataRemaining);
        w.WriteBytes(data);
    }
}
