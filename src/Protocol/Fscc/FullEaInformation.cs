using System.Buffers.Binary;
using System.Text;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Fscc;

/// <summary>One FILE_FULL_EA_INFORMATION entry (MS-FSCC 2.4.15): flags (FILE_NEED_EA 0x80), ASCII name, value.</summary>
public sealed record FullEaEntry(byte Flags, string Name, byte[] Value)
{
    public const byte NeedEa = 0x80;
    /// <summary>NextEntryOffset(4) Flags(1) EaNameLength(1) EaValueLength(2).</summary>
    public const int HeaderSize = 8;

    /// <summary>Bytes of this entry without padding: header, name, its NUL, value.</summary>
    public int Size => HeaderSize + Name.Length + 1 + Value.Length;
}

/// <summary>
/// FILE_FULL_EA_INFORMATION lists (MS-FSCC 2.4.15): SET_INFO FileFullEaInformation, the CREATE ExtA context, and the
/// QUERY_INFO answer. Entries are 4-byte aligned; NextEntryOffset is 0 in the last one.
/// </summary>
public static class FullEaInformation
{
    /// <summary>
    /// Parses a list; null when it is inconsistent (an entry or its name past the buffer, a name without its NUL, a
    /// NextEntryOffset that is not 4-aligned or points inside the entry or past the buffer) — STATUS_EA_LIST_INCONSISTENT.
    /// Name bytes are returned as Latin-1 (one char per byte) so that validation sees them as sent.
    /// </summary>
    public static List<FullEaEntry>? Parse(ReadOnlySpan<byte> buffer)
    {
        var result = new List<FullEaEntry>();
        int offset = 0;
        while (true)
        {
            if (offset > buffer.Length - FullEaEntry.HeaderSize) return null;
            var entry = buffer[offset..];
            uint next = BinaryPrimitives.ReadUInt32LittleEndian(entry);
            byte flags = entry[4];
            int nameLength = entry[5];
            int valueLength = BinaryPrimitives.ReadUInt16LittleEndian(entry[6..]);
            int size = FullEaEntry.HeaderSize + nameLength + 1 + valueLength;
            if (size > entry.Length) return null;
            if (entry[FullEaEntry.HeaderSize + nameLength] != 0) return null;
            string name = Encoding.Latin1.GetString(entry.Slice(FullEaEntry.HeaderSize, nameLength));
            byte[] value = entry.Slice(FullEaEntry.HeaderSize + nameLength + 1, valueLength).ToArray();
            result.Add(new FullEaEntry(flags, name, value));
            if (next == 0) return result;
            if ((next & 3) != 0 || next < size || next > (uint)(buffer.Length - offset)) return null;
            offset += (int)next;
        }
    }

    /// <summary>Writes a list (names as ASCII); the last entry is not padded.</summary>
    public static void Write(WireWriter w, IReadOnlyList<FullEaEntry> entries)
    {
        int start = w.Length;
        int previous = -1;
        foreach (var e in entries)
        {
            if (previous >= 0)
            {
                while ((w.Length - start) % 4 != 0) w.WriteByte(0);
                w.PatchUInt32(previous, (uint)(w.Length - previous));
            }
            previous = w.Length;
            w.WriteUInt32(0);
            w.WriteByte(e.Flags);
            w.WriteByte((byte)e.Name.Length);
            w.WriteUInt16((ushort)e.Value.Length);
            w.WriteBytes(Encoding.ASCII.GetBytes(e.Name));
            w.WriteByte(0);
            w.WriteBytes(e.Value);
        }
    }

    /// <summary>Size of the list as <see cref="Write"/> writes it with every entry padded (FileEaInformation.EaSize).</summary>
    public static int PackedSize(IReadOnlyList<FullEaEntry> entries)
    {
        int total = 0;
        foreach (var e in entries) total += (e.Size + 3) & ~3;
        return total;
    }

    /// <summary>
    /// Parses FILE_GET_EA_INFORMATION (MS-FSCC 2.4.15.1: NextEntryOffset(4) EaNameLength(1) EaName + NUL), the input
    /// of a FileFullEaInformation query; null when inconsistent.
    /// </summary>
    public static List<string>? ParseGetList(ReadOnlySpan<byte> buffer)
    {
        var names = new List<string>();
        int offset = 0;
        while (true)
        {
            if (offset > buffer.Length - 5) return null;
            var entry = buffer[offset..];
            uint next = BinaryPrimitives.ReadUInt32LittleEndian(entry);
            int nameLength = entry[4];
            if (5 + nameLength + 1 > entry.Length || entry[5 + nameLength] != 0) return null;
            names.Add(Encoding.Latin1.GetString(entry.Slice(5, nameLength)));
            if (next == 0) return names;
            if (next < 5 + nameLength + 1 || next > (uint)(buffer.Length - offset)) return null;
            offset += (int)next;
        }
    }

    /// <summary>
    /// A valid EA name (MS-FSCC 2.4.15, as NTFS checks it): 1-255 ASCII characters, none below 0x20 and none of
    /// " * + , / : ; &lt; = &gt; ? [ \ ] |.
    /// </summary>
    public static bool IsValidName(string name)
    {
        if (name.Length is 0 or > 255) return false;
        foreach (char c in name)
        {
            if (c < 0x20 || c > 0x7E || "\"*+,/:;<=>?[\\]|".Contains(c)) return false;
        }
        return true;
    }
}
