using System.Text;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Fscc;

// Query-side file information classes (MS-FSCC 2.4). Each WriteTo writes the whole structure;
// QUERY_INFO truncation (INFO_LENGTH_MISMATCH below FixedSize, BUFFER_OVERFLOW for a cut name) is the handler's job.

/// <summary>FileBasicInformation (4), 40 bytes. Also the SET_INFO form (0 = unchanged, -1 freeze, -2 resume; attributes 0 = unchanged).</summary>
public readonly record struct FileBasicInformation(long CreationTime, long LastAccessTime, long LastWriteTime, long ChangeTime, FileAttributes FileAttributes)
{
    public const int Size = 40;
    /// <summary>SET_INFO accepts 36 (no trailing Reserved) as Windows does; shorter → INFO_LENGTH_MISMATCH.</summary>
    public const int MinimumSize = 36;

    public void WriteTo(WireWriter w)
    {
        w.WriteInt64(CreationTime);
        w.WriteInt64(LastAccessTime);
        w.WriteInt64(LastWriteTime);
        w.WriteInt64(ChangeTime);
        w.WriteUInt32((uint)FileAttributes);
        w.WriteUInt32(0);
    }

    public static FileBasicInformation Parse(ReadOnlySpan<byte> buffer)
    {
        var r = new WireReader(buffer);
        return new FileBasicInformation(r.ReadInt64(), r.ReadInt64(), r.ReadInt64(), r.ReadInt64(), (FileAttributes)r.ReadUInt32());
    }
}

/// <summary>FileStandardInformation (5), 24 bytes.</summary>
public readonly record struct FileStandardInformation(long AllocationSize, long EndOfFile, uint NumberOfLinks, bool DeletePending, bool Directory)
{
    public const int Size = 24;

    public void WriteTo(WireWriter w)
    {
        w.WriteInt64(AllocationSize);
        w.WriteInt64(EndOfFile);
        w.WriteUInt32(NumberOfLinks);
        w.WriteByte(DeletePending ? (byte)1 : (byte)0);
        w.WriteByte(Directory ? (byte)1 : (byte)0);
        w.WriteUInt16(0);
    }
}

/// <summary>FileInternalInformation (6): IndexNumber(8), the 64-bit file id.</summary>
public readonly record struct FileInternalInformation(ulong IndexNumber)
{
    public const int Size = 8;
    public void WriteTo(WireWriter w) => w.WriteUInt64(IndexNumber);
}

/// <summary>FileEaInformation (7): EaSize(4).</summary>
public readonly record struct FileEaInformation(uint EaSize)
{
    public const int Size = 4;
    public void WriteTo(WireWriter w) => w.WriteUInt32(EaSize);
}

/// <summary>FileAccessInformation (8): AccessFlags(4) = the open's granted access.</summary>
public readonly record struct FileAccessInformation(AccessMask AccessFlags)
{
    public const int Size = 4;
    public void WriteTo(WireWriter w) => w.WriteUInt32((uint)AccessFlags);
}

/// <summary>FilePositionInformation (14): CurrentByteOffset(8). Query and set form.</summary>
public readonly record struct FilePositionInformation(long CurrentByteOffset)
{
    public const int Size = 8;
    public const int MinimumSize = 8;
    public void WriteTo(WireWriter w) => w.WriteInt64(CurrentByteOffset);
    public static FilePositionInformation Parse(ReadOnlySpan<byte> buffer) => new(new WireReader(buffer).ReadInt64());
}

/// <summary>FileModeInformation (16): Mode(4) (WRITE_THROUGH, SEQUENTIAL_ONLY, NO_INTERMEDIATE_BUFFERING, SYNCHRONOUS_IO_*, DELETE_ON_CLOSE bits). Query and set form.</summary>
public readonly record struct FileModeInformation(uint Mode)
{
    public const int Size = 4;
    public const int MinimumSize = 4;
    public void WriteTo(WireWriter w) => w.WriteUInt32(Mode);
    public static FileModeInformation Parse(ReadOnlySpan<byte> buffer) => new(new WireReader(buffer).ReadUInt32());
}

/// <summary>FileAlignmentInformation (17): AlignmentRequirement(4), 0 = byte aligned.</summary>
public readonly record struct FileAlignmentInformation(uint AlignmentRequirement)
{
    public const int Size = 4;
    public void WriteTo(WireWriter w) => w.WriteUInt32(AlignmentRequirement);
}

/// <summary>
/// FILE_NAME_INFORMATION layout: FileNameLength(4) FileName. Used for FileAlternateNameInformation (21),
/// FileNormalizedNameInformation (48) and the name tail of FileAllInformation.
/// </summary>
public readonly record struct FileNameInformation(string FileName)
{
    public const int FixedSize = 4;

    public void WriteTo(WireWriter w)
    {
        string name = FileName ?? "";
        w.WriteUInt32((uint)Encoding.Unicode.GetByteCount(name));
        w.WriteUtf16(name);
    }

    public static FileNameInformation Parse(ReadOnlySpan<byte> buffer)
    {
        var r = new WireReader(buffer);
        uint length = r.ReadUInt32();
        return new FileNameInformation(WireReader.Utf16(WireReader.Slice(buffer, 4, length)));
    }
}

/// <summary>FileAllInformation (18): Basic@0 Standard@40 Internal@64 Ea@72 Access@76 Position@80 Mode@88 Alignment@92 Name@96 (100 + name bytes).</summary>
public readonly record struct FileAllInformation(
    FileBasicInformation Basic,
    FileStandardInformation Standard,
    FileInternalInformation Internal,
    FileEaInformation Ea,
    FileAccessInformation Access,
    FilePositionInformation Position,
    FileModeInformation Mode,
    FileAlignmentInformation Alignment,
    string FileName)
{
    public const int FixedSize = 100;

    public void WriteTo(WireWriter w)
    {
        Basic.WriteTo(w);
        Standard.WriteTo(w);
        Internal.WriteTo(w);
        Ea.WriteTo(w);
        Access.WriteTo(w);
        Position.WriteTo(w);
        Mode.WriteTo(w);
        Alignment.WriteTo(w);
        new FileNameInformation(FileName ?? "").WriteTo(w);
    }
}

/// <summary>One FILE_STREAM_INFORMATION entry (22). Name e.g. "::$DATA" for the unnamed stream, ":s:$DATA" for named ones.</summary>
public readonly record struct FileStreamEntry(string StreamName, long StreamSize, long StreamAllocationSize);

/// <summary>FileStreamInformation (22): chained 8-aligned entries NextEntryOffset(4) StreamNameLength(4) StreamSize(8) StreamAllocationSize(8) StreamName.</summary>
public static class FileStreamInformation
{
    public const int EntryFixedSize = 24;

    public static void Write(WireWriter w, IReadOnlyList<FileStreamEntry> streams)
    {
        int start = w.Length;
        int previous = -1;
        foreach (var s in streams)
        {
            if (previous >= 0)
            {
                Pad(w, start, 8);
                w.PatchUInt32(previous, (uint)(w.Length - previous));
            }
            previous = w.Length;
            w.WriteUInt32(0);
            w.WriteUInt32((uint)Encoding.Unicode.GetByteCount(s.StreamName));
            w.WriteInt64(s.StreamSize);
            w.WriteInt64(s.StreamAllocationSize);
            w.WriteUtf16(s.StreamName);
        }
    }

    internal static void Pad(WireWriter w, int start, int alignment)
    {
        int rel = w.Length - start;
        int pad = (alignment - rel % alignment) % alignment;
        w.WriteZeros(pad);
    }
}

/// <summary>FileCompressionInformation (28), 16 bytes.</summary>
public readonly record struct FileCompressionInformation(long CompressedFileSize, ushort CompressionFormat, byte CompressionUnitShift, byte ChunkShift, byte ClusterShift)
{
    public const int Size = 16;

    public void WriteTo(WireWriter w)
    {
        w.WriteInt64(CompressedFileSize);
        w.WriteUInt16(CompressionFormat);
        w.WriteByte(CompressionUnitShift);
        w.WriteByte(ChunkShift);
        w.WriteByte(ClusterShift);
        w.WriteZeros(3);
    }
}

/// <summary>FileNetworkOpenInformation (34), 56 bytes.</summary>
public readonly record struct FileNetworkOpenInformation(long CreationTime, long LastAccessTime, long LastWriteTime, long ChangeTime, long AllocationSize, long EndOfFile, FileAttributes FileAttributes)
{
    public const int Size = 56;

    public void WriteTo(WireWriter w)
    {
        w.WriteInt64(CreationTime);
        w.WriteInt64(LastAccessTime);
        w.WriteInt64(LastWriteTime);
        w.WriteInt64(ChangeTime);
        w.WriteInt64(AllocationSize);
        w.WriteInt64(EndOfFile);
        w.WriteUInt32((uint)FileAttributes);
        w.WriteUInt32(0);
    }
}

/// <summary>FileAttributeTagInformation (35): FileAttributes(4) ReparseTag(4).</summary>
public readonly record struct FileAttributeTagInformation(FileAttributes FileAttributes, uint ReparseTag)
{
    public const int Size = 8;

    public void WriteTo(WireWriter w)
    {
        w.WriteUInt32((uint)FileAttributes);
        w.WriteUInt32(ReparseTag);
    }
}

/// <summary>FileIdInformation (59): VolumeSerialNumber(8) FileId(16, FILE_ID_128 little-endian).</summary>
public readonly record struct FileIdInformation(ulong VolumeSerialNumber, UInt128 FileId)
{
    public const int Size = 24;

    public void WriteTo(WireWriter w)
    {
        w.WriteUInt64(VolumeSerialNumber);
        FsccWire.WriteUInt128(w, FileId);
    }
}

internal static class FsccWire
{
    public static void WriteUInt128(WireWriter w, UInt128 value)
    {
        w.WriteUInt64((ulong)value);
        w.WriteUInt64((ulong)(value >> 64));
    }

    public static UInt128 ReadUInt128(ref WireReader r)
    {
        ulong low = r.ReadUInt64();
        ulong high = r.ReadUInt64();
        return new UInt128(high, low);
    }
}
