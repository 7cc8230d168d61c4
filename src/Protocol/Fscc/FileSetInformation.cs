using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Fscc;

// SET_INFO parsers (MS-FSCC 2.4). The handler compares the buffer length with MinimumSize first and
// answers STATUS_INFO_LENGTH_MISMATCH itself; Parse throws MalformedMessageException for a short
// buffer or an inner length that runs past the buffer.

/// <summary>
/// FileRenameInformation (10, SMB2 "TYPE_2" layout) and FileRenameInformationEx (65):
/// ReplaceIfExists(1)/Flags(4) Reserved RootDirectory(8)@8 FileNameLength(4)@16 FileName@20.
/// </summary>
public readonly record struct FileRenameInformation(bool ReplaceIfExists, RenameExFlags Flags, ulong RootDirectory, string FileName)
{
    public const int MinimumSize = 20;

    /// <summary>Class 10: only byte 0 counts (ReplaceIfExists); Flags is derived from it.</summary>
    public static FileRenameInformation Parse(ReadOnlySpan<byte> buffer) => Parse(buffer, extended: false);

    /// <summary>Class 65: Flags(4) at offset 0.</summary>
    public static FileRenameInformation ParseEx(ReadOnlySpan<byte> buffer) => Parse(buffer, extended: true);

    private static FileRenameInformation Parse(ReadOnlySpan<byte> buffer, bool extended)
    {
        if (buffer.Length < MinimumSize) throw new MalformedMessageException("rename information shorter than 20 bytes");
        var r = new WireReader(buffer);
        uint first = r.ReadUInt32();
        r.Seek(8);
        ulong root = r.ReadUInt64();
        uint nameLength = r.ReadUInt32();
        string name = WireReader.Utf16(WireReader.Slice(buffer, 20, nameLength));
        var flags = extended ? (RenameExFlags)first : ((first & 0xFF) != 0 ? RenameExFlags.ReplaceIfExists : RenameExFlags.None);
        return new FileRenameInformation((flags & RenameExFlags.ReplaceIfExists) != 0, flags, root, name);
    }
}

/// <summary>FileLinkInformation (11): same layout as rename (ReplaceIfExists(1) Reserved(7) RootDirectory(8) FileNameLength(4) FileName).</summary>
public readonly record struct FileLinkInformation(bool ReplaceIfExists, ulong RootDirectory, string FileName)
{
    public const int MinimumSize = 20;

    public static FileLinkInformation Parse(ReadOnlySpan<byte> buffer)
    {
        var rename = FileRenameInformation.Parse(buffer);
        return new FileLinkInformation(rename.ReplaceIfExists, rename.RootDirectory, rename.FileName);
    }
}

/// <summary>FileDispositionInformation (13): DeletePending(1).</summary>
public readonly record struct FileDispositionInformation(bool DeletePending)
{
    public const int MinimumSize = 1;
    public static FileDispositionInformation Parse(ReadOnlySpan<byte> buffer) => new(new WireReader(buffer).ReadByte() != 0);
}

/// <summary>FileDispositionInformationEx (64): Flags(4).</summary>
public readonly record struct FileDispositionInformationEx(DispositionExFlags Flags)
{
    public const int MinimumSize = 4;
    public static FileDispositionInformationEx Parse(ReadOnlySpan<byte> buffer) => new((DispositionExFlags)new WireReader(buffer).ReadUInt32());
}

/// <summary>FileAllocationInformation (19): AllocationSize(8).</summary>
public readonly record struct FileAllocationInformation(long AllocationSize)
{
    public const int MinimumSize = 8;
    public static FileAllocationInformation Parse(ReadOnlySpan<byte> buffer) => new(new WireReader(buffer).ReadInt64());
}

/// <summary>FileEndOfFileInformation (20): EndOfFile(8).</summary>
public readonly record struct FileEndOfFileInformation(long EndOfFile)
{
    public const int MinimumSize = 8;
    public static FileEndOfFileInformation Parse(ReadOnlySpan<byte> buffer) => new(new WireReader(buffer).ReadInt64());
}
