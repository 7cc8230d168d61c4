using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Smb2.Messages;

/// <summary>
/// The four-byte bodies shared by LOGOFF, TREE_DISCONNECT, ECHO, CANCEL requests and the LOGOFF,
/// TREE_DISCONNECT, ECHO, FLUSH, LOCK responses: StructureSize(2)=4, Reserved(2) (MS-SMB2 2.2.7, 2.2.8, 2.2.11, 2.2.12, 2.2.28, 2.2.29).
/// </summary>
public static class EmptyBody
{
    public const ushort StructureSize = 4;

    public static void Validate(ReadOnlySpan<byte> message, int bodyOffset = Smb2Header.Size)
    {
        var r = new WireReader(message);
        r.Seek(bodyOffset);
        if (r.ReadUInt16() != StructureSize) throw new MalformedMessageException("StructureSize must be 4");
    }

    public static void WriteTo(WireWriter w)
    {
        w.WriteUInt16(StructureSize);
        w.WriteUInt16(0);
    }
}

/// <summary>SMB2 ERROR response (MS-SMB2 2.2.2). With no error data one zero byte follows.</summary>
public static class ErrorResponse
{
    public const ushort StructureSize = 9;

    public static void WriteTo(WireWriter w, ReadOnlySpan<byte> errorData = default, byte errorContextCount = 0)
    {
        w.WriteUInt16(StructureSize);
        w.WriteByte(errorContextCount);
        w.WriteByte(0);
        w.WriteUInt32((uint)errorData.Length);
        if (errorData.Length == 0) w.WriteByte(0);
        else w.WriteBytes(errorData);
    }
}
