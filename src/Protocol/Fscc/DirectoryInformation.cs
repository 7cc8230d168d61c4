using System.Text;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Fscc;

/// <summary>
/// One directory entry as the store sees it; <see cref="DirectoryEntryWriter"/> lays it out for the
/// requested class. For classes with EaSize, the reparse tag goes there when
/// <see cref="FileAttributes.ReparsePoint"/> is set (MS-FSCC 2.4.x EaSize note).
/// </summary>
public sealed record DirectoryEntry
{
    public required string FileName { get; init; }
    /// <summary>8.3 name; empty or null = none (ShortNameLength 0). Cut to 12 UTF-16 units.</summary>
    public string? ShortName { get; init; }
    public uint FileIndex { get; init; }
    public long CreationTime { get; init; }
    public long LastAccessTime { get; init; }
    public long LastWriteTime { get; init; }
    public long ChangeTime { get; init; }
    public long EndOfFile { get; init; }
    public long AllocationSize { get; init; }
    public FileAttributes FileAttributes { get; init; }
    public uint EaSize { get; init; }
    public uint ReparseTag { get; init; }
    /// <summary>64-bit file id (classes 37, 38).</summary>
    public ulong FileId { get; init; }
    /// <summary>128-bit file id (class 60); null = <see cref="FileId"/> zero-extended.</summary>
    public UInt128? FileId128 { get; init; }
}

/// <summary>
/// Appends directory entries for QUERY_DIRECTORY (MS-FSCC 2.4.8, 2.4.14, 2.4.17, 2.4.18, 2.4.21, 2.4.22, 2.4.33)
/// to a <see cref="WireWriter"/>: each entry 8-aligned relative to the first, previous NextEntryOffset
/// patched, the last one 0, no padding after the last entry. An entry that would not fit in
/// OutputBufferLength is refused.
/// </summary>
public sealed class DirectoryEntryWriter
{
    private readonly WireWriter _writer;
    private readonly int _start;
    private readonly int _max;
    private int _lastEntry = -1;

    public DirectoryEntryWriter(WireWriter writer, FileInformationClass infoClass, int outputBufferLength)
    {
        if (!IsSupported(infoClass)) throw new ArgumentOutOfRangeException(nameof(infoClass), infoClass, "not a supported directory class");
        ArgumentOutOfRangeException.ThrowIfNegative(outputBufferLength);
        _writer = writer;
        _start = writer.Length;
        _max = outputBufferLength;
        InfoClass = infoClass;
    }

    public FileInformationClass InfoClass { get; }
    public int Count { get; private set; }
    /// <summary>Bytes written so far (no trailing padding).</summary>
    public int BytesWritten => _writer.Length - _start;

    public static bool IsSupported(FileInformationClass c) => c is FileInformationClass.Directory or FileInformationClass.FullDirectory
        or FileInformationClass.BothDirectory or FileInformationClass.Names or FileInformationClass.IdBothDirectory
        or FileInformationClass.IdFullDirectory or FileInformationClass.IdExtdDirectory;

    /// <summary>Offset of FileName in the entry = the fixed size (MS-FSA: smaller buffers → INFO_LENGTH_MISMATCH).</summary>
    public static int FixedSize(FileInformationClass c) => c switch
    {
        FileInformationClass.Directory => 64,
        FileInformationClass.FullDirectory => 68,
        FileInformationClass.BothDirectory => 94,
        FileInformationClass.Names => 12,
        FileInformationClass.IdBothDirectory => 104,
        FileInformationClass.IdFullDirectory => 80,
        FileInformationClass.IdExtdDirectory => 88,
        _ => throw new ArgumentOutOfRangeException(nameof(c), c, "not a supported directory class"),
    };

    public int EntrySize(DirectoryEntry e) => FixedSize(InfoClass) + Encoding.Unicode.GetByteCount(e.FileName);

    /// <summary>Appends the entry if it fits wholly (with alignment padding before it); false otherwise, nothing written.</summary>
    public bool TryAdd(DirectoryEntry entry)
    {
        int used = BytesWritten;
        int offset = Count == 0 ? 0 : (used + 7) & ~7;
        long size = EntrySize(entry);
        if (offset + size > _max) return false;
        Append(entry, offset, int.MaxValue);
        return true;
    }

    /// <summary>
    /// The MS-FSA single-entry overflow case: when nothing was written yet and the fixed part fits,
    /// writes the entry with FileNameLength = the full length but only the name bytes that fit
    /// (handler answers STATUS_BUFFER_OVERFLOW). Returns false when entries exist or the fixed part does not fit.
    /// </summary>
    public bool AddTruncatedFirst(DirectoryEntry entry)
    {
        if (Count != 0 || FixedSize(InfoClass) > _max) return false;
        Append(entry, 0, (_max - FixedSize(InfoClass)) & ~1);
        return true;
    }

    private void Append(DirectoryEntry e, int offset, int maxNameBytes)
    {
        var w = _writer;
        w.WriteZeros(offset - BytesWritten);
        int entryStart = w.Length;
        if (_lastEntry >= 0) w.PatchUInt32(_lastEntry, (uint)(entryStart - _lastEntry));
        _lastEntry = entryStart;
        Count++;

        byte[] name = Encoding.Unicode.GetBytes(e.FileName);
        uint eaOrTag = (e.FileAttributes & FileAttributes.ReparsePoint) != 0 ? e.ReparseTag : e.EaSize;
        w.WriteUInt32(0); // NextEntryOffset
        w.WriteUInt32(e.FileIndex);
        if (InfoClass == FileInformationClass.Names)
        {
            w.WriteUInt32((uint)name.Length);
        }
        else
        {
            w.WriteInt64(e.CreationTime);
            w.WriteInt64(e.LastAccessTime);
            w.WriteInt64(e.LastWriteTime);
            w.WriteInt64(e.ChangeTime);
            w.WriteInt64(e.EndOfFile);
            w.WriteInt64(e.AllocationSize);
            w.WriteUInt32((uint)e.FileAttributes);
            w.WriteUInt32((uint)name.Length);
            switch (InfoClass)
            {
                case FileInformationClass.Directory:
                    break;
                case FileInformationClass.FullDirectory:
                    w.WriteUInt32(eaOrTag);
                    break;
                case FileInformationClass.IdFullDirectory:
                    w.WriteUInt32(eaOrTag);
                    w.WriteUInt32(0);
                    w.WriteUInt64(e.FileId);
                    break;
                case FileInformationClass.BothDirectory:
                case FileInformationClass.IdBothDirectory:
                    w.WriteUInt32(eaOrTag);
                    WriteShortName(w, e.ShortName);
                    if (InfoClass == FileInformationClass.IdBothDirectory)
                    {
                        w.WriteUInt16(0);
                        w.WriteUInt64(e.FileId);
                    }
                    break;
                case FileInformationClass.IdExtdDirectory:
                    w.WriteUInt32(e.EaSize);
                    w.WriteUInt32(e.ReparseTag);
                    FsccWire.WriteUInt128(w, e.FileId128 ?? e.FileId);
                    break;
            }
        }
        w.WriteBytes(name.AsSpan(0, Math.Min(name.Length, maxNameBytes)));
    }

    private static void WriteShortName(WireWriter w, string? shortName)
    {
        string s = shortName ?? "";
        if (s.Length > 12) s = s[..12];
        int count = Encoding.Unicode.GetByteCount(s);
        w.WriteByte((byte)count);
        w.WriteByte(0);
        var field = w.GetSpan(24);
        field.Clear();
        Encoding.Unicode.GetBytes(s, field);
    }
}

/// <summary>
/// FILE_NOTIFY_INFORMATION (MS-FSCC 2.7.1) chain for CHANGE_NOTIFY: NextEntryOffset(4) Action(4)
/// FileNameLength(4) FileName, entries 4-aligned, the last NextEntryOffset 0. Refuses entries beyond
/// the caller's OutputBufferLength (the handler then answers STATUS_NOTIFY_ENUM_DIR).
/// </summary>
public sealed class FileNotifyInformationWriter(WireWriter writer, int outputBufferLength)
{
    private readonly int _start = writer.Length;
    private int _lastEntry = -1;

    public int Count { get; private set; }
    public int BytesWritten => writer.Length - _start;

    public bool TryAdd(FileAction action, string fileName)
    {
        int offset = Count == 0 ? 0 : (BytesWritten + 3) & ~3;
        int nameBytes = Encoding.Unicode.GetByteCount(fileName);
        if ((long)offset + 12 + nameBytes > outputBufferLength) return false;
        writer.WriteZeros(offset - BytesWritten);
        int entryStart = writer.Length;
        if (_lastEntry >= 0) writer.PatchUInt32(_lastEntry, (uint)(entryStart - _lastEntry));
        _lastEntry = entryStart;
        writer.WriteUInt32(0);
        writer.WriteUInt32((uint)action);
        writer.WriteUInt32((uint)nameBytes);
        writer.WriteUtf16(fileName);
        Count++;
        return true;
    }
}
