using System.Runtime.InteropServices;

namespace SmbCopy.Storage.Interop;

/// <summary>
/// libc and Linux system calls that .NET lacks. 64-bit Linux only (x64, arm64). Every call sets the last P/Invoke
/// error (errno); read it with <see cref="Marshal.GetLastPInvokeError"/> right after a failure.
/// </summary>
internal static unsafe partial class Libc
{
    private const string Lib = "libc";

    // ----- open flags (x64 and arm64 differ for O_DIRECTORY / O_NOFOLLOW) -----
    public const int O_RDONLY = 0x0;
    public const int O_WRONLY = 0x1;
    public const int O_RDWR = 0x2;
    public const int O_CREAT = 0x40;
    public const int O_EXCL = 0x80;
    public const int O_NOCTTY = 0x100;
    public const int O_TRUNC = 0x200;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;
    public const int O_PATH = 0x200000;
    private const int __O_TMPFILE = 0x400000;
    public static readonly int O_DIRECTORY = IsArm ? 0x4000 : 0x10000;
    public static readonly int O_NOFOLLOW = IsArm ? 0x8000 : 0x20000;
    public static readonly int O_TMPFILE = __O_TMPFILE | O_DIRECTORY;

    private static bool IsArm =>
        RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm;

    // ----- openat2 resolve flags -----
    public const ulong RESOLVE_NO_MAGICLINKS = 0x02;
    public const ulong RESOLVE_BENEATH = 0x08;

    // ----- *at flags -----
    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const int AT_REMOVEDIR = 0x200;
    public const int AT_EMPTY_PATH = 0x1000;

    // ----- statx -----
    public const uint STATX_BASIC_STATS = 0x7ff;
    public const uint STATX_BTIME = 0x800;

    // ----- file types (st_mode & S_IFMT) -----
    public const int S_IFMT = 0xF000;
    public const int S_IFIFO = 0x1000;
    public const int S_IFCHR = 0x2000;
    public const int S_IFDIR = 0x4000;
    public const int S_IFREG = 0x8000;
    public const int S_IFLNK = 0xA000;

    // ----- getdents64 d_type -----
    public const byte DT_UNKNOWN = 0;
    public const byte DT_DIR = 4;
    public const byte DT_REG = 8;
    public const byte DT_LNK = 10;

    // ----- renameat2 -----
    public const uint RENAME_NOREPLACE = 1;

    // ----- fallocate -----
    public const int FALLOC_FL_KEEP_SIZE = 0x01;
    public const int FALLOC_FL_PUNCH_HOLE = 0x02;

    // ----- utimensat -----
    public const long UTIME_OMIT = (1L << 30) - 2;

    // ----- fcntl -----
    public const int F_GETFL = 3;
    public const int F_SETFL = 4;

    // ----- ioctl -----
    public const ulong FICLONERANGE = 0x4020940D;
    public const ulong FS_IOC_GETFLAGS = 0x80086601;
    public const int FS_CASEFOLD_FL = 0x40000000;

    // ----- errno -----
    public const int EPERM = 1, ENOENT = 2, E2BIG = 7, EINTR = 4, EIO = 5, ENXIO = 6, EBADF = 9, EAGAIN = 11, ENOMEM = 12,
        EACCES = 13, EBUSY = 16, EEXIST = 17, EXDEV = 18, ENODEV = 19, ENOTDIR = 20, EISDIR = 21, EINVAL = 22,
        ENFILE = 23, EMFILE = 24, ENOTTY = 25, ETXTBSY = 26, EFBIG = 27, ENOSPC = 28, EROFS = 30, EMLINK = 31,
        ERANGE = 34, ENAMETOOLONG = 36, ENOSYS = 38, ENOTEMPTY = 39, ELOOP = 40, ENODATA = 61,
        EOPNOTSUPP = 95, EDQUOT = 122, ESTALE = 116;

    private const long SYS_openat2 = 437;

    [StructLayout(LayoutKind.Sequential)]
    public struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct StatxTimestamp
    {
        public long Seconds;
        public uint Nanoseconds;
        private readonly int _reserved;
    }

    /// <summary>struct statx (256 bytes).</summary>
    [StructLayout(LayoutKind.Sequential, Size = 256)]
    public struct Statx
    {
        public uint Mask;
        public uint BlockSize;
        public ulong Attributes;
        public uint LinkCount;
        public uint Uid;
        public uint Gid;
        public ushort Mode;
        private readonly ushort _spare0;
        public ulong Inode;
        public ulong Size;
        public ulong Blocks;
        public ulong AttributesMask;
        public StatxTimestamp AccessTime;
        public StatxTimestamp BirthTime;
        public StatxTimestamp ChangeTime;
        public StatxTimestamp ModifyTime;
        public uint RdevMajor;
        public uint RdevMinor;
        public uint DevMajor;
        public uint DevMinor;

        public readonly int FileType => Mode & S_IFMT;
        public readonly bool HasBirthTime => (Mask & STATX_BTIME) != 0;
    }

    /// <summary>struct statfs (64-bit Linux).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct StatFs
    {
        public long Type;
        public long BlockSize;
        public ulong Blocks;
        public ulong FreeBlocks;
        public ulong AvailableBlocks;
        public ulong Files;
        public ulong FreeFiles;
        public int FsId0;
        public int FsId1;
        public long NameLength;
        public long FragmentSize;
        public long Flags;
        private fixed long _spare[4];
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct FileCloneRange
    {
        public long SourceFd;
        public ulong SourceOffset;
        public ulong SourceLength;
        public ulong DestinationOffset;
    }

    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    private static partial long SyscallOpenat2(long number, int dirfd, byte* path, OpenHow* how, nuint size);

    /// <summary>openat2(2); returns the fd or -1.</summary>
    public static int Openat2(int dirfd, string path, ulong flags, ulong mode, ulong resolve)
    {
        var how = new OpenHow { Flags = flags, Mode = mode, Resolve = resolve };
        int max = System.Text.Encoding.UTF8.GetMaxByteCount(path.Length) + 1;
        Span<byte> buffer = max <= 1024 ? stackalloc byte[max] : new byte[max];
        int len = System.Text.Encoding.UTF8.GetBytes(path, buffer);
        buffer[len] = 0;
        fixed (byte* p = buffer)
        {
            while (true)
            {
                long r = SyscallOpenat2(SYS_openat2, dirfd, p, &how, (nuint)sizeof(OpenHow));
                if (r >= 0 || Marshal.GetLastPInvokeError() != EINTR)
                    return (int)r;
            }
        }
    }

    [LibraryImport(Lib, EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Openat(int dirfd, string path, int flags, int mode);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Lib, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int StatxCall(int dirfd, string path, int flags, uint mask, out Statx buffer);

    [LibraryImport(Lib, EntryPoint = "statx", SetLastError = true)]
    public static partial int StatxRaw(int dirfd, byte* path, int flags, uint mask, out Statx buffer);

    [LibraryImport(Lib, EntryPoint = "openat", SetLastError = true)]
    public static partial int OpenatRaw(int dirfd, byte* path, int flags, int mode);

    [LibraryImport(Lib, EntryPoint = "fstatfs", SetLastError = true)]
    public static partial int Fstatfs(int fd, out StatFs buffer);

    [LibraryImport(Lib, EntryPoint = "getdents64", SetLastError = true)]
    public static partial nint Getdents64(int fd, byte* buffer, nuint count);

    [LibraryImport(Lib, EntryPoint = "fgetxattr", SetLastError = true)]
    public static partial nint Fgetxattr(int fd, byte* name, byte* value, nuint size);

    [LibraryImport(Lib, EntryPoint = "getxattr", SetLastError = true)]
    public static partial nint Getxattr(byte* path, byte* name, byte* value, nuint size);

    [LibraryImport(Lib, EntryPoint = "lgetxattr", SetLastError = true)]
    public static partial nint Lgetxattr(byte* path, byte* name, byte* value, nuint size);

    [LibraryImport(Lib, EntryPoint = "fsetxattr", SetLastError = true)]
    public static partial int Fsetxattr(int fd, byte* name, byte* value, nuint size, int flags);

    [LibraryImport(Lib, EntryPoint = "flistxattr", SetLastError = true)]
    public static partial nint Flistxattr(int fd, byte* list, nuint size);

    [LibraryImport(Lib, EntryPoint = "fremovexattr", SetLastError = true)]
    public static partial int Fremovexattr(int fd, byte* name);

    public const int XATTR_CREATE = 1;

    [LibraryImport(Lib, EntryPoint = "fsync", SetLastError = true)]
    public static partial int Fsync(int fd);

    [LibraryImport(Lib, EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int Ftruncate(int fd, long length);

    [LibraryImport(Lib, EntryPoint = "fallocate", SetLastError = true)]
    public static partial int Fallocate(int fd, int mode, long offset, long length);

    [LibraryImport(Lib, EntryPoint = "futimens", SetLastError = true)]
    public static partial int Futimens(int fd, Timespec* times);

    [LibraryImport(Lib, EntryPoint = "mkdirat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mkdirat(int dirfd, string path, int mode);

    [LibraryImport(Lib, EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Unlinkat(int dirfd, string path, int flags);

    [LibraryImport(Lib, EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Renameat2(int olddirfd, string oldpath, int newdirfd, string newpath, uint flags);

    [LibraryImport(Lib, EntryPoint = "mknodat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mknodat(int dirfd, string path, int mode, ulong dev);

    [LibraryImport(Lib, EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int cmd, int arg);

    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, ulong request, void* arg);

    [LibraryImport(Lib, EntryPoint = "copy_file_range", SetLastError = true)]
    public static partial nint CopyFileRange(int fdIn, long* offIn, int fdOut, long* offOut, nuint length, uint flags);

    /// <summary>makedev(3).</summary>
    public static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) |
        ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);
}
