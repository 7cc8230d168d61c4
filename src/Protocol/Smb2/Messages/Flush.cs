using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Smb2.Messages;

/// <summary>SMB2 FLUSH request (MS-SMB2 2.2.17): StructureSize(2)=24 Reserved1(2) Reserved2(4) FileId(16).</summary>
public readonly record struct FlushRequest(Smb2FileId FileId)
{
    public const ushort StructureSize = 24;

    public static FlushRequest Parse(ReadOnlyMemory<byte> message, int bodyOffset)
    {
        var r = FileMessageWire.BeginBody(message.Span, bodyOffset, StructureSize);
        r.ReadUInt16();
        r.ReadUInt32();
        return new FlushRequest(Smb2FileId.Read(ref r));
    }
}

/// <summary>SMB2 FLUSH response (MS-SMB2 2.2.18): StructureSize(2)=4 Reserved(2).</summary>
public readonly record struct FlushResponse
{
    public const ushort StructureSize = 4;

    public void WriteTo(WireWriter w)
    {
        w.WriteUInt16(StructureSize);
        w.WriteUInt16(0);
    }
}
