using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Smb2.Messages;

/// <summary>SMB2 NEGOTIATE response (MS-SMB2 2.2.4).</summary>
public sealed class NegotiateResponse
{
    public const ushort StructureSize = 65;

    public ushort SecurityMode { get; init; }
    public Smb2Dialect Dialect { get; init; }
    public Guid ServerGuid { get; init; }
    public uint Capabilities { get; init; }
    public uint MaxTransactSize { get; init; }
    public uint MaxReadSize { get; init; }
    public uint MaxWriteSize { get; init; }
    public long SystemTime { get; init; }
    public byte[] SecurityBuffer { get; init; } = [];
    public IReadOnlyList<(NegotiateContextType Type, byte[] Data)> Contexts { get; init; } = [];

    public void WriteTo(WireWriter w)
    {
        int start = w.Length; // body start; header offset = Smb2Header.Size + (pos - start)
        w.WriteUInt16(StructureSize);
        w.WriteUInt16(SecurityMode);
        w.WriteUInt16((ushort)Dialect);
        w.WriteUInt16((ushort)(Dialect == Smb2Dialect.Smb311 ? Contexts.Count : 0));
        w.WriteGuid(ServerGuid);
        w.WriteUInt32(Capabilities);
        w.WriteUInt32(MaxTransactSize);
        w.WriteUInt32(MaxReadSize);
        w.WriteUInt32(MaxWriteSize);
        w.WriteInt64(SystemTime);
        w.WriteInt64(0); // ServerStartTime
        w.WriteUInt16((ushort)(Smb2Header.Size + 64)); // SecurityBufferOffset = 0x80
        w.WriteUInt16((ushort)SecurityBuffer.Length);
        int contextOffsetField = w.Length;
        w.WriteUInt32(0);
        w.WriteBytes(SecurityBuffer);
        if (Dialect == Smb2Dialect.Smb311 && Contexts.Count > 0)
        {
            // Contexts are 8-aligned relative to the header start; the body starts 8-aligned at 64.
            AlignFromHeader(w, start);
            w.PatchUInt32(contextOffsetField, (uint)(Smb2Header.Size + w.Length - start));
            for (int i = 0; i < Contexts.Count; i++)
            {
                if (i > 0) AlignFromHeader(w, start);
                var (type, data) = Contexts[i];
                w.WriteUInt16((ushort)type);
                w.WriteUInt16((ushort)data.Length);
                w.WriteUInt32(0);
                w.WriteBytes(data);
            }
        }
        else if (SecurityBuffer.Length == 0)
        {
            w.WriteByte(0); // the variable part is at least one byte
        }
    }

    private static void AlignFromHeader(WireWriter w, int bodyStart)
    {
        int pad = (8 - ((w.Length - bodyStart) % 8)) % 8;
        w.WriteZeros(pad);
    }
}
