using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Smb2.Messages;

/// <summary>SMB2 CHANGE_NOTIFY request (MS-SMB2 2.2.35): StructureSize(2)=32 Flags(2) OutputBufferLength(4) FileId(16) CompletionFilter(4) Reserved(4).</summary>
public readonly record struct ChangeNotifyRequest(ushort Flags, uint OutputBufferLength, Smb2FileId FileId, CompletionFilter CompletionFilter)
{
    public const ushort StructureSize = 32;
    public const ushort FlagWatchTree = 1;

    public bool WatchTree => (Flags & FlagWatchTree) != 0;

    public static ChangeNotifyRequest Parse(ReadOnlyMemory<byte> message, int bodyOffset)
    {
        var r = FileMessageWire.BeginBody(message.Span, bodyOffset, StructureSize);
        ushort flags = r.ReadUInt16();
        uint outputLength = r.ReadUInt32();
        var fileId = Smb2FileId.Read(ref r);
        var filter = (CompletionFilter)r.ReadUInt32();
        return new ChangeNotifyRequest(flags, outputLength, fileId, filter);
    }
}

/// <summary>SMB2 CHANGE_NOTIFY response (MS-SMB2 2.2.36): StructureSize(2)=9 OutputBufferOffset(2)=0x48 OutputBufferLength(4) Buffer (FILE_NOTIFY_INFORMATION chain).</summary>
public readonly record struct ChangeNotifyResponse(ReadOnlyMemory<byte> Buffer)
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
