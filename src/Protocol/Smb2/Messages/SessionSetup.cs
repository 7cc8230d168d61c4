using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Smb2.Messages;

/// <summary>SMB2 SESSION_SETUP request (MS-SMB2 2.2.5).</summary>
public readonly struct SessionSetupRequest
{
    public const ushort StructureSize = 25;
    public const byte FlagBinding = 0x01;

    public byte Flags { get; private init; }
    public byte SecurityMode { get; private init; }
    public uint Capabilities { get; private init; }
    public ulong PreviousSessionId { get; private init; }
    public ReadOnlyMemory<byte> SecurityBuffer { get; private init; }

    public static SessionSetupRequest Parse(ReadOnlyMemory<byte> message, int bodyOffset = Smb2Header.Size)
    {
        var r = new WireReader(message.Span);
        r.Seek(bodyOffset);
        if (r.ReadUInt16() != StructureSize) throw new MalformedMessageException("SESSION_SETUP StructureSize");
        byte flags = r.ReadByte();
        byte securityMode = r.ReadByte();
        uint capabilities = r.ReadUInt32();
        r.Skip(4); // Channel
        ushort offset = r.ReadUInt16();
        ushort length = r.ReadUInt16();
        ulong previous = r.ReadUInt64();
        return new SessionSetupRequest
        {
            Flags = flags,
            SecurityMode = securityMode,
            Capabilities = capabilities,
            PreviousSessionId = previous,
            SecurityBuffer = WireReader.Slice(message, offset, length),
        };
    }
}

/// <summary>SMB2 SESSION_SETUP response (MS-SMB2 2.2.6).</summary>
public sealed class SessionSetupResponse
{
    public const ushort StructureSize = 9;
    public const ushort FlagIsGuest = 0x1, FlagIsNull = 0x2, FlagEncryptData = 0x4;

    public ushort SessionFlags { get; init; }
    public byte[] SecurityBuffer { get; init; } = [];

    public void WriteTo(WireWriter w)
    {
        w.WriteUInt16(StructureSize);
        w.WriteUInt16(SessionFlags);
        w.WriteUInt16(SecurityBuffer.Length == 0 ? (ushort)0 : (ushort)(Smb2Header.Size + 8));
        w.WriteUInt16((ushort)SecurityBuffer.Length);
        if (SecurityBuffer.Length == 0) w.WriteByte(0);
        else w.WriteBytes(SecurityBuffer);
    }
}
