using System.Buffers.Binary;
using SmbCopy.Storage.Iscsi.Initiator;

namespace SmbCopy.Storage.Iscsi.Volume;

/// <summary>
/// The volume's identity on the LUN (docs/iscsi.md): two copies, at the start of the volume and 1 MiB further, each
/// one block: magic "SMBCOPY\0", layout version, volume UUID, block size, allocation unit, data area start (blocks
/// from the volume start), unit count, generation, CRC32C of the preceding bytes. The valid copy with the higher
/// generation wins; mounting writes generation + 1 to the other copy.
/// </summary>
public sealed record Superblock(Guid Uuid, uint BlockSize, int UnitSize, long DataOffsetBlocks, long Units, ulong Generation)
{
    public const uint Version = 1;
    public const int CopyDistanceBytes = 1024 * 1024;
    /// <summary>The superblock area: both copies, then the data area.</summary>
    public const int AreaBytes = 2 * CopyDistanceBytes;
    private static ReadOnlySpan<byte> Magic => "SMBCOPY\0"u8;
    private const int Length = 8 + 4 + 16 + 4 + 4 + 8 + 8 + 8 + 4;

    public byte[] Encode(int blockSize)
    {
        var b = new byte[blockSize];
        Magic.CopyTo(b);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), Version);
        Uuid.TryWriteBytes(b.AsSpan(12));
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(28), BlockSize);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(32), UnitSize);
        BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(36), DataOffsetBlocks);
        BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(44), Units);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(52), Generation);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(60), Crc32C.Compute(b.AsSpan(0, 60)));
        return b;
    }

    /// <summary>Null when the block holds no valid superblock (wrong magic, version or checksum).</summary>
    public static Superblock? Decode(ReadOnlySpan<byte> b)
    {
        if (b.Length < Length || !b[..8].SequenceEqual(Magic)) return null;
        if (BinaryPrimitives.ReadUInt32LittleEndian(b[60..]) != Crc32C.Compute(b[..60])) return null;
        if (BinaryPrimitives.ReadUInt32LittleEndian(b[8..]) != Version) return null;
        return new Superblock(new Guid(b.Slice(12, 16)), BinaryPrimitives.ReadUInt32LittleEndian(b[28..]),
            BinaryPrimitives.ReadInt32LittleEndian(b[32..]), BinaryPrimitives.ReadInt64LittleEndian(b[36..]),
            BinaryPrimitives.ReadInt64LittleEndian(b[44..]), BinaryPrimitives.ReadUInt64LittleEndian(b[52..]));
    }
}
