using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Smb2.Messages;

/// <summary>SMB2 WRITE request (MS-SMB2 2.2.21). <see cref="Data"/> is the [DataOffset, +Length) slice of the message.</summary>
public readonly record struct WriteRequest(
    ushort DataOffset,
    uint Length,
    ulong Offset,
    Smb2FileId FileId,
    uint Channel,
    uint RemainingBytes,
    ReadOnlyMemory<byte> WriteChannelInfo,
    uint Flags,
    ReadOnlyMemory<byte> Data)
{
    public const ushort StructureSize = 49;
    public const uint FlagWriteThrough = 0x1;
    public const uint FlagWriteUnbuffered = 0x2;

    public static WriteRequest Parse(ReadOnlyMemory<byte> message, int bodyOffset)
    {
        var r = FileMessageWire.BeginBody(message.Span, bodyOffset, StructureSize);
        ushort dataOffset = r.ReadUInt16();
        uint length = r.ReadUInt32();
        ulong offset = r.ReadUInt64();
        var fileId = Smb2FileId.Read(ref r);
        uint channel = r.ReadUInt32();
        uint remaining = r.ReadUInt32();
        ushort infoOffset = r.ReadUInt16();
        ushort infoLength = r.ReadUInt16();
        uint flags = r.ReadUInt32();
        var info = WireReader.Slice(message, infoOffset, infoLength);
        var data = WireReader.Slice(message, dataOffset, length);
        return new WriteRequest(dataOffset, length, offset, fileId, channel, remaining, info, flags, data);
    }
}

/// <summary>SMB2 WRITE response (MS-SMB2 2.2.22): StructureSize(2)=17 Reserved(2) Count(4) Remaining(4) WriteChannelInfoOffset(2) WriteChannelInfoLength(2) — 16 bytes.</summary>
public readonly record struct WriteResponse(uint Count, uint Remaining = 0)
{
    public const ushort StructureSize = 17;

    public void WriteTo(WireWriter w)
    {
        w.WriteUInt16(StructureSize);
        w.WriteUInt16(0);
        w.WriteUInt32(Count);
        w.WriteUInt32(Remaining);
        w.WriteUInt16(0);
        w.WriteUInt16(0);
    }
}
