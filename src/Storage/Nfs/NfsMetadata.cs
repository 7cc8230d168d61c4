using System.Buffers.Binary;

namespace SmbCopy.Storage.Nfs;

/// <summary>
/// Windows metadata over NFS. Kept in the same user extended attributes as the local driver (RFC 8276 xattrs; the
/// Linux server stores key K as <c>user.K</c>), so one file system can be shared by both drivers:
/// <list type="bullet">
/// <item><c>smbcopy.dosattr</c>: 4 bytes, little-endian FILE_ATTRIBUTE_* (settable bits and SPARSE_FILE). Absent: a
/// file is Archive, a directory has nothing else.</item>
/// <item><c>smbcopy.btime</c>: 8 bytes, little-endian FILETIME: the creation time (written at creation and when a
/// client sets it; the server's time_create cannot be set over NFS). Absent: time_create (attr 50), else time_modify.</item>
/// </list>
/// ReadOnly is also the POSIX mode: a file without any write bit (0222) is read-only; setting ReadOnly clears the
/// write bits, clearing it gives the owner write permission back.
/// </summary>
internal static class NfsMetadata
{
    public const string DosAttrKey = "smbcopy.dosattr";
    public const string BirthTimeKey = "smbcopy.btime";
    public const StorageFileAttributes Stored = StorageFileAttributes.Settable | StorageFileAttributes.SparseFile;
    public const uint FileMode = 0x1A4;      // 0644
    public const uint DirectoryMode = 0x1ED; // 0755

    public static byte[] EncodeDos(StorageFileAttributes attributes)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)(attributes & Stored));
        return b;
    }

    public static byte[] EncodeTime(DateTime time)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(b, time.ToUniversalTime().ToFileTimeUtc());
        return b;
    }

    public static uint? DecodeDos(ReadOnlySpan<byte> value) =>
        value.Length == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(value) : null;

    public static long? DecodeTime(ReadOnlySpan<byte> value) =>
        value.Length == 8 ? BinaryPrimitives.ReadInt64LittleEndian(value) : null;

    public static StorageFileAttributes StoredAttributes(bool isDirectory, uint? dos, uint? mode)
    {
        var a = dos is uint stored ? (StorageFileAttributes)stored & Stored
            : isDirectory ? StorageFileAttributes.None : StorageFileAttributes.Archive;
        if (!isDirectory && mode is uint m && (m & 0x92) == 0)
            a |= StorageFileAttributes.ReadOnly;
        return a;
    }

    public static FileMetadata Compose(NfsAttributes attrs, uint? dos, long? btime)
    {
        bool isDirectory = attrs.IsDirectory;
        var modify = NfsAttributes.ToDateTime(attrs.TimeModify);
        DateTime creation = btime is long ft ? NfsAttributes.FromFileTime(ft)
            : attrs.TimeCreate is not null ? NfsAttributes.ToDateTime(attrs.TimeCreate)
            : modify;
        var attributes = StoredAttributes(isDirectory, dos, attrs.Mode);
        if (isDirectory)
            attributes |= StorageFileAttributes.Directory;
        if (attributes == StorageFileAttributes.None)
            attributes = StorageFileAttributes.Normal;
        return new FileMetadata(
            creation,
            NfsAttributes.ToDateTime(attrs.TimeAccess),
            modify,
            NfsAttributes.ToDateTime(attrs.TimeMetadata ?? attrs.TimeModify),
            attributes,
            isDirectory ? 0 : (long)Math.Min(attrs.Size ?? 0, long.MaxValue),
            isDirectory ? 0 : (long)Math.Min(attrs.SpaceUsed ?? 0, long.MaxValue),
            attrs.FileId ?? 0,
            isDirectory ? 1u : attrs.NumLinks ?? 1,
            isDirectory);
    }
}

/// <summary>
/// Case-insensitive name maps of directories, keyed by file handle and revalidated by the directory's change
/// attribute; updated in place from the change_info4 of this client's own changes when the server says they were
/// atomic (so creating many files in one directory does not rescan it each time).
/// </summary>
internal sealed class NfsNameCache
{
    private const int MaxDirectories = 256;
    private readonly Dictionary<string, Entry> _dirs = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    private sealed class Entry
    {
        public ulong Change;
        public bool Collisions;
        public readonly Dictionary<string, string> Names = new(StringComparer.OrdinalIgnoreCase);
    }

    public static string Key(byte[] fh) => Convert.ToHexString(fh);

    /// <summary>True when the map for <paramref name="dir"/> is current; <paramref name="actual"/> is the stored name or null.</summary>
    public bool TryFind(string dir, ulong change, string name, out string? actual)
    {
        lock (_lock)
        {
            actual = null;
            if (!_dirs.TryGetValue(dir, out var e) || e.Change != change)
                return false;
            e.Names.TryGetValue(name, out actual);
            return true;
        }
    }

    public string? Set(string dir, ulong change, IEnumerable<string> names, string lookup)
    {
        var e = new Entry { Change = change };
        foreach (var n in names)
            if (!e.Names.TryAdd(n, n))
                e.Collisions = true;
        lock (_lock)
        {
            if (_dirs.Count >= MaxDirectories)
                _dirs.Clear();
            _dirs[dir] = e;
        }
        return e.Names.TryGetValue(lookup, out var actual) ? actual : null;
    }

    public void Changed(string dir, NfsOps.ChangeInfo change, string? added, string? removed)
    {
        lock (_lock)
        {
            if (!_dirs.TryGetValue(dir, out var e))
                return;
            if (!change.Atomic || e.Change != change.Before || (removed is not null && e.Collisions))
            {
                _dirs.Remove(dir);
                return;
            }
            if (removed is not null && e.Names.TryGetValue(removed, out var r) && r == removed)
                e.Names.Remove(removed);
            if (added is not null && !e.Names.TryAdd(added, added))
                e.Collisions = true;
            e.Change = change.After;
        }
    }

    public void Invalidate(string dir)
    {
        lock (_lock) _dirs.Remove(dir);
    }
}
