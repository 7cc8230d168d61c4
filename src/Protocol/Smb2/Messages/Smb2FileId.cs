using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Smb2.Messages;

/// <summary>SMB2_FILEID (MS-SMB2 2.2.14.1): Persistent(8) Volatile(8).</summary>
public readonly record struct Smb2FileId(ulong Persistent, ulong Volatile)
{
    public const int Size = 16;

    /// <summary>All 0xFF: "no file" (IOCTLs that are not per-file) and "the previous file" in related compounds.</summary>
    public static Smb2FileId AllOnes { get; } = new(ulong.MaxValue, ulong.MaxValue);

    public bool IsAllOnes => Persistent == ulong.MaxValue && Volatile == ulong.MaxValue;

    public static Smb2FileId Read(ref WireReader r) => new(r.ReadUInt64(), r.ReadUInt64());

    public static Smb2FileId Parse(ReadOnlySpan<byte> bytes)
    {
        var r = new WireReader(bytes);
        return Read(ref r);
    }

    public void WriteTo(WireWriter w)
    {
        w.WriteUInt64(Persistent);
        w.WriteUInt64(Volatile);
    }
}

/// <summary>Shared parse/write plumbing of the file-command messages.</summary>
internal static class FileMessageWire
{
    /// <summary>Body offset as seen by *Offset fields (they count from the header start; the body starts at 64).</summary>
    public const int BodyStart = Smb2Header.Size;

    /// <summary>
    /// Positions a reader at the body, checks that the fixed part (StructureSize rounded down to even) is
    /// present and that StructureSize matches.
    /// </summary>
    public static WireReader BeginBody(ReadOnlySpan<byte> message, int bodyOffset, ushort structureSize)
    {
        if (bodyOffset < 0 || bodyOffset > message.Length) throw new MalformedMessageException($"body offset {bodyOffset} outside {message.Length}");
        int fixedLength = structureSize & ~1;
        if (message.Length - bodyOffset < fixedLength) throw new MalformedMessageException($"body {message.Length - bodyOffset} bytes, need {fixedLength}");
        var r = new WireReader(message);
        r.Seek(bodyOffset);
        ushort actual = r.ReadUInt16();
        if (actual != structureSize) throw new MalformedMessageException($"StructureSize {actual}, expected {structureSize}");
        return r;
    }

    public static string ReadName(ReadOnlySpan<byte> message, long offset, long length)
        => length == 0 ? "" : WireReader.Utf16(WireReader.Slice(message, offset, length));

    /// <summary>Zero-pads so that the position relative to <paramref name="bodyStart"/> is a multiple of <paramref name="alignment"/>.</summary>
    public static void PadBody(WireWriter w, int bodyStart, int alignment)
    {
        int rel = w.Length - bodyStart;
        w.WriteZeros((alignment - rel % alignment) % alignment);
    }

    /// <summary>Header-relative offset of the writer's current position, given where the body began.</summary>
    public static int HeaderOffset(WireWriter w, int bodyStart) => BodyStart + (w.Length - bodyStart);
}
