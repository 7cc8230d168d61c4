using System.Buffers.Binary;
using System.Text;

namespace SmbCopy.Storage.Iscsi.Scsi;

/// <summary>Standard INQUIRY data (SPC-4 §6.6.2), the fields this driver uses.</summary>
public sealed record StandardInquiry(byte PeripheralQualifier, byte DeviceType, byte Version, bool ThirdPartyCopy, bool Protect,
    string Vendor, string Product, string Revision)
{
    public static StandardInquiry Parse(ReadOnlySpan<byte> d)
    {
        if (d.Length < 8) throw new ScsiDataException("INQUIRY", $"standard data too short ({d.Length} bytes)");
        return new StandardInquiry((byte)(d[0] >> 5), (byte)(d[0] & 0x1F), d[2], (d[5] & 0x08) != 0, (d[5] & 0x01) != 0,
            Ascii(d, 8, 8), Ascii(d, 16, 16), Ascii(d, 32, 4));
    }

    private static string Ascii(ReadOnlySpan<byte> d, int offset, int length) =>
        d.Length < offset + length ? "" : Encoding.ASCII.GetString(d.Slice(offset, length)).Trim();
}

/// <summary>One designation descriptor of VPD page 0x83 (SPC-4 §7.8.6): the raw descriptor (header + designator)
/// is what an 0xE4 identification CSCD descriptor carries.</summary>
public sealed record Designator(byte ProtocolId, byte CodeSet, bool Piv, byte Association, byte Type, byte[] Value, byte[] RawDescriptor)
{
    public const byte TypeT10Vendor = 1, TypeEui64 = 2, TypeNaa = 3, TypeScsiName = 8;

    public override string ToString() => $"type {Type} assoc {Association}: {(CodeSet == 1 ? Convert.ToHexString(Value) : Encoding.ASCII.GetString(Value))}";
}

/// <summary>VPD pages: 0x00 supported pages, 0x83 device identification, 0xB0 block limits, 0xB2 logical block
/// provisioning, 0x8F third-party copy. Every length is checked against the bytes returned.</summary>
public static class VpdPages
{
    public const byte Supported = 0x00, UnitSerial = 0x80, DeviceIdentification = 0x83, ThirdPartyCopy = 0x8F, BlockLimits = 0xB0,
        LogicalBlockProvisioning = 0xB2;

    /// <summary>The page body after the 4-byte header, clipped to the bytes present.</summary>
    public static ReadOnlySpan<byte> Body(ReadOnlySpan<byte> page, byte expectedCode)
    {
        if (page.Length < 4) throw new ScsiDataException("INQUIRY", $"VPD page 0x{expectedCode:X2} too short");
        if (page[1] != expectedCode) throw new ScsiDataException("INQUIRY", $"asked for VPD page 0x{expectedCode:X2}, got 0x{page[1]:X2}");
        int length = BinaryPrimitives.ReadUInt16BigEndian(page[2..]);
        return page.Slice(4, Math.Min(length, page.Length - 4));
    }

    public static byte[] ParseSupported(ReadOnlySpan<byte> page) => Body(page, Supported).ToArray();

    public static IReadOnlyList<Designator> ParseDeviceIdentification(ReadOnlySpan<byte> page)
    {
        var body = Body(page, DeviceIdentification);
        var list = new List<Designator>();
        int pos = 0;
        while (pos + 4 <= body.Length)
        {
            int len = body[pos + 3];
            if (pos + 4 + len > body.Length) break; // truncated descriptor: stop, keep what is whole
            var d = body.Slice(pos, 4 + len);
            list.Add(new Designator((byte)(d[0] >> 4), (byte)(d[0] & 0x0F), (d[1] & 0x80) != 0, (byte)((d[1] >> 4) & 3),
                (byte)(d[1] & 0x0F), d[4..].ToArray(), d.ToArray()));
            pos += 4 + len;
        }
        return list;
    }
}

/// <summary>Block Limits VPD page 0xB0 (SBC-3 §6.6.4); 0 = not reported / no limit.</summary>
public sealed record BlockLimits(uint MaxCompareAndWriteBlocks, ushort OptimalTransferGranularity, uint MaxTransferBlocks,
    uint OptimalTransferBlocks, uint MaxUnmapLbaCount, uint MaxUnmapDescriptors, uint OptimalUnmapGranularity, ulong MaxWriteSameBlocks)
{
    public static readonly BlockLimits None = new(0, 0, 0, 0, 0, 0, 0, 0);

    public static BlockLimits Parse(ReadOnlySpan<byte> page)
    {
        // offsets as in SBC-3, from the page start; fields beyond the returned length read as 0
        byte[] b = page[..Math.Min(page.Length, 4 + VpdPages.Body(page, VpdPages.BlockLimits).Length)].ToArray();
        uint U32(int off) => off + 4 <= b.Length ? BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(off)) : 0;
        ushort U16(int off) => off + 2 <= b.Length ? BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(off)) : (ushort)0;
        ulong U64(int off) => off + 8 <= b.Length ? BinaryPrimitives.ReadUInt64BigEndian(b.AsSpan(off)) : 0;
        byte U8(int off) => off < b.Length ? b[off] : (byte)0;
        return new BlockLimits(U8(5), U16(6), U32(8), U32(12), U32(20), U32(24), U32(28), U64(36));
    }
}

/// <summary>READ CAPACITY (16) data (SBC-3 §5.16.2).</summary>
public sealed record Capacity(ulong LastLba, uint BlockSize, byte LogicalPerPhysicalExponent, bool Lbpme, bool Lbprz, ushort LowestAlignedLba)
{
    public long Blocks => (long)LastLba + 1;
    public long Bytes => Blocks * BlockSize;

    public static Capacity Parse(ReadOnlySpan<byte> d)
    {
        if (d.Length < 12) throw new ScsiDataException("READ CAPACITY(16)", $"data too short ({d.Length} bytes)");
        ulong last = BinaryPrimitives.ReadUInt64BigEndian(d);
        uint bs = BinaryPrimitives.ReadUInt32BigEndian(d[8..]);
        if (bs is 0 or > 1 << 20 || (bs & (bs - 1)) != 0) throw new ScsiDataException("READ CAPACITY(16)", $"block length {bs} not supported");
        byte exp = d.Length > 13 ? (byte)(d[13] & 0x0F) : (byte)0;
        bool lbpme = d.Length > 14 && (d[14] & 0x80) != 0, lbprz = d.Length > 14 && (d[14] & 0x40) != 0;
        ushort aligned = d.Length > 15 ? (ushort)(BinaryPrimitives.ReadUInt16BigEndian(d[14..]) & 0x3FFF) : (ushort)0;
        return new Capacity(last, bs, exp, lbpme, lbprz, aligned);
    }
}

/// <summary>The target returned data that cannot be used.</summary>
public sealed class ScsiDataException(string command, string message) : Initiator.IscsiException($"{command}: {message}")
{
    public override bool IsTransient => false;
}
