using System.Buffers.Binary;
using static SmbCopy.Storage.Interop.Libc;

namespace SmbCopy.Storage.Local;

/// <summary>
/// Windows metadata on a POSIX file: times from statx, creation time and DOS attributes in user xattrs.
/// <list type="bullet">
/// <item><c>user.smbcopy.btime</c>: 8 bytes, little-endian FILETIME (100 ns since 1601 UTC), present when a client
/// set the creation time, or when the file system has no birth time (then written at creation).</item>
/// <item><c>user.smbcopy.dosattr</c>: 4 bytes, little-endian FILE_ATTRIBUTE_* bits (the settable ones and
/// SPARSE_FILE). Absent: a file is Archive, a directory has no extra attribute.</item>
/// </list>
/// </summary>
internal static unsafe class LocalMetadata
{
    public static ReadOnlySpan<byte> BtimeName => "user.smbcopy.btime\0"u8;
    public static ReadOnlySpan<byte> DosAttrName => "user.smbcopy.dosattr\0"u8;

    public const StorageFileAttributes Stored = StorageFileAttributes.Settable | StorageFileAttributes.SparseFile;

    private static readonly long MinFileTime = 0;
    private static readonly long MaxFileTime = DateTime.MaxValue.ToFileTimeUtc();

    public static DateTime ToDateTime(in StatxTimestamp t)
    {
        long ticks = t.Seconds * TimeSpan.TicksPerSecond + t.Nanoseconds / 100;
        long fileTime = ticks + (DateTime.UnixEpoch.Ticks - new DateTime(1601, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks);
        return FromFileTime(fileTime);
    }

    public static DateTime FromFileTime(long fileTime) =>
        DateTime.FromFileTimeUtc(Math.Clamp(fileTime, MinFileTime, MaxFileTime));

    public static Timespec ToTimespec(DateTime time)
    {
        long ticks = time.ToUniversalTime().Ticks - DateTime.UnixEpoch.Ticks;
        long seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long rest);
        if (rest < 0) { seconds--; rest += TimeSpan.TicksPerSecond; }
        return new Timespec { Seconds = seconds, Nanoseconds = rest * 100 };
    }

    /// <summary>Reads both xattrs from an open (non-O_PATH) descriptor.</summary>
    public static void ReadXattrs(int fd, out long? btime, out uint? dosAttributes)
    {
        btime = null; dosAttributes = null;
        byte* buf = stackalloc byte[16];
        fixed (byte* name = BtimeName)
            if (Fgetxattr(fd, name, buf, 16) == 8)
                btime = BinaryPrimitives.ReadInt64LittleEndian(new ReadOnlySpan<byte>(buf, 8));
        fixed (byte* name = DosAttrName)
            if (Fgetxattr(fd, name, buf, 16) == 4)
                dosAttributes = BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(buf, 4));
    }

    /// <summary>Reads both xattrs by path (NUL-terminated); <paramref name="follow"/> false does not follow a final link.</summary>
    public static void ReadXattrs(byte* path, bool follow, out long? btime, out uint? dosAttributes)
    {
        btime = null; dosAttributes = null;
        byte* buf = stackalloc byte[16];
        fixed (byte* name = BtimeName)
            if ((follow ? Getxattr(path, name, buf, 16) : Lgetxattr(path, name, buf, 16)) == 8)
                btime = BinaryPrimitives.ReadInt64LittleEndian(new ReadOnlySpan<byte>(buf, 8));
        fixed (byte* name = DosAttrName)
            if ((follow ? Getxattr(path, name, buf, 16) : Lgetxattr(path, name, buf, 16)) == 4)
                dosAttributes = BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(buf, 4));
    }

    public static void WriteDosAttributes(int fd, StorageFileAttributes attributes)
    {
        byte* buf = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(buf, 4), (uint)(attributes & Stored));
        fixed (byte* name = DosAttrName)
            if (Fsetxattr(fd, name, buf, 4, 0) != 0)
                throw Errno.Exception(Errno.Last, "Storing DOS attributes");
    }

    public static void WriteBirthTime(int fd, DateTime time)
    {
        byte* buf = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(new Span<byte>(buf, 8), time.ToUniversalTime().ToFileTimeUtc());
        fixed (byte* name = BtimeName)
            if (Fsetxattr(fd, name, buf, 8, 0) != 0)
                throw Errno.Exception(Errno.Last, "Storing the creation time");
    }

    /// <summary>The stored DOS attributes of a file/directory, or the default when none are stored.</summary>
    public static StorageFileAttributes StoredAttributes(bool isDirectory, uint? dosAttributes) =>
        dosAttributes is uint stored
            ? (StorageFileAttributes)stored & Stored
            : isDirectory ? StorageFileAttributes.None : StorageFileAttributes.Archive;

    public static FileMetadata Compose(in Statx st, long? btime, uint? dosAttributes)
    {
        bool isDirectory = st.FileType == S_IFDIR;
        DateTime creation = btime is long ft ? FromFileTime(ft)
            : st.HasBirthTime ? ToDateTime(st.BirthTime)
            : ToDateTime(st.ModifyTime);
        var attributes = StoredAttributes(isDirectory, dosAttributes);
        if (isDirectory)
            attributes |= StorageFileAttributes.Directory;
        if (attributes == StorageFileAttributes.None)
            attributes = StorageFileAttributes.Normal;
        return new FileMetadata(
            creation,
            ToDateTime(st.AccessTime),
            ToDateTime(st.ModifyTime),
            // ChangeTime is reported as the last write time, as Samba does: POSIX ctime cannot be set,
            // and Windows clients (and smbtorture smb2.timestamps) set and compare it.
            ToDateTime(st.ModifyTime),
            attributes,
            isDirectory ? 0 : (long)st.Size,
            isDirectory ? 0 : (long)st.Blocks * 512,
            st.Inode,
            isDirectory ? 1u : st.LinkCount,
            isDirectory);
    }
}
