using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Smb2.Messages;

/// <summary>SMB2 NEGOTIATE request (MS-SMB2 2.2.3) with its 3.1.1 negotiate contexts (2.2.3.1).</summary>
public sealed class NegotiateRequest
{
    public const ushort StructureSize = 36;

    public ushort SecurityMode { get; private init; }
    public uint Capabilities { get; private init; }
    public Guid ClientGuid { get; private init; }
    public IReadOnlyList<Smb2Dialect> Dialects { get; private init; } = [];
    public IReadOnlyList<NegotiateContext> Contexts { get; private init; } = [];

    public static NegotiateRequest Parse(ReadOnlySpan<byte> message, int bodyOffset = Smb2Header.Size)
    {
        var r = new WireReader(message);
        r.Seek(bodyOffset);
        if (r.ReadUInt16() != StructureSize) throw new MalformedMessageException("NEGOTIATE StructureSize");
        ushort dialectCount = r.ReadUInt16();
        ushort securityMode = r.ReadUInt16();
        r.Skip(2);
        uint capabilities = r.ReadUInt32();
        var clientGuid = r.ReadGuid();
        uint contextOffset = r.ReadUInt32();
        ushort contextCount = r.ReadUInt16();
        r.Skip(2);
        var dialects = new Smb2Dialect[dialectCount];
        for (int i = 0; i < dialectCount; i++) dialects[i] = (Smb2Dialect)r.ReadUInt16();

        var contexts = new List<NegotiateContext>();
        // Contexts are only meaningful when 3.1.1 is offered (2.2.3); other clients reuse the field as ClientStartTime.
        if (contextCount > 0 && Array.IndexOf(dialects, Smb2Dialect.Smb311) >= 0)
        {
            long offset = contextOffset;
            for (int i = 0; i < contextCount; i++)
            {
                offset = (offset + 7) & ~7L;
                var head = WireReader.Slice(message, offset, 8);
                ushort type = (ushort)(head[0] | head[1] << 8);
                ushort length = (ushort)(head[2] | head[3] << 8);
                var data = WireReader.Slice(message, offset + 8, length);
                contexts.Add(new NegotiateContext((NegotiateContextType)type, data.ToArray()));
                offset += 8 + length;
            }
        }
        return new NegotiateRequest
        {
            SecurityMode = securityMode,
            Capabilities = capabilities,
            ClientGuid = clientGuid,
            Dialects = dialects,
            Contexts = contexts,
        };
    }
}

public enum NegotiateContextType : ushort
{
    PreauthIntegrityCapabilities = 1,
    EncryptionCapabilities = 2,
    CompressionCapabilities = 3,
    NetnameNegotiateContextId = 5,
    TransportCapabilities = 6,
    RdmaTransformCapabilities = 7,
    SigningCapabilities = 8,
}

/// <summary>One negotiate context (MS-SMB2 2.2.3.1): type and raw data.</summary>
public sealed record NegotiateContext(NegotiateContextType Type, byte[] Data)
{
    /// <summary>Reads the leading count and the list of 16-bit ids that follow at <paramref name="listOffset"/>.</summary>
    public ushort[] ReadIdList(int countOffset, int listOffset)
    {
        var r = new WireReader(Data);
        r.Seek(countOffset);
        ushort count = r.ReadUInt16();
        r.Seek(listOffset);
        var ids = new ushort[count];
        for (int i = 0; i < count; i++) ids[i] = r.ReadUInt16();
        return ids;
    }
}
