using static SmbCopy.Storage.Interop.Libc;

namespace SmbCopy.Storage.Local;

/// <summary>Reads raw directory entries with getdents64 (no per-entry allocation until a name is kept).</summary>
internal static unsafe class DirectoryReader
{
    public const int BufferSize = 64 * 1024;

    /// <summary>Fills <paramref name="buffer"/> with the next batch of linux_dirent64 records; 0 at the end.</summary>
    public static int ReadBatch(int fd, byte[] buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                nint n = Getdents64(fd, p, (nuint)buffer.Length);
                if (n >= 0)
                    return (int)n;
                int errno = Errno.Last;
                if (errno != EINTR)
                    throw Errno.Exception(errno, "Reading a directory");
            }
        }
    }

    /// <summary>Walks the records of one batch.</summary>
    public ref struct Batch
    {
        private readonly ReadOnlySpan<byte> _data;
        private int _offset;

        public Batch(ReadOnlySpan<byte> data) { _data = data; _offset = 0; }

        /// <summary>Next entry other than "." and ".."; the name excludes the NUL.</summary>
        public bool Next(out ReadOnlySpan<byte> name, out byte type, out ulong inode)
        {
            while (_offset + 19 < _data.Length)
            {
                var record = _data[_offset..];
                inode = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(record);
                int length = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(record[16..]);
                type = record[18];
                var raw = record[19..length];
                int nul = raw.IndexOf((byte)0);
                name = nul >= 0 ? raw[..nul] : raw;
                _offset += length;
                if (length == 0)
                    break;
                if (name.SequenceEqual("."u8) || name.SequenceEqual(".."u8))
                    continue;
                return true;
            }
            name = default; type = 0; inode = 0;
            return false;
        }
    }

    /// <summary>Decodes a file name; null when it is not valid UTF-8 or not a valid Windows name.</summary>
    public static string? DecodeName(ReadOnlySpan<byte> name)
    {
        Span<char> chars = stackalloc char[512];
        var status = System.Text.Unicode.Utf8.ToUtf16(name, chars, out _, out int written, replaceInvalidSequences: false);
        if (status != System.Buffers.OperationStatus.Done)
            return null;
        var s = chars[..written];
        return StoragePath.IsValidComponent(s) ? s.ToString() : null;
    }

    /// <summary>True when the directory has no entry other than "." and "..".</summary>
    public static bool IsEmpty(int directoryFd)
    {
        int fd = Openat(directoryFd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0)
            throw Errno.Exception(Errno.Last, "Opening a directory");
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            while (true)
            {
                int n = ReadBatch(fd, buffer);
                if (n == 0)
                    return true;
                var batch = new Batch(buffer.AsSpan(0, n));
                if (batch.Next(out _, out _, out _))
                    return false;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            Close(fd);
        }
    }
}
