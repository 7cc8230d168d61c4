using System.Runtime.Intrinsics.X86;

namespace SmbCopy.Storage.Iscsi.Initiator;

/// <summary>CRC32C (Castagnoli, reflected 0x82F63B78) for iSCSI header and data digests (RFC 7143 §13.1, test vectors in
/// RFC 3720 B.4). Uses the SSE4.2 CRC32 instruction when present.</summary>
public static class Crc32C
{
    private static readonly uint[] Table = BuildTable();

    private static uint[] BuildTable()
    {
        var t = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            t[i] = c;
        }
        return t;
    }

    /// <summary>The digest of <paramref name="data"/> as iSCSI sends it (the 32-bit value is written little-endian on
    /// the wire).</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => ~Append(0xFFFFFFFFu, data);

    /// <summary>Continues a running (non-inverted) CRC.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        int i = 0;
        if (Sse42.X64.IsSupported)
        {
            ulong c = crc;
            for (; i + 8 <= data.Length; i += 8)
                c = Sse42.X64.Crc32(c, BitConverter.ToUInt64(data.Slice(i, 8)));
            crc = (uint)c;
        }
        if (Sse42.IsSupported)
        {
            for (; i < data.Length; i++) crc = Sse42.Crc32(crc, data[i]);
            return crc;
        }
        for (; i < data.Length; i++) crc = Table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
        return crc;
    }
}
