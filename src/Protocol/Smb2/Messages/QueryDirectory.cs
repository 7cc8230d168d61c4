using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Smb2.Messages;

/// <summary>SMB2 QUERY_DIRECTORY request flags (MS-SMB2 2.2.33).</summary>
[Flags]
public enum QueryDirectoryFlags : byte
{
    None = 0,
    RestartScans = 0x01,
    ReturnSingleEntry = 0x02,
    IndexSpecified = 0x04,
    Reopen = 0x10,
}

/// <summary>SMB2 QUERY_DIRECTORY request (MS-SMB2 2.2.33). FileName is the search pattern ("" when absent).</summary>
public readonly record struct QueryDirectoryRequest(
    FileInformationClass FileInformationClass,
    QueryDirectoryFlags Flags,
    uint FileIndex,
    Smb2FileId FileId,
    string FileName,
    uint OutputBufferLength)
{
    public const ushort StructureSize = 33;

    public static QueryDirectoryRequest Parse(ReadOnlyMemory<byte> message, int bodyOffset)
    {
        var span = message.Span;
        var r = FileMessageWire.BeginBody(span, bodyOffset, StructureSize);
        var infoClass = (FileInformationClass)r.ReadByte();
        var flags = (QueryDirectoryFlags)r.ReadByte();
        uint fileIndex = r.ReadUInt32();
        var fileId = Smb2FileId.Read(ref r);
        ushort nameOffset = r.ReadUInt16();
        ushort nameLength = r.ReadUInt16();
        uint outputLength = r.ReadUInt32();
        string name = FileMessageWire.ReadName(span, nameOffset, nameLength);
        return new QueryDirectoryRequest(infoClass, flags, fileIndex, fileId, name, outputLength);
    }
}

/// <summary>SMB2 QUERY_DIRECTORY response (MS-SMB2 2.2.34): StructureSize(2)=9 OutputBufferOffset(2)=0x48 OutputBufferLength(4) Buffer.</summary>
public readonly record struct QueryDirectoryResponse(ReadOnlyMemory<byte> Buffer)
{
    public const ushort StructureSize = 9;
    public const ushort BufferOffset = 0x48;

    /// <summary>8-byte fixed part; the caller appends <paramref name="outputBufferLength"/> bytes.</summary>
    public static void WriteHeaderPart(WireWriter w, uint outputBufferLength)
    {
        w.WriteUInt16(StructureSize);
        w.WriteUInt16(BufferOffset);
        w.WriteUInt32(outputBufferLength);
    }

    public void WriteTo(WireWriter w)
    {
        WriteHeaderPart(w, (uint)Buffer.Length);
        w.WriteBytes(Buffer.Span);
    }
}
