using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Smb2.Messages;

/// <summary>SMB2 TREE_CONNECT request (MS-SMB2 2.2.9).</summary>
public readonly struct TreeConnectRequest
{
    public const ushort StructureSize = 9;
    public ushort Flags { get; private init; }
    /// <summary>"\\server\share" as sent.</summary>
    public string Path { get; private init; }

    public static TreeConnectRequest Parse(ReadOnlySpan<byte> message, int bodyOffset = Smb2Header.Size)
    {
        var r = new WireReader(message);
        r.Seek(bodyOffset);
        if (r.ReadUInt16() != StructureSize) throw new MalformedMessageException("TREE_CONNECT StructureSize");
        ushort flags = r.ReadUInt16();
        ushort offset = r.ReadUInt16();
        ushort length = r.ReadUInt16();
        // 3.1.1 with EXTENSION_PRESENT (0x4): the path is described by the extension; PathOffset here
        // is then relative to the extension. Windows clients do not send it unless the server asks.
        return new TreeConnectRequest { Flags = flags, Path = WireReader.Utf16(WireReader.Slice(message, offset, length)) };
    }

    /// <summary>The share part of "\\server\share" (empty when the path has no share component).</summary>
    public string ShareName
    {
        get
        {
            var p = Path.TrimStart('\\');
            int slash = p.IndexOf('\\');
            return slash < 0 ? "" : p[(slash + 1)..];
        }
    }
}

/// <summary>SMB2 TREE_CONNECT response (MS-SMB2 2.2.10).</summary>
public readonly record struct TreeConnectResponse(byte ShareType, uint ShareFlags, uint Capabilities, uint MaximalAccess)
{
    public const ushort StructureSize = 16;
    public const byte TypeDisk = 1, TypePipe = 2, TypePrint = 3;
    public const uint ShareFlagNoCaching = 0x30, ShareFlagEncryptData = 0x8000;

    public void WriteTo(WireWriter w)
    {
        w.WriteUInt16(StructureSize);
        w.WriteByte(ShareType);
        w.WriteByte(0);
        w.WriteUInt32(ShareFlags);
        w.WriteUInt32(Capabilities);
        w.WriteUInt32(MaximalAccess);
    }
}
