using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Smb2.Messages;

/// <summary>SMB2 SET_INFO request (MS-SMB2 2.2.39). Buffer is a slice of the message; parse it with the Fscc set-class parsers.</summary>
public readonly record struct SetInfoRequest(
    InfoType InfoType,
    byte FileInfoClass,
    ReadOnlyMemory<byte> Buffer,
    uint AdditionalInformation,
    Smb2FileId FileId)
{
    public const ushort StructureSize = 33;

    public FileInformationClass FileInformationClass => (FileInformationClass)FileInfoClass;
    public FsInformationClass FsInformationClass => (FsInformationClass)FileInfoClass;
    public SecurityInformation SecurityInformation => (SecurityInformation)AdditionalInformation;

    public static SetInfoRequest Parse(ReadOnlyMemory<byte> message, int bodyOffset)
    {
        var r = FileMessageWire.BeginBody(message.Span, bodyOffset, StructureSize);
        var infoType = (InfoType)r.ReadByte();
        byte infoClass = r.ReadByte();
        uint length = r.ReadUInt32();
        ushort offset = r.ReadUInt16();
        r.ReadUInt16();
        uint additional = r.ReadUInt32();
        var fileId = Smb2FileId.Read(ref r);
        var buffer = WireReader.Slice(message, offset, length);
        return new SetInfoRequest(infoType, infoClass, buffer, additional, fileId);
    }
}

/// <summary>SMB2 SET_INFO response (MS-SMB2 2.2.40): StructureSize(2)=2.</summary>
public readonly record struct SetInfoResponse
{
    public const ushort StructureSize = 2;
    public void WriteTo(WireWriter w) => w.WriteUInt16(StructureSize);
}
