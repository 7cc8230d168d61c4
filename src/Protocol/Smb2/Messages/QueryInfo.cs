using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Smb2.Messages;

/// <summary>SMB2 QUERY_INFO request (MS-SMB2 2.2.37). InputBuffer (quota SIDs, FULL_EA list) is a slice of the message.</summary>
public readonly record struct QueryInfoRequest(
    InfoType InfoType,
    byte FileInfoClass,
    uint OutputBufferLength,
    ReadOnlyMemory<byte> InputBuffer,
    uint AdditionalInformation,
    uint Flags,
    Smb2FileId FileId)
{
    public const ushort StructureSize = 41;
    public const uint FlagRestartScan = 0x1;
    public const uint FlagReturnSingleEntry = 0x2;
    public const uint FlagIndexSpecified = 0x4;

    public FileInformationClass FileInformationClass => (FileInformationClass)FileInfoClass;
    public FsInformationClass FsInformationClass => (FsInformationClass)FileInfoClass;
    public SecurityInformation SecurityInformation => (SecurityInformation)AdditionalInformation;

    public static QueryInfoRequest Parse(ReadOnlyMemory<byte> message, int bodyOffset)
    {
        var r = FileMessageWire.BeginBody(message.Span, bodyOffset, StructureSize);
        var infoType = (InfoType)r.ReadByte();
        byte infoClass = r.ReadByte();
        uint outputLength = r.ReadUInt32();
        ushort inputOffset = r.ReadUInt16();
        r.ReadUInt16();
        uint inputLength = r.ReadUInt32();
        uint additional = r.ReadUInt32();
        uint flags = r.ReadUInt32();
        var fileId = Smb2FileId.Read(ref r);
        var input = WireReader.Slice(message, inputOffset, inputLength);
        return new QueryInfoRequest(infoType, infoClass, outputLength, input, additional, flags, fileId);
    }
}

/// <summary>SMB2 QUERY_INFO response (MS-SMB2 2.2.38): StructureSize(2)=9 OutputBufferOffset(2)=0x48 OutputBufferLength(4) Buffer.</summary>
public readonly record struct QueryInfoResponse(ReadOnlyMemory<byte> Buffer)
{
    public const ushort StructureSize = 9;
    public const ushort BufferOffset = 0x48;

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
