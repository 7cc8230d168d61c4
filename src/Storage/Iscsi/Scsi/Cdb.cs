using System.Buffers.Binary;

namespace SmbCopy.Storage.Iscsi.Scsi;

/// <summary>CDB builders (SPC-4, SBC-3; protocol-facts D.4).</summary>
public static class Cdb
{
    public static byte[] TestUnitReady() => new byte[6];

    /// <summary>INQUIRY (6): standard data, or the VPD page <paramref name="page"/>.</summary>
    public static byte[] Inquiry(byte? page, ushort allocationLength)
    {
        var c = new byte[6];
        c[0] = ScsiOpcodes.Inquiry;
        if (page is { } p) { c[1] = 0x01; c[2] = p; }
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(3), allocationLength);
        return c;
    }

    /// <summary>READ CAPACITY (16): SERVICE ACTION IN (16) 0x9E, SA 0x10.</summary>
    public static byte[] ReadCapacity16(uint allocationLength = 32)
    {
        var c = new byte[16];
        c[0] = ScsiOpcodes.ServiceActionIn16;
        c[1] = 0x10;
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(10), allocationLength);
        return c;
    }

    public static byte[] Read16(ulong lba, uint blocks, bool fua = false) => ReadWrite16(ScsiOpcodes.Read16, lba, blocks, fua);

    public static byte[] Write16(ulong lba, uint blocks, bool fua = false) => ReadWrite16(ScsiOpcodes.Write16, lba, blocks, fua);

    private static byte[] ReadWrite16(byte opcode, ulong lba, uint blocks, bool fua)
    {
        var c = new byte[16];
        c[0] = opcode;
        if (fua) c[1] = 0x08;
        BinaryPrimitives.WriteUInt64BigEndian(c.AsSpan(2), lba);
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(10), blocks);
        return c;
    }

    /// <summary>SYNCHRONIZE CACHE (16); 0 blocks = to the end of the medium.</summary>
    public static byte[] SynchronizeCache16(ulong lba = 0, uint blocks = 0)
    {
        var c = new byte[16];
        c[0] = ScsiOpcodes.SynchronizeCache16;
        BinaryPrimitives.WriteUInt64BigEndian(c.AsSpan(2), lba);
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(10), blocks);
        return c;
    }

    /// <summary>UNMAP (10) for a parameter list of <paramref name="parameterListLength"/> bytes.</summary>
    public static byte[] Unmap(ushort parameterListLength)
    {
        var c = new byte[10];
        c[0] = ScsiOpcodes.Unmap;
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(7), parameterListLength);
        return c;
    }

    /// <summary>UNMAP parameter list: header (8) + one 16-byte block descriptor per range.</summary>
    public static byte[] UnmapParameters(IReadOnlyList<(ulong Lba, uint Blocks)> ranges)
    {
        var p = new byte[8 + 16 * ranges.Count];
        BinaryPrimitives.WriteUInt16BigEndian(p, (ushort)(p.Length - 2));
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)(16 * ranges.Count));
        for (int i = 0; i < ranges.Count; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(p.AsSpan(8 + 16 * i), ranges[i].Lba);
            BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(16 + 16 * i), ranges[i].Blocks);
        }
        return p;
    }

    /// <summary>EXTENDED COPY (LID1): 0x83 SA 0x00, parameter list length in bytes 10–13.</summary>
    public static byte[] ExtendedCopyLid1(uint parameterListLength)
    {
        var c = new byte[16];
        c[0] = ScsiOpcodes.ExtendedCopy;
        c[1] = 0x00;
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(10), parameterListLength);
        return c;
    }

    /// <summary>RECEIVE COPY RESULTS (LID1 service actions: 0x00 COPY STATUS, 0x03 OPERATING PARAMETERS, ...).</summary>
    public static byte[] ReceiveCopyResults(byte serviceAction, byte listId, uint allocationLength)
    {
        var c = new byte[16];
        c[0] = ScsiOpcodes.ReceiveCopyResults;
        c[1] = serviceAction;
        c[2] = listId;
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(10), allocationLength);
        return c;
    }

    public static byte[] ReportLuns(uint allocationLength)
    {
        var c = new byte[12];
        c[0] = ScsiOpcodes.ReportLuns;
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(6), allocationLength);
        return c;
    }
}
