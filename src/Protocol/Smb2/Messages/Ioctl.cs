using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Smb2.Messages;

/// <summary>
/// SMB2 IOCTL request (MS-SMB2 2.2.31). Input/Output are slices of the message; InputOffset is exposed so the
/// handler can apply the 8-alignment rule itself (the parser only checks the range).
/// </summary>
public readonly record struct IoctlRequest(
    uint CtlCode,
    Smb2FileId FileId,
    uint InputOffset,
    ReadOnlyMemory<byte> Input,
    uint MaxInputResponse,
    uint OutputOffset,
    ReadOnlyMemory<byte> Output,
    uint MaxOutputResponse,
    uint Flags)
{
    public const ushort StructureSize = 57;
    public const uint FlagIsFsctl = 1;

    public bool IsFsctl => (Flags & FlagIsFsctl) != 0;
    public uint InputCount => (uint)Input.Length;

    public static IoctlRequest Parse(ReadOnlyMemory<byte> message, int bodyOffset)
    {
        var r = FileMessageWire.BeginBody(message.Span, bodyOffset, StructureSize);
        r.ReadUInt16();
        uint ctlCode = r.ReadUInt32();
        var fileId = Smb2FileId.Read(ref r);
        uint inputOffset = r.ReadUInt32();
        uint inputCount = r.ReadUInt32();
        uint maxInput = r.ReadUInt32();
        uint outputOffset = r.ReadUInt32();
        uint outputCount = r.ReadUInt32();
        uint maxOutput = r.ReadUInt32();
        uint flags = r.ReadUInt32();
        var input = WireReader.Slice(message, inputOffset, inputCount);
        var output = WireReader.Slice(message, outputOffset, outputCount);
        return new IoctlRequest(ctlCode, fileId, inputOffset, input, maxInput, outputOffset, output, maxOutput, flags);
    }
}

/// <summary>
/// SMB2 IOCTL response (MS-SMB2 2.2.32): 48-byte fixed part, then the (optional, usually empty) echoed input at
/// header offset 0x70 and the output at InputOffset + InputCount rounded up to 8 (0x70 when there is no input).
/// Used for success and for the error-with-body responses (copy-chunk limits/failure), where the gateway sets Status.
/// </summary>
public readonly record struct IoctlResponse(uint CtlCode, Smb2FileId FileId, ReadOnlyMemory<byte> Output, ReadOnlyMemory<byte> Input = default, uint Flags = 0)
{
    public const ushort StructureSize = 49;
    public const int FixedSize = 48;
    /// <summary>Header offset of the buffer: 64 + 48.</summary>
    public const uint BufferOffset = 0x70;

    public uint OutputOffset => (uint)((BufferOffset + Input.Length + 7) & ~7);

    public void WriteTo(WireWriter w)
    {
        int bodyStart = w.Length;
        w.WriteUInt16(StructureSize);
        w.WriteUInt16(0);
        w.WriteUInt32(CtlCode);
        FileId.WriteTo(w);
        w.WriteUInt32(BufferOffset);
        w.WriteUInt32((uint)Input.Length);
        w.WriteUInt32(OutputOffset);
        w.WriteUInt32((uint)Output.Length);
        w.WriteUInt32(Flags);
        w.WriteUInt32(0);
        if (Input.Length != 0)
        {
            w.WriteBytes(Input.Span);
            if (Output.Length != 0) FileMessageWire.PadBody(w, bodyStart, 8);
        }
        w.WriteBytes(Output.Span);
    }
}
