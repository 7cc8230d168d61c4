using SmbCopy.Protocol.Wire;
using FileAttributes = SmbCopy.Protocol.Fscc.FileAttributes;

namespace SmbCopy.Protocol.Smb2.Messages;

/// <summary>SMB2 CLOSE request (MS-SMB2 2.2.15): StructureSize(2)=24 Flags(2) Reserved(4) FileId(16).</summary>
public readonly record struct CloseRequest(ushort Flags, Smb2FileId FileId)
{
    public const ushort StructureSize = 24;
    public const ushort FlagPostQueryAttributes = 1;

    public bool PostQueryAttributes => (Flags & FlagPostQueryAttributes) != 0;

    public static CloseRequest Parse(ReadOnlyMemory<byte> message, int bodyOffset)
    {
        var r = FileMessageWire.BeginBody(message.Span, bodyOffset, StructureSize);
        ushort flags = r.ReadUInt16();
        r.ReadUInt32();
        return new CloseRequest(flags, Smb2FileId.Read(ref r));
    }
}

/// <summary>SMB2 CLOSE response (MS-SMB2 2.2.16), 60 bytes. Attributes are zero unless Flags has POSTQUERY_ATTRIB.</summary>
public readonly record struct CloseResponse(ushort Flags, long CreationTime, long LastAccessTime, long LastWriteTime, long ChangeTime, long AllocationSize, long EndOfFile, FileAttributes FileAttributes)
{
    public const ushort StructureSize = 60;

    /// <summary>The response without attributes (Flags 0, all fields zero).</summary>
    public static CloseResponse Empty => default;

    public void WriteTo(WireWriter w)
    {
        w.WriteUInt16(StructureSize);
        w.WriteUInt16(Flags);
        w.WriteUInt32(0);
        w.WriteInt64(CreationTime);
        w.WriteInt64(LastAccessTime);
        w.WriteInt64(LastWriteTime);
        w.WriteInt64(ChangeTime);
        w.WriteInt64(AllocationSize);
        w.WriteInt64(EndOfFile);
        w.WriteUInt32((uint)FileAttributes);
    }
}
