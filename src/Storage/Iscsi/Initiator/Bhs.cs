using System.Buffers.Binary;

namespace SmbCopy.Storage.Iscsi.Initiator;

/// <summary>
/// The 48-byte Basic Header Segment (RFC 7143 §11.2.1), as a mutable value over its own array. Generic fields have
/// named accessors; opcode-specific words are reached through <see cref="GetUInt32"/> / <see cref="SetUInt32"/> at
/// their offsets (see protocol-facts D.2). Big-endian throughout.
/// </summary>
public sealed class Bhs
{
    public const int Length = 48;
    public const uint ReservedTag = 0xFFFFFFFF;

    private readonly byte[] _bytes;

    public Bhs() => _bytes = new byte[Length];

    private Bhs(byte[] bytes) => _bytes = bytes;

    /// <summary>Wraps a copy of 48 received bytes.</summary>
    /// <exception cref="IscsiProtocolException">Fewer than 48 bytes.</exception>
    public static Bhs Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < Length)
            throw new IscsiProtocolException($"BHS truncated: {bytes.Length} of {Length} bytes");
        return new Bhs(bytes[..Length].ToArray());
    }

    public Span<byte> Span => _bytes;
    public ReadOnlySpan<byte> ReadOnlySpan => _bytes;
    public byte[] Array => _bytes;

    /// <summary>Byte 0 bits 0–5.</summary>
    public IscsiOpcode Opcode
    {
        get => (IscsiOpcode)(_bytes[0] & 0x3F);
        set => _bytes[0] = (byte)((_bytes[0] & 0x40) | ((byte)value & 0x3F));
    }

    /// <summary>Byte 0 bit 6: immediate delivery (request PDUs only).</summary>
    public bool Immediate
    {
        get => (_bytes[0] & 0x40) != 0;
        set => _bytes[0] = (byte)(value ? _bytes[0] | 0x40 : _bytes[0] & ~0x40);
    }

    /// <summary>Byte 1 (F bit and opcode-specific flags).</summary>
    public byte Flags { get => _bytes[1]; set => _bytes[1] = value; }

    public bool Final
    {
        get => (_bytes[1] & 0x80) != 0;
        set => _bytes[1] = (byte)(value ? _bytes[1] | 0x80 : _bytes[1] & ~0x80);
    }

    /// <summary>Byte 4: AHS length in 4-byte words.</summary>
    public int TotalAhsLength { get => _bytes[4]; set => _bytes[4] = checked((byte)value); }

    /// <summary>Bytes 5–7: data segment length in bytes, without padding (24 bits).</summary>
    public int DataSegmentLength
    {
        get => (_bytes[5] << 16) | (_bytes[6] << 8) | _bytes[7];
        set
        {
            if (value is < 0 or > 0xFFFFFF) throw new ArgumentOutOfRangeException(nameof(value));
            _bytes[5] = (byte)(value >> 16); _bytes[6] = (byte)(value >> 8); _bytes[7] = (byte)value;
        }
    }

    /// <summary>Bytes 8–15: LUN (SAM) or opcode-specific (ISID + TSIH in login).</summary>
    public ulong LunField
    {
        get => BinaryPrimitives.ReadUInt64BigEndian(_bytes.AsSpan(8));
        set => BinaryPrimitives.WriteUInt64BigEndian(_bytes.AsSpan(8), value);
    }

    /// <summary>Bytes 16–19: Initiator Task Tag.</summary>
    public uint InitiatorTaskTag { get => GetUInt32(16); set => SetUInt32(16, value); }

    public uint GetUInt32(int offset) => BinaryPrimitives.ReadUInt32BigEndian(_bytes.AsSpan(offset, 4));
    public void SetUInt32(int offset, uint value) => BinaryPrimitives.WriteUInt32BigEndian(_bytes.AsSpan(offset, 4), value);
    public ushort GetUInt16(int offset) => BinaryPrimitives.ReadUInt16BigEndian(_bytes.AsSpan(offset, 2));
    public void SetUInt16(int offset, ushort value) => BinaryPrimitives.WriteUInt16BigEndian(_bytes.AsSpan(offset, 2), value);

    /// <summary>Encodes a LUN number in SAM single-level format (peripheral addressing below 256, flat space above).</summary>
    public static ulong EncodeLun(int lun)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(lun);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(lun, 0x3FFF);
        return lun < 256 ? (ulong)lun << 48 : (0x4000UL | (ulong)lun) << 48;
    }

    public override string ToString() =>
        $"{Opcode} F={Final} flags=0x{Flags:X2} itt=0x{InitiatorTaskTag:X8} dsl={DataSegmentLength}";
}
