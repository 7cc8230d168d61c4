using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SmbCopy.Storage.Iscsi.Scsi;

namespace SmbCopy.Storage.Iscsi.Volume;

/// <summary>Where and how a volume lives on its LUN.</summary>
/// <param name="Name">Share name, for logs.</param>
/// <param name="MetadataPath">SQLite file of the metadata store (bound to the LUN by the volume UUID).</param>
/// <param name="FirstLba">First block of the volume on the LUN (a LUN may hold several volumes).</param>
/// <param name="Blocks">Blocks of the volume; 0 = to the end of the LUN.</param>
/// <param name="Format">Make a new, empty volume even if one is there.</param>
/// <param name="ReadOnly">Refuse every change.</param>
/// <param name="UnitSize">Allocation unit in bytes at format (a power of two, a multiple of the block size).</param>
/// <param name="ExtendedCopy">Copy with EXTENDED COPY when the target can (false: always READ/WRITE through the
/// gateway — for comparisons, or a target whose copy manager misbehaves).</param>
public sealed record IscsiVolumeOptions(string Name, string MetadataPath, long FirstLba = 0, long Blocks = 0, bool Format = false,
    bool ReadOnly = false, int UnitSize = 64 * 1024, bool ExtendedCopy = true);

/// <summary>
/// A share on a LUN (docs/iscsi.md): file data in allocation units on the LUN, names / attributes / times / unit maps
/// / reference counts in a SQLite metadata store. Clones share units (metadata only, copy on write); range copies are
/// SCSI EXTENDED COPY between units. Operations are serialized by one gate (metadata single writer).
/// </summary>
public sealed class IscsiVolume : IStorageVolume
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<long, int> _opens = [];
    private readonly ILogger _logger;
    private readonly ScsiCopyEngine _copy;
    private readonly bool _readOnly;
    private readonly IAsyncDisposable? _owned;
    private bool[] _used = [];
    private long _cursor, _free;
    private bool _disposed;

    private static long s_sequence;
    /// <summary>Order in which two volumes' gates are taken (a copy between volumes holds both).</summary>
    private readonly long _sequence = Interlocked.Increment(ref s_sequence);

    private IscsiVolume(string name, ScsiBlockDevice device, MetadataStore store, Superblock sb, long firstLba, bool readOnly,
        IAsyncDisposable? owned, ILogger logger, bool extendedCopy)
    {
        Name = name;
        Device = device;
        Store = store;
        Superblock = sb;
        _readOnly = readOnly;
        _owned = owned;
        _logger = logger;
        _copy = new ScsiCopyEngine(logger) { UseExtendedCopy = extendedCopy };
        UnitSize = sb.UnitSize;
        BlocksPerUnit = sb.UnitSize / (int)sb.BlockSize;
        DataLba = firstLba + sb.DataOffsetBlocks;
    }

    public string Name { get; }
    public ScsiBlockDevice Device { get; }
    internal MetadataStore Store { get; }
    public Superblock Superblock { get; }
    public int UnitSize { get; }
    internal int BlocksPerUnit { get; }
    internal long DataLba { get; }

    public StorageCapabilities Capabilities => StorageCapabilities.CloneRange | StorageCapabilities.RangeCopy | StorageCapabilities.SparseFiles
        | StorageCapabilities.PersistentCreationTime | StorageCapabilities.PersistentDosAttributes;

    public int CloneAlignment => UnitSize;

    private long _extendedCopyBytes, _readWriteCopyBytes;

    /// <summary>Bytes this volume copied on the LUN(s) with EXTENDED COPY (range copies, copy on write).</summary>
    public long ExtendedCopyBytes => Interlocked.Read(ref _extendedCopyBytes);

    /// <summary>Bytes this volume copied with READ/WRITE through the gateway (no copy manager, or refused).</summary>
    public long ReadWriteCopyBytes => Interlocked.Read(ref _readWriteCopyBytes);

    /// <summary>What the consistency check found at mount.</summary>
    public ConsistencyReport MountCheck { get; private set; } = null!;

    /// <summary>Mounts (or formats) the volume on <paramref name="device"/>. <paramref name="owned"/> is disposed with
    /// the volume (the iSCSI client, when the driver made it).</summary>
    public static async Task<IscsiVolume> MountAsync(ScsiBlockDevice device, IscsiVolumeOptions options, IAsyncDisposable? owned = null,
        ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        logger ??= NullLogger.Instance;
        uint bs = device.BlockSize;
        if (options.UnitSize < bs || options.UnitSize % bs != 0 || (options.UnitSize & (options.UnitSize - 1)) != 0)
            throw new StorageException(StorageError.InvalidParameter, $"allocation unit {options.UnitSize} does not fit block size {bs}");
        long blocks = options.Blocks == 0 ? device.Blocks - options.FirstLba : options.Blocks;
        long areaBlocks = Superblock.AreaBytes / bs;
        if (options.FirstLba < 0 || blocks <= areaBlocks || options.FirstLba + blocks > device.Blocks)
            throw new StorageException(StorageError.InvalidParameter, "the volume does not fit on the LUN");
        long units = (blocks - areaBlocks) * bs / options.UnitSize;
        long copyB = options.FirstLba + Superblock.CopyDistanceBytes / bs;

        var a = new byte[bs];
        var b = new byte[bs];
        await device.ReadAsync(options.FirstLba, a, cancellationToken).ConfigureAwait(false);
        await device.ReadAsync(copyB, b, cancellationToken).ConfigureAwait(false);
        Superblock? sa = Superblock.Decode(a), sbB = Superblock.Decode(b);
        Superblock? sb = sa is null ? sbB : sbB is null ? sa : sa.Generation >= sbB.Generation ? sa : sbB;

        var store = MetadataStore.Open(options.MetadataPath);
        try
        {
            var row = store.ReadVolume();
            if (options.Format || (sb is null && row is null))
            {
                sb = new Superblock(Guid.NewGuid(), bs, options.UnitSize, areaBlocks, units, 1);
                await device.WriteAsync(options.FirstLba, sb.Encode((int)bs), fua: true, cancellationToken).ConfigureAwait(false);
                await device.WriteAsync(copyB, sb.Encode((int)bs), fua: true, cancellationToken).ConfigureAwait(false);
                var s = sb;
                store.InTransaction(() => { store.Format(s.Uuid, s.UnitSize, s.Units, Now()); return 0; });
                logger.LogInformation("iSCSI volume {Name}: formatted {Units} units of {Unit} bytes (UUID {Uuid})", options.Name, units,
                    options.UnitSize, sb.Uuid);
            }
            else
            {
                if (sb is null || row is null || row.Value.Uuid != sb.Uuid)
                    throw new StorageException(StorageError.InvalidParameter,
                        $"the metadata store {options.MetadataPath} does not belong to the volume on LUN {device.Lun} at LBA {options.FirstLba}");
                if (sb.BlockSize != bs) throw new StorageException(StorageError.InvalidParameter, "the LUN's block size changed");
                // the newer copy stays; the other one takes generation + 1 (a torn write leaves the newer intact)
                bool fromA = sa != null && (sbB == null || sa.Generation >= sbB.Generation);
                long target = fromA ? copyB : options.FirstLba;
                sb = sb with { Generation = sb.Generation + 1 };
                await device.WriteAsync(target, sb.Encode((int)bs), fua: true, cancellationToken).ConfigureAwait(false);
            }
            long schema = store.SchemaVersion;
            if (schema > MetadataStore.CurrentSchemaVersion)
                throw new StorageException(StorageError.InvalidParameter,
                    $"the metadata store {options.MetadataPath} has schema version {schema}; this gateway reads up to {MetadataStore.CurrentSchemaVersion}");
            if (schema < MetadataStore.CurrentSchemaVersion)
            {
                store.Migrate(); // per-unit rows (0/1) → extents and reference-count runs (2)
                logger.LogInformation("iSCSI volume {Name}: metadata migrated from schema version {From} to {To}", options.Name, schema,
                    MetadataStore.CurrentSchemaVersion);
            }
            var volume = new IscsiVolume(options.Name, device, store, sb, options.FirstLba, options.ReadOnly, owned, logger, options.ExtendedCopy);
            volume.LoadAllocation();
            return volume;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    private void LoadAllocation()
    {
        // names dropped while open when the gateway stopped (or killed): their units go back to free space; then the
        // reference counts are checked against the map (and repaired) before free space is derived from them
        MountCheck = Store.InTransaction(() =>
        {
            var orphans = Store.Orphans();
            foreach (var orphan in orphans) FreeNodeLocked(orphan, loadOnly: true);
            return Store.CheckAndRepair(Superblock.Units) with { OrphansReclaimed = orphans.Count };
        });
        if (MountCheck.Clean)
            _logger.LogInformation("iSCSI volume {Name}: consistency check: {Report}", Name, MountCheck);
        else
            _logger.LogWarning("iSCSI volume {Name}: consistency check: {Report} (repaired)", Name, MountCheck);
        _used = new bool[Superblock.Units];
        foreach (long u in Store.UsedUnits())
            if (u >= 0 && u < _used.Length) _used[u] = true;
        _free = _used.LongLength - _used.Count(x => x);
    }

    internal static long Now() => DateTime.UtcNow.ToFileTimeUtc();

    internal async Task<IDisposable> LockAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new Releaser(_gate);
    }

    internal IDisposable Lock()
    {
        _gate.Wait();
        return new Releaser(_gate);
    }

    private sealed class Releaser(SemaphoreSlim gate) : IDisposable
    {
        private int _done;
        public void Dispose() { if (Interlocked.Exchange(ref _done, 1) == 0) gate.Release(); }
    }

    internal void ThrowIfReadOnly()
    {
        if (_readOnly) throw new StorageException(StorageError.ReadOnly, "The share is read-only.");
    }

    // ------------------------------------------------------------------ allocation

    /// <summary>Allocates <paramref name="count"/> units, contiguous when free space allows (next fit).</summary>
    internal List<long> Allocate(int count)
    {
        if (count > _free) throw new StorageException(StorageError.NoSpace, "The volume is full.");
        var result = new List<long>(count);
        long n = _used.LongLength;
        // one contiguous run from the cursor if possible
        for (long start = _cursor, scanned = 0; scanned < n && result.Count == 0; )
        {
            long s = start % n;
            if (s + count <= n)
            {
                long run = 0;
                while (run < count && !_used[s + run]) run++;
                if (run == count)
                {
                    for (long i = 0; i < count; i++) { _used[s + i] = true; result.Add(s + i); }
                    break;
                }
                start = s + run + 1;
                scanned += run + 1;
            }
            else
            {
                scanned += n - s;
                start = 0;
            }
        }
        for (long s = _cursor; result.Count < count; s++)
        {
            long u = s % n;
            if (!_used[u]) { _used[u] = true; result.Add(u); }
        }
        _free -= count;
        _cursor = (result[^1] + 1) % n;
        return result;
    }

    /// <summary>Gives units back to free space (after their last reference went, or when a transaction failed).</summary>
    internal void FreeUnits(IEnumerable<long> units)
    {
        foreach (long u in units)
            if (u >= 0 && u < _used.Length && _used[u]) { _used[u] = false; _free++; }
    }

    internal long UnitLba(long unit) => DataLba + unit * BlocksPerUnit;

    /// <summary>A SCSI or iSCSI failure (after the initiator's reconnects and retries) as the storage contract's error:
    /// the sense key's meaning, or Unavailable when the target cannot be reached — a clean NTSTATUS for the client.</summary>
    internal static async Task Io(Task operation)
    {
        try { await operation.ConfigureAwait(false); }
        catch (Initiator.IscsiException e) { throw Translate(e); }
    }

    internal static async Task<T> Io<T>(Task<T> operation)
    {
        try { return await operation.ConfigureAwait(false); }
        catch (Initiator.IscsiException e) { throw Translate(e); }
    }

    private static StorageException Translate(Initiator.IscsiException e) =>
        new(e is ScsiCommandException c ? c.ToStorageError() : StorageError.Unavailable, "iSCSI: " + e.Message, e);

    /// <summary>Drops one reference of each unit; frees those that reach 0.</summary>
    internal void ReleaseUnits(IEnumerable<long> units)
    {
        foreach (long u in units)
            if (Store.Release(u)) FreeUnits([u]);
    }

    // ------------------------------------------------------------------ byte I/O on the LUN

    /// <summary>Reads bytes at an absolute byte offset of the LUN (block-aligned reads, partial blocks trimmed).</summary>
    internal async Task ReadBytesAsync(long byteOffset, Memory<byte> destination, CancellationToken ct)
    {
        uint bs = Device.BlockSize;
        if (byteOffset % bs == 0 && destination.Length % bs == 0)
        {
            await Io(Device.ReadAsync(byteOffset / bs, destination, ct)).ConfigureAwait(false);
            return;
        }
        long first = byteOffset / bs, last = (byteOffset + destination.Length + bs - 1) / bs;
        var tmp = new byte[(last - first) * bs];
        await Io(Device.ReadAsync(first, tmp, ct)).ConfigureAwait(false);
        tmp.AsMemory((int)(byteOffset - first * bs), destination.Length).CopyTo(destination);
    }

    /// <summary>Writes bytes at an absolute byte offset of the LUN (read-modify-write of partial blocks).</summary>
    internal async Task WriteBytesAsync(long byteOffset, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        uint bs = Device.BlockSize;
        if (byteOffset % bs == 0 && data.Length % bs == 0)
        {
            await Io(Device.WriteAsync(byteOffset / bs, data, cancellationToken: ct)).ConfigureAwait(false);
            return;
        }
        long first = byteOffset / bs, last = (byteOffset + data.Length + bs - 1) / bs;
        var tmp = new byte[(last - first) * bs];
        await Io(Device.ReadAsync(first, tmp, ct)).ConfigureAwait(false);
        data.CopyTo(tmp.AsMemory((int)(byteOffset - first * bs)));
        await Io(Device.WriteAsync(first, tmp, cancellationToken: ct)).ConfigureAwait(false);
    }

    /// <summary>Copies whole units inside the LUN (EXTENDED COPY; the engine falls back to READ/WRITE itself),
    /// physically contiguous pairs merged.</summary>
    internal async Task CopyUnitsAsync(IscsiVolume from, IReadOnlyList<(long From, long To)> pairs, CancellationToken ct)
    {
        for (int i = 0; i < pairs.Count;)
        {
            int j = i + 1;
            while (j < pairs.Count && pairs[j].From == pairs[j - 1].From + 1 && pairs[j].To == pairs[j - 1].To + 1) j++;
            var r = await Io(_copy.CopyAsync(from.Device, from.UnitLba(pairs[i].From), Device, UnitLba(pairs[i].To), (long)(j - i) * BlocksPerUnit, ct))
                .ConfigureAwait(false);
            Interlocked.Add(ref _extendedCopyBytes, r.ExtendedCopyBlocks * Device.BlockSize);
            Interlocked.Add(ref _readWriteCopyBytes, r.ReadWriteBlocks * Device.BlockSize);
            i = j;
        }
    }

    // ------------------------------------------------------------------ paths

    /// <summary>The result of walking a path: the final component's directory, its name, and the node if it exists.</summary>
    internal sealed record Resolved(Node Parent, IReadOnlyList<string> ParentNames, string Name, Node? Node);

    /// <summary>Walks <paramref name="components"/> from the root, case-insensitively, following symbolic links inside
    /// the volume (in the last component only when <paramref name="followLast"/>). Caller holds the gate.</summary>
    /// <exception cref="StorageException">PathNotFound for a missing or non-directory intermediate component;
    /// OutsideShare for a link that leads out of the volume (absolute, or too many ".."), or a loop.</exception>
    internal Resolved Resolve(IReadOnlyList<string> components, bool followLast)
    {
        var work = components.ToList();
        for (int hops = 0; ; hops++)
        {
            if (hops > 32) throw new StorageException(StorageError.OutsideShare, "Too many symbolic links.");
            var current = Store.GetNode(MetadataStore.RootId)!;
            var names = new List<string>();
            bool restarted = false;
            for (int i = 0; i < work.Count; i++)
            {
                bool last = i == work.Count - 1;
                if (!current.IsDirectory) throw new StorageException(StorageError.PathNotFound, "A directory of the path does not exist.");
                var child = Store.Lookup(current.Id, work[i]);
                if (last && (child is null || child.Kind != NodeKind.SymbolicLink || !followLast))
                    return new Resolved(current, names, work[i], child);
                if (child is null) throw new StorageException(StorageError.PathNotFound, "A directory of the path does not exist.");
                if (child.Kind == NodeKind.SymbolicLink)
                {
                    work = [.. LinkTarget(names, child.Target ?? ""), .. work.Skip(i + 1)];
                    restarted = true;
                    break;
                }
                if (!child.IsDirectory) throw new StorageException(StorageError.PathNotFound, "A directory of the path does not exist.");
                current = child;
                names.Add(child.Name!);
            }
            if (!restarted) throw new InvalidOperationException("empty path");
            if (work.Count == 0) throw new StorageException(StorageError.NotSupported, "A link to the share root cannot be opened.");
        }
    }

    /// <summary>The components a link's target names, from the root: absolute targets and ".." above the root leave
    /// the share.</summary>
    internal static List<string> LinkTarget(IReadOnlyList<string> linkDirectory, string target)
    {
        if (target.Length == 0 || target[0] is '/' or '\\' || (target.Length >= 2 && target[1] == ':'))
            throw new StorageException(StorageError.OutsideShare, "A symbolic link leads outside the share.");
        var result = linkDirectory.ToList();
        foreach (var part in target.Split('/', '\\'))
        {
            if (part.Length == 0 || part == ".") continue;
            if (part == "..")
            {
                if (result.Count == 0) throw new StorageException(StorageError.OutsideShare, "A symbolic link leads outside the share.");
                result.RemoveAt(result.Count - 1);
            }
            else result.Add(part);
        }
        return result;
    }

    /// <summary>The share path of a node ("" for the root), or null when it has no name any more.</summary>
    internal string? PathOfLocked(long id)
    {
        var parts = new List<string>();
        for (long cur = id; cur != MetadataStore.RootId;)
        {
            var n = Store.GetNode(cur);
            if (n?.Parent is not long parent) return null;
            parts.Add(n.Name!);
            cur = parent;
        }
        parts.Reverse();
        return string.Join(StoragePath.Separator, parts);
    }

    // ------------------------------------------------------------------ IStorageVolume

    public async ValueTask<VolumeInfo> GetVolumeInfoAsync(CancellationToken cancellationToken = default)
    {
        using var _ = await LockAsync(cancellationToken).ConfigureAwait(false);
        var id = Superblock.Uuid.ToByteArray();
        return new VolumeInfo(Superblock.Units * UnitSize, _free * UnitSize, UnitSize, "SMBCOPY-ISCSI", BitConverter.ToUInt32(id, 0), 255);
    }

    public async ValueTask<OpenResult> OpenAsync(string path, OpenRequest request, CancellationToken cancellationToken = default)
    {
        var components = StoragePath.Split(path);
        if (request.Disposition is < CreateDisposition.Supersede or > CreateDisposition.OverwriteIf)
            throw new StorageException(StorageError.InvalidParameter, "Unknown create disposition.");
        if (request.Kind == ObjectKind.Directory && request.Disposition is CreateDisposition.Overwrite or CreateDisposition.OverwriteIf
                or CreateDisposition.Supersede)
            throw new StorageException(StorageError.InvalidParameter, "A directory cannot be overwritten or superseded.");
        using var _ = await LockAsync(cancellationToken).ConfigureAwait(false);
        Node? node;
        Resolved? where = null;
        if (components.Length == 0) node = Store.GetNode(MetadataStore.RootId);
        else
        {
            where = Resolve(components, followLast: true);
            node = where.Node;
        }
        if (node is null)
        {
            if (request.Disposition is CreateDisposition.Open or CreateDisposition.Overwrite)
                throw new StorageException(StorageError.NotFound, "The file does not exist.");
            ThrowIfReadOnly();
            bool dir = request.Kind == ObjectKind.Directory;
            var attributes = request.Attributes & StorageFileAttributes.Settable;
            if (!dir) attributes |= StorageFileAttributes.Archive;
            long id = Store.InsertNode(where!.Parent.Id, where.Name, dir ? NodeKind.Directory : NodeKind.File, (uint)attributes, Now());
            return new OpenResult(NewHandle(Store.GetNode(id)!, request.Access), OpenAction.Created);
        }
        if (node.Kind is NodeKind.Fifo or NodeKind.Device or NodeKind.SymbolicLink)
            throw new StorageException(StorageError.NotSupported, "Only regular files and directories can be opened.");
        if (request.Disposition == CreateDisposition.Create)
            throw new StorageException(StorageError.AlreadyExists, "The name already exists.");
        if (request.Kind == ObjectKind.Directory && !node.IsDirectory)
            throw new StorageException(StorageError.NotADirectory, "Not a directory.");
        if (request.Kind == ObjectKind.File && node.IsDirectory)
            throw new StorageException(StorageError.IsADirectory, "Is a directory.");
        bool overwrite = request.Disposition is CreateDisposition.Overwrite or CreateDisposition.OverwriteIf or CreateDisposition.Supersede;
        if (overwrite && node.IsDirectory)
            throw new StorageException(StorageError.IsADirectory, "A directory cannot be overwritten.");
        bool write = !node.IsDirectory && (overwrite || (request.Access & StorageAccess.Write) != 0);
        if (write) ThrowIfReadOnly();
        var existing = (StorageFileAttributes)node.Attributes;
        if (write && (existing & StorageFileAttributes.ReadOnly) != 0)
            throw new StorageException(StorageError.AccessDenied, "The file is read-only.");
        var action = OpenAction.Opened;
        if (overwrite)
        {
            var wanted = request.Attributes & StorageFileAttributes.Settable;
            var mustKeep = existing & (StorageFileAttributes.Hidden | StorageFileAttributes.System);
            if ((wanted & mustKeep) != mustKeep)
                throw new StorageException(StorageError.AccessDenied, "A hidden or system file is overwritten only with those attributes.");
            await TruncateLockedAsync(node, 0, cancellationToken).ConfigureAwait(false);
            Store.Set(node.Id, "attributes", (long)(wanted | StorageFileAttributes.Archive));
            long now = Now();
            Store.Set(node.Id, "written", now);
            Store.Set(node.Id, "changed", now);
            node = Store.GetNode(node.Id)!;
            action = request.Disposition == CreateDisposition.Supersede ? OpenAction.Superseded : OpenAction.Overwritten;
        }
        return new OpenResult(NewHandle(node, request.Access), action);
    }

    private IscsiHandle NewHandle(Node node, StorageAccess access)
    {
        _opens[node.Id] = _opens.GetValueOrDefault(node.Id) + 1;
        return new IscsiHandle(this, node.Id, node.IsDirectory, node.IsDirectory ? StorageAccess.Read : access, PathOfLocked(node.Id) ?? "");
    }

    /// <summary>A handle closed: deletes its node if delete-on-close, frees it when it has no name and no handle.</summary>
    internal async Task CloseAsync(long id, bool deleteOnClose)
    {
        using var _ = await LockAsync(CancellationToken.None).ConfigureAwait(false);
        int left = _opens.GetValueOrDefault(id) - 1;
        if (left <= 0) _opens.Remove(id); else _opens[id] = left;
        var node = Store.GetNode(id);
        if (node is null) return;
        if (deleteOnClose && node.Parent is not null && !(node.IsDirectory && Store.HasChildren(id)))
            Store.Unlink(id);
        if (left <= 0 && id != MetadataStore.RootId && Store.GetNode(id)?.Parent is null)
            Store.InTransaction(() => { FreeNodeLocked(id); return 0; });
    }

    /// <summary>Deletes a node's name; frees it now when no handle has it open.</summary>
    internal void UnlinkLocked(long id)
    {
        if (_opens.GetValueOrDefault(id) > 0) Store.Unlink(id);
        else Store.InTransaction(() => { FreeNodeLocked(id); return 0; });
    }

    private void FreeNodeLocked(long id, bool loadOnly = false)
    {
        var freed = Store.ReleaseRange(id, 0); // map rows go before their units are released
        Store.DeleteNode(id);
        if (!loadOnly) FreeUnits(freed);
    }

    /// <summary>Checks that a node may be deleted now (DirectoryNotEmpty, CannotDelete, AccessDenied for the root).</summary>
    internal void CheckDeletableLocked(Node node)
    {
        if (node.Id == MetadataStore.RootId) throw new StorageException(StorageError.AccessDenied, "The share root cannot be deleted.");
        if (node.IsDirectory && Store.HasChildren(node.Id))
            throw new StorageException(StorageError.DirectoryNotEmpty, "The directory is not empty.");
        if (!node.IsDirectory && ((StorageFileAttributes)node.Attributes & StorageFileAttributes.ReadOnly) != 0)
            throw new StorageException(StorageError.CannotDelete, "The file is read-only.");
    }

    public async ValueTask DeleteAsync(string path, CancellationToken cancellationToken = default)
    {
        var components = StoragePath.Split(path);
        using var _ = await LockAsync(cancellationToken).ConfigureAwait(false);
        ThrowIfReadOnly();
        if (components.Length == 0) throw new StorageException(StorageError.AccessDenied, "The share root cannot be deleted.");
        var node = Resolve(components, followLast: false).Node ?? throw new StorageException(StorageError.NotFound, "The file does not exist.");
        CheckDeletableLocked(node);
        UnlinkLocked(node.Id);
    }

    public async ValueTask RenameAsync(string path, string newPath, bool replaceIfExists, CancellationToken cancellationToken = default)
    {
        var from = StoragePath.Split(path);
        var to = StoragePath.Split(newPath);
        using var _ = await LockAsync(cancellationToken).ConfigureAwait(false);
        if (from.Length == 0) throw new StorageException(StorageError.AccessDenied, "The share root cannot be renamed.");
        var node = Resolve(from, followLast: false).Node ?? throw new StorageException(StorageError.NotFound, "The file does not exist.");
        RenameLocked(node, to, replaceIfExists);
    }

    internal void RenameLocked(Node node, string[] to, bool replaceIfExists)
    {
        ThrowIfReadOnly();
        if (node.Id == MetadataStore.RootId) throw new StorageException(StorageError.AccessDenied, "The share root cannot be renamed.");
        if (to.Length == 0) throw new StorageException(StorageError.AccessDenied, "The share root cannot be replaced.");
        var target = Resolve(to, followLast: false);
        if (node.IsDirectory)
            for (Node? p = target.Parent; p != null; p = p.Parent is long pp ? Store.GetNode(pp) : null)
                if (p.Id == node.Id) throw new StorageException(StorageError.InvalidParameter, "A directory cannot move into itself.");
        if (target.Node is { } existing && existing.Id != node.Id)
        {
            if (!replaceIfExists) throw new StorageException(StorageError.AlreadyExists, "The target name exists.");
            if (existing.IsDirectory) throw new StorageException(StorageError.AccessDenied, "A directory cannot be replaced.");
            if (node.IsDirectory) throw new StorageException(StorageError.AccessDenied, "A directory cannot replace a file.");
            if (((StorageFileAttributes)existing.Attributes & StorageFileAttributes.ReadOnly) != 0)
                throw new StorageException(StorageError.AccessDenied, "The rename target is read-only.");
            Store.InTransaction(() =>
            {
                Store.Unlink(existing.Id);
                Store.Move(node.Id, target.Parent.Id, target.Name);
                Store.Set(node.Id, "changed", Now());
                return 0;
            });
            if (_opens.GetValueOrDefault(existing.Id) == 0) Store.InTransaction(() => { FreeNodeLocked(existing.Id); return 0; });
            return;
        }
        Store.Move(node.Id, target.Parent.Id, target.Name);
        Store.Set(node.Id, "changed", Now());
    }

    // ------------------------------------------------------------------ file data (caller holds the gate)

    internal async Task<int> ReadLocked(Node node, long offset, Memory<byte> buffer, CancellationToken ct)
    {
        if (offset >= node.Size || buffer.Length == 0) return 0;
        int n = (int)Math.Min(buffer.Length, node.Size - offset);
        long firstIdx = offset / UnitSize, endIdx = (offset + n + UnitSize - 1) / UnitSize;
        var map = Store.Map(node.Id, firstIdx, endIdx).ToDictionary(m => m.Index, m => m.Unit);
        for (long idx = firstIdx; idx < endIdx;)
        {
            long start = Math.Max(offset, idx * UnitSize);
            if (!map.TryGetValue(idx, out long unit))
            {
                long end = Math.Min(offset + n, (idx + 1) * UnitSize);
                buffer.Span.Slice((int)(start - offset), (int)(end - start)).Clear();
                idx++;
                continue;
            }
            // merge physically contiguous units into one read
            long j = idx + 1;
            while (j < endIdx && map.TryGetValue(j, out long next) && next == unit + (j - idx)) j++;
            long stop = Math.Min(offset + n, j * UnitSize);
            long lunByte = UnitLba(unit) * Device.BlockSize + (start - idx * UnitSize);
            await ReadBytesAsync(lunByte, buffer.Slice((int)(start - offset), (int)(stop - start)), ct).ConfigureAwait(false);
            idx = j;
        }
        return n;
    }

    internal async Task WriteLocked(Node node, long offset, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        if (data.Length == 0) return;
        long end = offset + data.Length;
        long firstIdx = offset / UnitSize, endIdx = (end + UnitSize - 1) / UnitSize;
        var map = Store.Map(node.Id, firstIdx, endIdx).ToDictionary(m => m.Index, m => m.Unit);
        var allocated = new List<long>();
        Store.Begin();
        try
        {
            for (long idx = firstIdx; idx < endIdx;)
            {
                if (!map.TryGetValue(idx, out long unit))
                {
                    // a run of holes: new units, written whole (zeros around the data), before the map row commits
                    long j = idx + 1;
                    while (j < endIdx && !map.ContainsKey(j)) j++;
                    var units = Allocate((int)(j - idx));
                    allocated.AddRange(units);
                    for (int k = 0; k < units.Count;)
                    {
                        int m = k + 1;
                        while (m < units.Count && units[m] == units[m - 1] + 1) m++;
                        long runStart = (idx + k) * UnitSize, runEnd = (idx + m) * UnitSize;
                        var buffer = new byte[runEnd - runStart];
                        long copyFrom = Math.Max(offset, runStart), copyTo = Math.Min(end, runEnd);
                        data.Slice((int)(copyFrom - offset), (int)(copyTo - copyFrom)).CopyTo(buffer.AsMemory((int)(copyFrom - runStart)));
                        await Io(Device.WriteAsync(UnitLba(units[k]), buffer, cancellationToken: ct)).ConfigureAwait(false);
                        k = m;
                    }
                    for (int k = 0; k < units.Count;)
                    {
                        int m = k + 1;
                        while (m < units.Count && units[m] == units[m - 1] + 1) m++;
                        Store.AddRefRange(units[k], m - k);
                        Store.SetMapRange(node.Id, idx + k, m - k, units[k]);
                        k = m;
                    }
                    idx = j;
                    continue;
                }
                if (Store.Refs(unit) > 1)
                {
                    // shared with a clone: copy on write (the unchanged bytes move inside the target)
                    long fresh = Allocate(1)[0];
                    allocated.Add(fresh);
                    await CopyUnitsAsync(this, [(unit, fresh)], ct).ConfigureAwait(false);
                    Store.AddRef(fresh);
                    Store.SetMap(node.Id, idx, fresh);
                    ReleaseUnits([unit]);
                    unit = fresh;
                }
                long s = Math.Max(offset, idx * UnitSize), e = Math.Min(end, (idx + 1) * UnitSize);
                await WriteBytesAsync(UnitLba(unit) * Device.BlockSize + (s - idx * UnitSize), data.Slice((int)(s - offset), (int)(e - s)), ct)
                    .ConfigureAwait(false);
                idx++;
            }
            long now = Now();
            if (end > node.Size) Store.Set(node.Id, "size", end);
            Store.Set(node.Id, "written", now);
            Store.Set(node.Id, "changed", now);
            Store.Commit();
        }
        catch
        {
            Store.Rollback();
            FreeUnits(allocated);
            throw;
        }
    }

    /// <summary>Sets the size: units past the end are released (and UNMAPped when free), the tail of the last unit
    /// is zeroed (so that growing again reads zeros).</summary>
    internal async Task TruncateLockedAsync(Node node, long size, CancellationToken ct)
    {
        if (size >= node.Size)
        {
            if (size > node.Size) Store.Set(node.Id, "size", size);
            return;
        }
        long keepUnits = (size + UnitSize - 1) / UnitSize;
        if (size % UnitSize != 0)
        {
            long idx = size / UnitSize;
            var last = Store.Map(node.Id, idx, idx + 1);
            if (last.Count == 1)
            {
                int tail = UnitSize - (int)(size % UnitSize);
                await WriteLocked(node with { Size = long.MaxValue }, size, new byte[tail], ct).ConfigureAwait(false);
            }
        }
        var freed = new List<long>();
        Store.InTransaction(() =>
        {
            freed.AddRange(Store.ReleaseRange(node.Id, keepUnits));
            Store.Set(node.Id, "size", size);
            long now = Now();
            Store.Set(node.Id, "written", now);
            Store.Set(node.Id, "changed", now);
            return 0;
        });
        FreeUnits(freed);
        if (Device.SupportsUnmap)
            foreach (long u in freed)
            {
                try { await Device.UnmapAsync(UnitLba(u), BlocksPerUnit, ct).ConfigureAwait(false); }
                catch (Exception e) when (e is StorageException or Initiator.IscsiException) { _logger.LogDebug("UNMAP: {Message}", e.Message); }
            }
    }

    // ------------------------------------------------------------------ offload

    private IscsiHandle OwnHandle(IStorageHandle handle, bool write)
    {
        if (handle is not IscsiHandle h || !ReferenceEquals(h.Volume, this))
            throw new StorageException(StorageError.CrossDevice, "The handles are not on the same volume.");
        h.ThrowIfClosed();
        if (h.IsDirectory) throw new StorageException(StorageError.IsADirectory, "Is a directory.");
        if (write) h.ThrowIfNotWritable();
        return h;
    }

    public async ValueTask CloneRangeAsync(IStorageHandle source, long sourceOffset, IStorageHandle destination, long destinationOffset,
        long length, CancellationToken cancellationToken = default)
    {
        var src = OwnHandle(source, false);
        var dst = OwnHandle(destination, true);
        if (sourceOffset < 0 || destinationOffset < 0 || length < 0)
            throw new StorageException(StorageError.InvalidParameter, "Offsets and length must be non-negative.");
        using var _ = await LockAsync(cancellationToken).ConfigureAwait(false);
        ThrowIfReadOnly();
        var s = Store.GetNode(src.NodeId)!;
        var d = Store.GetNode(dst.NodeId)!;
        if (sourceOffset + length > s.Size) throw new StorageException(StorageError.InvalidParameter, "The range is past the source's end of file.");
        bool toEof = sourceOffset + length == s.Size;
        if (sourceOffset % UnitSize != 0 || destinationOffset % UnitSize != 0 || (length % UnitSize != 0 && !(toEof && destinationOffset + length >= d.Size)))
            throw new StorageException(StorageError.InvalidParameter, $"Clone ranges must be aligned to {UnitSize} bytes.");
        if (s.Id == d.Id && sourceOffset < destinationOffset + length && destinationOffset < sourceOffset + length)
            throw new StorageException(StorageError.InvalidParameter, "Overlapping clone within one file.");
        if (length == 0) return;
        long units = (length + UnitSize - 1) / UnitSize, si = sourceOffset / UnitSize, di = destinationOffset / UnitSize;
        var freed = new List<long>();
        Store.InTransaction(() =>
        {
            // set-based: the cost is a few statements, not a round trip per unit (docs/iscsi.md)
            freed.AddRange(Store.ReleaseRange(d.Id, di, di + units));
            Store.CloneRange(s.Id, si, d.Id, di, units);
            if (destinationOffset + length > d.Size) Store.Set(d.Id, "size", destinationOffset + length);
            long now = Now();
            Store.Set(d.Id, "written", now);
            Store.Set(d.Id, "changed", now);
            return 0;
        });
        FreeUnits(freed);
    }

    public async ValueTask<long> CopyRangeAsync(IStorageHandle source, long sourceOffset, IStorageHandle destination, long destinationOffset,
        long length, CancellationToken cancellationToken = default)
    {
        // the source may be on another volume of the same iSCSI session (another LUN of the target, or another
        // region of this LUN): EXTENDED COPY reaches both, so the copy stays on the array
        var src = source is IscsiHandle sh && !ReferenceEquals(sh.Volume, this) && ReferenceEquals(sh.Volume.Device.Client, Device.Client)
            && sh.Volume.UnitSize == UnitSize && sh.Volume.Device.BlockSize == Device.BlockSize ? sh : OwnHandle(source, false);
        src.ThrowIfClosed();
        if (src.IsDirectory) throw new StorageException(StorageError.IsADirectory, "Is a directory.");
        var dst = OwnHandle(destination, true);
        var from = src.Volume;
        if (sourceOffset < 0 || destinationOffset < 0 || length < 0)
            throw new StorageException(StorageError.InvalidParameter, "Offsets and length must be non-negative.");
        // both gates when the source is elsewhere, always in the same order (no deadlock with a copy the other way)
        using var first = await (from._sequence < _sequence ? from : this).LockAsync(cancellationToken).ConfigureAwait(false);
        using var second = ReferenceEquals(from, this) ? null
            : await (from._sequence < _sequence ? this : from).LockAsync(cancellationToken).ConfigureAwait(false);
        ThrowIfReadOnly();
        var s = from.Store.GetNode(src.NodeId)!;
        var d = Store.GetNode(dst.NodeId)!;
        if (sourceOffset >= s.Size || length == 0) return 0;
        length = Math.Min(length, s.Size - sourceOffset);
        bool toEof = sourceOffset + length == s.Size;
        if (sourceOffset % UnitSize != 0 || destinationOffset % UnitSize != 0 || (length % UnitSize != 0 && !(toEof && destinationOffset + length >= d.Size)))
            throw new StorageException(StorageError.NotSupported, $"Unaligned range copy (units of {UnitSize} bytes): stream it.");
        if (ReferenceEquals(from, this) && s.Id == d.Id && sourceOffset < destinationOffset + length && destinationOffset < sourceOffset + length)
            throw new StorageException(StorageError.NotSupported, "Overlapping copy within one file: stream it.");
        long units = (length + UnitSize - 1) / UnitSize, si = sourceOffset / UnitSize, di = destinationOffset / UnitSize;
        var srcMap = from.Store.Map(s.Id, si, si + units).ToDictionary(m => m.Index, m => m.Unit);
        var dstMap = Store.Map(d.Id, di, di + units).ToDictionary(m => m.Index, m => m.Unit);
        // destination units: reuse those the file owns alone, allocate the others (all before any metadata changes)
        var pairs = new List<(long From, long To)>();
        var plan = new List<(long Index, long? Unit, long? Old)>();
        var allocated = new List<long>();
        try
        {
            var needNew = new List<long>();
            for (long k = 0; k < units; k++)
            {
                bool hasSrc = srcMap.TryGetValue(si + k, out long fromUnit);
                bool hasDst = dstMap.TryGetValue(di + k, out long old);
                if (!hasSrc) { plan.Add((di + k, null, hasDst ? old : null)); continue; }
                if (hasDst && Store.Refs(old) == 1) { pairs.Add((fromUnit, old)); plan.Add((di + k, old, null)); continue; }
                needNew.Add(k);
            }
            var fresh = needNew.Count > 0 ? Allocate(needNew.Count) : [];
            allocated.AddRange(fresh);
            for (int i = 0; i < needNew.Count; i++)
            {
                long k = needNew[i];
                pairs.Add((srcMap[si + k], fresh[i]));
                plan.Add((di + k, fresh[i], dstMap.TryGetValue(di + k, out long old) ? old : null));
            }
            pairs.Sort((a, b) => a.To.CompareTo(b.To));
            await CopyUnitsAsync(from, pairs, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            FreeUnits(allocated);
            throw;
        }
        var freed = new List<long>();
        Store.InTransaction(() =>
        {
            foreach (var (index, unit, old) in plan)
            {
                if (unit is long u)
                {
                    if (allocated.Contains(u)) Store.AddRef(u);
                    Store.SetMap(d.Id, index, u);
                }
                else Store.RemoveMap(d.Id, index);
                if (old is long o && o != unit && Store.Release(o)) freed.Add(o); // after the row stopped pointing at it
            }
            if (destinationOffset + length > d.Size) Store.Set(d.Id, "size", destinationOffset + length);
            long now = Now();
            Store.Set(d.Id, "written", now);
            Store.Set(d.Id, "changed", now);
            return 0;
        });
        FreeUnits(freed);
        return length;
    }

    // ------------------------------------------------------------------ tests and tools

    /// <summary>Plants a symbolic link, fifo or device node (what an imported tree may hold; never opened, links
    /// followed only inside the volume).</summary>
    public async Task PlantSpecialAsync(string path, NodeKind kind, string? target = null, CancellationToken cancellationToken = default)
    {
        if (kind is NodeKind.File or NodeKind.Directory) throw new ArgumentOutOfRangeException(nameof(kind));
        var components = StoragePath.Split(path);
        using var _ = await LockAsync(cancellationToken).ConfigureAwait(false);
        var where = Resolve(components, followLast: false);
        if (where.Node != null) throw new StorageException(StorageError.AlreadyExists, "The name already exists.");
        Store.InsertNode(where.Parent.Id, where.Name, kind, 0, Now(), target);
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed) return;
            _disposed = true;
            IscsiMetrics.Unregister(this);
            try { await Device.SynchronizeCacheAsync().ConfigureAwait(false); }
            catch (Exception e) when (e is Initiator.IscsiException) { _logger.LogWarning("SYNCHRONIZE CACHE at unmount: {Message}", e.Message); }
            Store.Checkpoint();
            Store.Dispose();
            if (_owned != null) await _owned.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }
}
