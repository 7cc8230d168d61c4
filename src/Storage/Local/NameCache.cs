using static SmbCopy.Storage.Interop.Libc;

namespace SmbCopy.Storage.Local;

/// <summary>
/// Case-insensitive name lookup for a case-sensitive file system. Per directory (device, inode) it keeps the names
/// folded with ordinal ignore case, stamped with the directory's ctime and mtime; a lookup whose stamp differs
/// rescans the directory. Changes the driver makes itself update the map in place (so creating 10,000 files in one
/// directory does not rescan it 10,000 times): the stamp before the change must equal the cached one, the stamp after
/// it becomes the new one.
/// <para>Limit: a change by another process between the two stamps of one of ours, or (on kernels without
/// fine-grained timestamps, before 6.13) within the same clock tick as our scan, is noticed only at the directory's
/// next change. A stale positive answer is harmless (the open then fails and the caller rescans).</para>
/// </summary>
internal sealed class NameCache(int maxDirectories = 1024)
{
    public readonly record struct Key(uint DevMajor, uint DevMinor, ulong Inode);

    public readonly record struct Stamp(long CSec, uint CNsec, long MSec, uint MNsec);

    public readonly record struct State(Key Directory, Stamp Stamp);

    private sealed class Entry(Stamp stamp, Dictionary<string, string> names, bool collisions)
    {
        public Stamp Stamp = stamp;
        public readonly Dictionary<string, string> Names = names;
        public bool Collisions = collisions;
    }

    private readonly Dictionary<Key, Entry> _directories = [];
    private readonly Lock _lock = new();

    public static State Observe(int directoryFd)
    {
        if (StatxCall(directoryFd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, out var st) != 0)
            throw Errno.Exception(Errno.Last, "Reading a directory's status");
        return new State(new Key(st.DevMajor, st.DevMinor, st.Inode),
            new Stamp(st.ChangeTime.Seconds, st.ChangeTime.Nanoseconds, st.ModifyTime.Seconds, st.ModifyTime.Nanoseconds));
    }

    /// <summary>The stored name equal to <paramref name="name"/> ignoring case, or null.</summary>
    public string? Find(int directoryFd, string name)
    {
        var state = Observe(directoryFd);
        lock (_lock)
        {
            if (_directories.TryGetValue(state.Directory, out var entry) && entry.Stamp == state.Stamp)
                return entry.Names.GetValueOrDefault(name);
        }
        var scanned = Scan(directoryFd, state.Stamp);
        lock (_lock)
        {
            if (_directories.Count >= maxDirectories)
                _directories.Clear();
            _directories[state.Directory] = scanned;
        }
        return scanned.Names.GetValueOrDefault(name);
    }

    /// <summary>Records a change made by the driver: <paramref name="before"/> was observed before it.</summary>
    public void Changed(int directoryFd, State before, string? added, string? removed)
    {
        State after;
        try { after = Observe(directoryFd); }
        catch (StorageException) { Invalidate(before); return; }
        lock (_lock)
        {
            if (!_directories.TryGetValue(before.Directory, out var entry))
                return;
            if (entry.Stamp != before.Stamp || (removed is not null && entry.Collisions))
            {
                _directories.Remove(before.Directory);
                return;
            }
            if (removed is not null && entry.Names.TryGetValue(removed, out var stored) && stored == removed)
                entry.Names.Remove(removed);
            if (added is not null && !entry.Names.TryAdd(added, added))
                entry.Collisions = true;
            entry.Stamp = after.Stamp;
        }
    }

    public void Invalidate(State state)
    {
        lock (_lock)
            _directories.Remove(state.Directory);
    }

    private static Entry Scan(int directoryFd, Stamp stamp)
    {
        int fd = Openat(directoryFd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0)
            throw Errno.Exception(Errno.Last, "Opening a directory");
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(DirectoryReader.BufferSize);
        var names = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        bool collisions = false;
        try
        {
            int n;
            while ((n = DirectoryReader.ReadBatch(fd, buffer)) > 0)
            {
                var batch = new DirectoryReader.Batch(buffer.AsSpan(0, n));
                while (batch.Next(out var raw, out _, out _))
                {
                    var name = DirectoryReader.DecodeName(raw);
                    if (name is not null && !names.TryAdd(name, name))
                        collisions = true;
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            Close(fd);
        }
        return new Entry(stamp, names, collisions);
    }
}
