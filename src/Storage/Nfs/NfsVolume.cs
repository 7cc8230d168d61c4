using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace SmbCopy.Storage.Nfs;

/// <summary>
/// A share on an NFSv4.2 export, spoken to by this driver's own client (one session per volume).
/// <para>Confinement: paths are validated by <see cref="StoragePath"/> and walked component by component from the
/// export's file handle with LOOKUP (never "..", never a multi-component LOOKUP). Symbolic links (NF4LNK) are read
/// with READLINK and resolved here, beneath the share root: absolute targets and ".." above the root are
/// <see cref="StorageError.OutsideShare"/> (links inside the share are followed, as the local driver's
/// RESOLVE_BENEATH does). Only regular files and directories are opened or listed.</para>
/// <para>Names: LOOKUP of the exact name first; if absent, a case-insensitive match from a READDIR scan
/// (<see cref="NfsNameCache"/>). New names keep the case given.</para>
/// </summary>
internal sealed class NfsVolume : IStorageVolume
{
    internal readonly NfsSession Session;
    private readonly RpcClient _rpc;
    private readonly bool _readOnly;
    private readonly NfsNameCache _names = new();
    private long _ownerCounter;
    private readonly byte[] _ownerPrefix = RandomNumberGenerator.GetBytes(8);

    internal byte[] RootFh { get; }
    internal uint[] StdMask { get; }
    internal uint[] DirMask { get; }
    internal ILogger Logger { get; }

    // Every open handle of the volume, so that a rename through one handle moves the others (IStorageHandle.Path).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<NfsHandle, byte> _openHandles = new();

    internal void Track(NfsHandle handle) => _openHandles.TryAdd(handle, 0);

    internal void Untrack(NfsHandle handle) => _openHandles.TryRemove(handle, out _);

    /// <summary>After <paramref name="source"/> renamed its object: its other opens, and for a directory every open
    /// below it, follow (their walked chain and names are rebased on the new location).</summary>
    internal void Renamed(NfsHandle source, string oldPath, Located to)
    {
        foreach (var handle in _openHandles.Keys)
        {
            if (!ReferenceEquals(handle, source))
                handle.FollowRename(source, oldPath, to);
        }
    }
    internal bool UsesXattrs => (Capabilities & StorageCapabilities.ExtendedAttributes) != 0;
    internal bool ReadOnly => _readOnly;
    internal NfsNameCache Names => _names;
    internal ulong ClientId => Session.ClientId;
    internal string Export { get; }

    private static readonly uint[] ChangeMask = NfsAttributes.Mask(Nfs4.AttrChange);
    private readonly System.Threading.Channels.Channel<(byte[] Fh, byte[] StateId)> _closes =
        System.Threading.Channels.Channel.CreateUnbounded<(byte[], byte[])>(new() { SingleReader = true });
    private Task? _closer;
    // Cancelled TeardownTimeout after DisposeAsync starts: CLOSEs still queued or unanswered by then are given up.
    private readonly CancellationTokenSource _closing = new();
    private int _disposed;

    /// <summary>How long disposal waits on the server, for the queued CLOSEs and then again for the session's
    /// DESTROY_SESSION + DESTROY_CLIENTID; whatever is unanswered by then is logged and left to the server's lease
    /// expiry. Also bounds a handle's delete-on-close at its disposal, see <see cref="HandleDisposeTimeout"/>.</summary>
    internal TimeSpan TeardownTimeout
    {
        get => Session.TeardownTimeout;
        set => Session.TeardownTimeout = value;
    }

    /// <summary>How long a handle's disposal waits for its delete-on-close (the REMOVE and the checks before it): longer
    /// than <see cref="TeardownTimeout"/>, because it changes what the client sees, but never unbounded.</summary>
    internal TimeSpan HandleDisposeTimeout => TeardownTimeout * 6;

    private NfsVolume(string name, RpcClient rpc, NfsSession session, byte[] rootFh, NfsAttributes rootAttrs, bool readOnly,
        string export, ILogger logger)
    {
        Name = name;
        _rpc = rpc;
        Session = session;
        RootFh = rootFh;
        _readOnly = readOnly;
        Export = export;
        Logger = logger;
        var std = new List<int> { Nfs4.AttrType, Nfs4.AttrChange, Nfs4.AttrSize, Nfs4.AttrFileid, Nfs4.AttrMode,
            Nfs4.AttrNumlinks, Nfs4.AttrSpaceUsed, Nfs4.AttrTimeAccess, Nfs4.AttrTimeMetadata, Nfs4.AttrTimeModify };
        if (NfsAttributes.Has(rootAttrs.Supported, Nfs4.AttrTimeCreate))
            std.Add(Nfs4.AttrTimeCreate);
        StdMask = NfsAttributes.Mask([.. std]);
        DirMask = NfsAttributes.Mask([.. std, Nfs4.AttrRdattrError, Nfs4.AttrFilehandle]);
        RootSupported = rootAttrs.Supported;
    }

    public string Name { get; }
    public StorageCapabilities Capabilities { get; private set; }
    public int CloneAlignment { get; private set; }
    internal uint[]? RootSupported { get; }

    // ------------------------------------------------------------------ opening the volume

    internal static async Task<NfsVolume> OpenAsync(StorageVolumeOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        string server = Setting(options, "Server") ?? throw new StorageException(StorageError.InvalidParameter,
            $"Share '{options.Name}': the NFS driver needs a 'Server' setting.");
        int port = ParseNumber(options, "Port", 2049, 1, 65535);
        uint uid = (uint)ParseNumber(options, "Uid", 0, 0, int.MaxValue);
        uint gid = (uint)ParseNumber(options, "Gid", 0, 0, int.MaxValue);
        string export = Setting(options, "Export") ?? (string.IsNullOrEmpty(options.Path) ? "/" : options.Path);
        var exportParts = export.Split('/', StringSplitOptions.RemoveEmptyEntries);
        foreach (var part in exportParts)
            if (part is "." or "..")
                throw new StorageException(StorageError.InvalidParameter, $"Share '{options.Name}': bad export path '{export}'.");

        var rpc = new RpcClient(server, port, uid, gid);
        var session = new NfsSession(rpc, logger, options.Name);
        try
        {
            try
            {
                await session.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is NfsTransientException or Polly.Timeout.TimeoutRejectedException)
            {
                throw new StorageException(StorageError.Unavailable, $"NFS server {server}:{port}: {e.Message}", e);
            }
            catch (NfsStatusException e)
            {
                throw e.ToStorage($"Starting an NFSv4.2 session with {server}:{port}");
            }
            var rootMask = NfsAttributes.Mask(Nfs4.AttrSupported, Nfs4.AttrType, Nfs4.AttrLeaseTime);
            var reply = await session.RunAsync(c =>
            {
                c.PutRootFh();
                foreach (var part in exportParts) c.Lookup(part);
                c.GetFh();
                c.Getattr(rootMask);
            }, false, cancellationToken).ConfigureAwait(false);
            byte[] rootFh;
            NfsAttributes rootAttrs;
            try
            {
                reply.Ok(Nfs4.OpPutrootfh, "PUTROOTFH");
                foreach (var _ in exportParts) reply.Ok(Nfs4.OpLookup, $"Looking up export '{export}'");
                rootFh = reply.ReadFh("GETFH");
                rootAttrs = reply.ReadAttrs("GETATTR of the export");
            }
            catch (NfsStatusException e)
            {
                throw e.ToStorage($"Export '{export}' on {server}:{port}");
            }
            if (!rootAttrs.IsDirectory)
                throw new StorageException(StorageError.NotADirectory, $"Export '{export}' is not a directory.");
            if (rootAttrs.LeaseTime is uint lease)
                session.LeaseSeconds = (int)Math.Clamp(lease, 5u, 3600u);
            var volume = new NfsVolume(options.Name, rpc, session, rootFh, rootAttrs, options.ReadOnly, export, logger)
            {
                AsyncCopyMinBytes = ParseNumber(options, "AsyncCopyMinBytes", 16 << 20, 0, int.MaxValue),
            };
            await volume.ProbeAsync(rootAttrs, cancellationToken).ConfigureAwait(false);
            volume._closer = Task.Run(volume.CloseLoopAsync, CancellationToken.None);
            logger.LogInformation("NFS volume {Share} at {Server}:{Port}{Export}: {Capabilities}, clone alignment {Alignment}, I/O size {Io}",
                options.Name, server, port, export, volume.Capabilities, volume.CloneAlignment, session.IoSize);
            return volume;
        }
        catch
        {
            await session.DisposeAsync().ConfigureAwait(false);
            await rpc.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static string? Setting(StorageVolumeOptions options, string key)
    {
        if (options.Settings is null)
            return null;
        foreach (var (k, v) in options.Settings)
            if (string.Equals(k, key, StringComparison.OrdinalIgnoreCase) && !string.IsNullOrWhiteSpace(v))
                return v.Trim();
        return null;
    }

    private static int ParseNumber(StorageVolumeOptions options, string key, int fallback, int min, int max)
    {
        var s = Setting(options, key);
        if (s is null)
            return fallback;
        if (!int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
            throw new StorageException(StorageError.InvalidParameter, $"Share '{options.Name}': setting {key}='{s}' is not a number in [{min}, {max}].");
        return v;
    }

    /// <summary>Capabilities: xattrs (RFC 8276) for DOS attributes and creation time; CLONE, COPY and DEALLOCATE tried
    /// on two probe files in the export root (removed at once).</summary>
    private async Task ProbeAsync(NfsAttributes rootAttrs, CancellationToken cancellationToken)
    {
        var caps = StorageCapabilities.CaseSensitiveBackingStore;
        if (NfsAttributes.Has(rootAttrs.Supported, Nfs4.AttrTimeCreate))
            caps |= StorageCapabilities.NativeBirthTime;
        if (NfsAttributes.Has(rootAttrs.Supported, Nfs4.AttrXattrSupport))
        {
            var r = await Session.RunAsync(c => { c.PutFh(RootFh); c.Getattr(NfsAttributes.Mask(Nfs4.AttrXattrSupport)); }, false, cancellationToken)
                .ConfigureAwait(false);
            r.Ok(Nfs4.OpPutfh, "PUTFH");
            if (r.ReadAttrs("xattr_support").XattrSupport == true)
                caps |= StorageCapabilities.ExtendedAttributes | StorageCapabilities.PersistentDosAttributes
                    | StorageCapabilities.PersistentCreationTime;
        }
        Capabilities = caps;
        if (_readOnly)
            return;

        string a = ".smbcopy-probe-" + Guid.NewGuid().ToString("N"), b = a + "-b";
        const int block = 4096;
        byte[]? fa = null, fb = null, sa = null, sb = null;
        uint cloneBlock = 0;
        try
        {
            var owner = NewOwner();
            var r = await Session.RunAsync(c =>
            {
                c.PutFh(RootFh);
                c.Open(Nfs4.ShareAccessBoth, ClientId, owner, a, true, new NfsSetAttributes(Mode: 0x180));
                c.GetFh();
                c.Write(NfsOps.CurrentStateId, 0, Nfs4.FileSync, new byte[block]);
                c.Getattr(NfsAttributes.Has(rootAttrs.Supported, Nfs4.AttrCloneBlksize) ? NfsAttributes.Mask(Nfs4.AttrCloneBlksize) : NfsAttributes.Mask(Nfs4.AttrType));
                c.PutFh(RootFh);
                c.Open(Nfs4.ShareAccessBoth, ClientId, NewOwner(), b, true, new NfsSetAttributes(Mode: 0x180));
                c.GetFh();
            }, true, cancellationToken).ConfigureAwait(false);
            r.Ok(Nfs4.OpPutfh, "PUTFH");
            if (r.Next(Nfs4.OpOpen) != Nfs4.Ok)
                return; // cannot create files in the root: no offload capabilities known
            sa = NfsOps.ReadOpenResult(r.R).StateId;
            fa = r.ReadFh("GETFH");
            r.Ok(Nfs4.OpWrite, "WRITE");
            r.R.U32(); r.R.U32(); r.R.Skip(8);
            cloneBlock = r.ReadAttrs("GETATTR").CloneBlockSize ?? 0;
            r.Ok(Nfs4.OpPutfh, "PUTFH");
            r.Ok(Nfs4.OpOpen, "OPEN");
            sb = NfsOps.ReadOpenResult(r.R).StateId;
            fb = r.ReadFh("GETFH");

            var clone = await Session.RunAsync(c => { c.PutFh(fa); c.SaveFh(); c.PutFh(fb); c.Clone(sa, sb, 0, 0, block); }, true, cancellationToken)
                .ConfigureAwait(false);
            clone.Ok(Nfs4.OpPutfh, "PUTFH"); clone.Ok(Nfs4.OpSavefh, "SAVEFH"); clone.Ok(Nfs4.OpPutfh, "PUTFH");
            int cloneStatus = clone.Next(Nfs4.OpClone);
            if (cloneStatus == Nfs4.Ok)
            {
                caps |= StorageCapabilities.CloneRange;
                CloneAlignment = cloneBlock is > 0 and <= 1 << 30 ? (int)cloneBlock : block;
            }
            var copy = await Session.RunAsync(c => { c.PutFh(fa); c.SaveFh(); c.PutFh(fb); c.Copy(sa, sb, 0, 0, 1); }, true, cancellationToken)
                .ConfigureAwait(false);
            copy.Ok(Nfs4.OpPutfh, "PUTFH"); copy.Ok(Nfs4.OpSavefh, "SAVEFH"); copy.Ok(Nfs4.OpPutfh, "PUTFH");
            int copyStatus = copy.Next(Nfs4.OpCopy);
            if (copyStatus == Nfs4.Ok)
                caps |= StorageCapabilities.RangeCopy;
            var dealloc = await Session.RunAsync(c => { c.PutFh(fa); c.Op(Nfs4.OpDeallocate).Fixed(sa).I64(0).I64(block); }, true, cancellationToken)
                .ConfigureAwait(false);
            dealloc.Ok(Nfs4.OpPutfh, "PUTFH");
            if (dealloc.Next(Nfs4.OpDeallocate) == Nfs4.Ok)
                caps |= StorageCapabilities.SparseFiles;
            Logger.LogDebug("NFS probe: CLONE {Clone}, COPY {Copy}, clone_blksize {Block}", Nfs4.StatusName(cloneStatus),
                Nfs4.StatusName(copyStatus), cloneBlock);
        }
        catch (NfsStatusException e)
        {
            Logger.LogWarning("NFS volume {Share}: capability probe failed: {Error}", Name, e.Message);
        }
        finally
        {
            Capabilities = caps;
            try
            {
                await Session.RunAsync(c =>
                {
                    if (fa is not null && sa is not null) { c.PutFh(fa); c.Close(sa); }
                    if (fb is not null && sb is not null) { c.PutFh(fb); c.Close(sb); }
                    c.PutFh(RootFh);
                    c.Remove(a);
                    c.PutFh(RootFh);
                    c.Remove(b);
                }, true, cancellationToken).ConfigureAwait(false);
            }
            catch (StorageException e)
            {
                Logger.LogWarning("NFS volume {Share}: removing probe files failed: {Error}", Name, e.Message);
            }
        }
    }

    internal byte[] NewOwner()
    {
        var owner = new byte[16];
        _ownerPrefix.CopyTo(owner, 0);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(owner.AsSpan(8), Interlocked.Increment(ref _ownerCounter));
        return owner;
    }

    internal Task<NfsReply> RunAsync(Action<Compound> build, bool cache, CancellationToken cancellationToken) =>
        Session.RunAsync(build, cache, cancellationToken);

    // ------------------------------------------------------------------ volume information

    public async ValueTask<VolumeInfo> GetVolumeInfoAsync(CancellationToken cancellationToken = default)
    {
        var mask = NfsAttributes.Mask(Nfs4.AttrFsid, Nfs4.AttrMaxname, Nfs4.AttrSpaceAvail, Nfs4.AttrSpaceFree, Nfs4.AttrSpaceTotal);
        var r = await RunAsync(c => { c.PutFh(RootFh); c.Getattr(mask); }, false, cancellationToken).ConfigureAwait(false);
        NfsAttributes a;
        try
        {
            r.Ok(Nfs4.OpPutfh, "PUTFH");
            a = r.ReadAttrs("GETATTR");
        }
        catch (NfsStatusException e) { throw e.ToStorage("Reading the volume's status"); }
        long total = (long)Math.Min(a.SpaceTotal ?? 0, long.MaxValue);
        long free = (long)Math.Min(a.SpaceAvail ?? a.SpaceFree ?? 0, (ulong)total);
        var (major, minor) = a.Fsid ?? (0, 0);
        uint serial = unchecked((uint)(major ^ (major >> 32) ^ minor ^ (minor >> 32)));
        if (serial == 0)
        {
            uint h = 2166136261;
            foreach (byte b in Encoding.UTF8.GetBytes(_rpc.Endpoint + Export))
                h = (h ^ b) * 16777619;
            serial = h;
        }
        return new VolumeInfo(total, free, 4096, "nfs4", serial, (int)Math.Clamp(a.MaxName ?? 255, 255u, 1024u));
    }

    // ------------------------------------------------------------------ lookup and resolution

    /// <summary>Where a path leads. <see cref="Chain"/>: file handles from the share root to the directory holding
    /// the last name (as walked, for rename/delete of the entry); <see cref="TargetChain"/>: the real parent of the
    /// object when the last name was a link (used to resolve links found inside a directory opened through one).</summary>
    internal sealed record Located(List<byte[]> Chain, List<string> ParentPath, string Name, byte[]? Fh, NfsAttributes? Attrs,
        List<byte[]> TargetChain)
    {
        public bool Exists => Fh is not null;
        public byte[] ParentFh => Chain[^1];
    }

    internal async Task<(string Name, byte[] Fh, NfsAttributes Attrs)?> LookupInAsync(byte[] dirFh, string name, CancellationToken ct)
    {
        var r = await RunAsync(c => { c.PutFh(dirFh); c.Getattr(ChangeMask); c.Lookup(name); c.GetFh(); c.Getattr(StdMask); }, false, ct)
            .ConfigureAwait(false);
        r.Ok(Nfs4.OpPutfh, "PUTFH");
        var dir = r.ReadAttrs("GETATTR of a directory");
        int st = r.Next(Nfs4.OpLookup);
        if (st == Nfs4.Ok)
            return (name, r.ReadFh("GETFH"), r.ReadAttrs("GETATTR"));
        if (st is Nfs4.NotDir)
            throw new StorageException(StorageError.PathNotFound, "A component of the path is not a directory.");
        if (st is Nfs4.NameTooLong or Nfs4.BadName or Nfs4.BadChar or Nfs4.Inval)
            return null;
        if (st != Nfs4.NoEnt)
            throw new NfsStatusException(st, Nfs4.OpLookup, "LOOKUP");
        string key = NfsNameCache.Key(dirFh);
        ulong change = dir.Change ?? 0;
        if (!_names.TryFind(key, change, name, out string? actual))
        {
            var all = await ReadNamesAsync(dirFh, ct).ConfigureAwait(false);
            actual = _names.Set(key, change, all, name);
        }
        if (actual is null || actual == name)
            return null;
        r = await RunAsync(c => { c.PutFh(dirFh); c.Lookup(actual); c.GetFh(); c.Getattr(StdMask); }, false, ct).ConfigureAwait(false);
        r.Ok(Nfs4.OpPutfh, "PUTFH");
        st = r.Next(Nfs4.OpLookup);
        if (st == Nfs4.NoEnt)
        {
            _names.Invalidate(key);
            return null;
        }
        if (st != Nfs4.Ok)
            throw new NfsStatusException(st, Nfs4.OpLookup, "LOOKUP");
        return (actual, r.ReadFh("GETFH"), r.ReadAttrs("GETATTR"));
    }

    /// <summary>Every name of a directory (READDIR without attributes).</summary>
    private async Task<List<string>> ReadNamesAsync(byte[] dirFh, CancellationToken ct)
    {
        var names = new List<string>();
        await foreach (var (name, _) in ReadDirectoryAsync(dirFh, [], ct).ConfigureAwait(false))
            names.Add(name);
        return names;
    }

    /// <summary>READDIR with cookies until eof. Names that are not valid UTF-8 are skipped.</summary>
    internal async IAsyncEnumerable<(string Name, NfsAttributes Attrs)> ReadDirectoryAsync(byte[] dirFh, uint[] mask,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        ulong cookie = 0;
        byte[] verifier = new byte[8];
        int maxCount = Math.Clamp(Session.MaxResponse - 1024, 4096, 256 * 1024);
        var utf8 = new UTF8Encoding(false, true);
        var batch = new List<(string, NfsAttributes)>();
        while (true)
        {
            ulong c0 = cookie;
            byte[] v0 = verifier;
            var r = await RunAsync(c => { c.PutFh(dirFh); c.Readdir(c0, v0, maxCount, maxCount, mask); }, false, ct).ConfigureAwait(false);
            r.Ok(Nfs4.OpPutfh, "PUTFH");
            int st = r.Next(Nfs4.OpReaddir);
            if (st == Nfs4.NotDir)
                throw new StorageException(StorageError.NotADirectory, "Only a directory can be enumerated.");
            if (st != Nfs4.Ok)
                throw new NfsStatusException(st, Nfs4.OpReaddir, "READDIR");
            verifier = r.R.Fixed(8, "cookieverf");
            batch.Clear();
            int count = 0;
            while (r.R.Bool("entry follows"))
            {
                cookie = r.R.U64("cookie");
                var raw = r.R.OpaqueSpan(4096, "entry name");
                string? name;
                try { name = utf8.GetString(raw); }
                catch (DecoderFallbackException) { name = null; }
                var attrs = NfsAttributes.Parse(r.R);
                count++;
                if (name is not null and not "." and not "..")
                    batch.Add((name, attrs));
            }
            bool eof = r.R.Bool("eof");
            foreach (var e in batch)
                yield return e;
            if (eof)
                yield break;
            if (count == 0)
                throw new NfsProtocolException("READDIR returned no entries and no end of directory.");
        }
    }

    /// <summary>Walks <paramref name="components"/> from the share root, following links beneath the root.</summary>
    internal async Task<Located> WalkAsync(string[] components, CancellationToken ct)
    {
        var chain = new List<byte[]> { RootFh };
        var path = new List<string>();
        if (components.Length == 0)
        {
            var r = await RunAsync(c => { c.PutFh(RootFh); c.Getattr(StdMask); }, false, ct).ConfigureAwait(false);
            r.Ok(Nfs4.OpPutfh, "PUTFH");
            return new Located([], path, "", RootFh, r.ReadAttrs("GETATTR of the share root"), []);
        }
        int start = 0;
        int fast = Math.Min(components.Length, (Session.MaxOperations - 3) / 3);
        if (fast > 0)
        {
            // Fast path: the exact names in one COMPOUND. The server never follows a link or ".." in LOOKUP (a link
            // as a directory component gives NFS4ERR_SYMLINK / NOTDIR), so this cannot leave the share; anything
            // other than a plain hit (a miss, a link) continues component by component below.
            var r = await RunAsync(c =>
            {
                c.PutFh(RootFh);
                c.Getattr(ChangeMask);
                for (int i = 0; i < fast; i++) { c.Lookup(components[i]); c.GetFh(); c.Getattr(StdMask); }
            }, false, ct).ConfigureAwait(false);
            r.Ok(Nfs4.OpPutfh, "PUTFH");
            var parentAttrs = r.ReadAttrs("GETATTR of the share root");
            for (int i = 0; i < fast; i++)
            {
                bool last = i == components.Length - 1;
                int st = r.Next(Nfs4.OpLookup);
                if (st != Nfs4.Ok)
                {
                    if (st == Nfs4.NoEnt && last && parentAttrs.Change is ulong change
                        && _names.TryFind(NfsNameCache.Key(chain[^1]), change, components[i], out string? actual) && actual is null)
                        return new Located(chain, path, components[i], null, null, chain);
                    break;
                }
                var fh = r.ReadFh("GETFH");
                var attrs = r.ReadAttrs("GETATTR");
                if (attrs.IsLink)
                    break;
                if (last)
                    return new Located(chain, path, components[i], fh, attrs, chain);
                if (!attrs.IsDirectory)
                    throw new StorageException(StorageError.PathNotFound, "A component of the path is not a directory.");
                chain = [.. chain, fh];
                path.Add(components[i]);
                parentAttrs = attrs;
                start = i + 1;
            }
        }
        for (int i = start; i < components.Length; i++)
        {
            bool last = i == components.Length - 1;
            var found = await LookupInAsync(chain[^1], components[i], ct).ConfigureAwait(false);
            if (found is null)
            {
                if (last)
                    return new Located(chain, path, components[i], null, null, chain);
                throw new StorageException(StorageError.PathNotFound, "A directory of the path does not exist.");
            }
            var (name, fh, attrs) = found.Value;
            List<byte[]>? targetChain = null;
            if (attrs.IsLink)
            {
                var t = await FollowAsync(chain, fh, 0, ct).ConfigureAwait(false);
                if (t is null)
                {
                    if (last)
                        throw new StorageException(StorageError.NotFound, "The link's target does not exist.");
                    throw new StorageException(StorageError.PathNotFound, "A directory of the path does not exist.");
                }
                (targetChain, fh, attrs) = t.Value;
            }
            if (last)
                return new Located(chain, path, name, fh, attrs, targetChain ?? chain);
            if (!attrs.IsDirectory)
                throw new StorageException(StorageError.PathNotFound, "A component of the path is not a directory.");
            chain = [.. targetChain ?? chain, fh];
            path.Add(name);
        }
        throw new InvalidOperationException("unreachable");
    }

    /// <summary>Resolves a link found in the directory at the top of <paramref name="chain"/>; null when the target does
    /// not exist. Absolute targets and ".." above the share root are refused.</summary>
    internal async Task<(List<byte[]> Chain, byte[] Fh, NfsAttributes Attrs)?> FollowAsync(List<byte[]> chain, byte[] linkFh, int depth,
        CancellationToken ct)
    {
        if (depth >= 40)
            throw new StorageException(StorageError.NameInvalid, "Too many levels of symbolic links.");
        var r = await RunAsync(c => { c.PutFh(linkFh); c.Readlink(); }, false, ct).ConfigureAwait(false);
        r.Ok(Nfs4.OpPutfh, "PUTFH");
        r.Ok(Nfs4.OpReadlink, "READLINK");
        string text = r.R.String(4096, "linktext");
        if (text.Length == 0)
            return null;
        if (text[0] == '/')
            throw new StorageException(StorageError.OutsideShare, "A symbolic link with an absolute target leads outside the share.");
        var cur = new List<byte[]>(chain);
        var parts = text.Split('/', StringSplitOptions.RemoveEmptyEntries);
        byte[]? fh = null;
        NfsAttributes? attrs = null;
        for (int j = 0; j < parts.Length; j++)
        {
            string part = parts[j];
            bool last = j == parts.Length - 1;
            if (part is "." or "..")
            {
                if (part == "..")
                {
                    if (cur.Count <= 1)
                        throw new StorageException(StorageError.OutsideShare, "A symbolic link leads outside the share.");
                    cur.RemoveAt(cur.Count - 1);
                }
                if (last)
                {
                    var dirFh = cur[^1];
                    var g = await RunAsync(c => { c.PutFh(dirFh); c.Getattr(StdMask); }, false, ct).ConfigureAwait(false);
                    g.Ok(Nfs4.OpPutfh, "PUTFH");
                    return (cur.GetRange(0, cur.Count - 1), dirFh, g.ReadAttrs("GETATTR"));
                }
                continue;
            }
            var found = await LookupInAsync(cur[^1], part, ct).ConfigureAwait(false);
            if (found is null)
                return null;
            (_, fh, attrs) = found.Value;
            List<byte[]> parent = cur;
            if (attrs.IsLink)
            {
                var t = await FollowAsync(cur, fh, depth + 1, ct).ConfigureAwait(false);
                if (t is null)
                    return null;
                (parent, fh, attrs) = t.Value;
            }
            if (last)
                return (parent, fh, attrs);
            if (!attrs.IsDirectory)
                return null;
            cur = [.. parent, fh];
        }
        return null;
    }

    // ------------------------------------------------------------------ open / create

    public async ValueTask<OpenResult> OpenAsync(string path, OpenRequest request, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var components = StoragePath.Split(path);
        if (request.Disposition is < CreateDisposition.Supersede or > CreateDisposition.OverwriteIf)
            throw new StorageException(StorageError.InvalidParameter, "Unknown create disposition.");
        if (request.Kind == ObjectKind.Directory && request.Disposition is CreateDisposition.Overwrite
                or CreateDisposition.OverwriteIf or CreateDisposition.Supersede)
            throw new StorageException(StorageError.InvalidParameter, "A directory cannot be overwritten or superseded.");
        try
        {
            for (int attempt = 0; attempt < 4; attempt++)
            {
                var loc = await WalkAsync(components, cancellationToken).ConfigureAwait(false);
                OpenResult? result = loc.Exists
                    ? await OpenExistingAsync(loc, request, cancellationToken).ConfigureAwait(false)
                    : await CreateAsync(loc, request, cancellationToken).ConfigureAwait(false);
                if (result is not null)
                    return result.Value;
            }
            throw new StorageException(StorageError.Busy, "The name keeps changing while it is opened.");
        }
        catch (NfsStatusException e)
        {
            throw e.ToStorage("Opening '" + path + "'");
        }
    }

    private async Task<OpenResult?> OpenExistingAsync(Located loc, OpenRequest request, CancellationToken ct)
    {
        var attrs = loc.Attrs!;
        if (attrs.Type is not (Nfs4.TypeReg or Nfs4.TypeDir))
            throw new StorageException(StorageError.NotSupported, "Only regular files and directories can be opened.");
        bool isDirectory = attrs.IsDirectory;
        if (request.Disposition == CreateDisposition.Create)
            throw new StorageException(StorageError.AlreadyExists, "The name already exists.");
        if (request.Kind == ObjectKind.Directory && !isDirectory)
            throw new StorageException(StorageError.NotADirectory, "Not a directory.");
        if (request.Kind == ObjectKind.File && isDirectory)
            throw new StorageException(StorageError.IsADirectory, "Is a directory.");
        bool overwrite = request.Disposition is CreateDisposition.Overwrite or CreateDisposition.OverwriteIf or CreateDisposition.Supersede;
        if (overwrite && isDirectory)
            throw new StorageException(StorageError.IsADirectory, "A directory cannot be overwritten.");
        bool write = !isDirectory && (overwrite || (request.Access & StorageAccess.Write) != 0);
        if (write && _readOnly)
            throw new StorageException(StorageError.ReadOnly, "The share is read-only.");
        var fh = loc.Fh!;
        var action = OpenAction.Opened;
        if (isDirectory)
            return new OpenResult(new NfsHandle(this, loc, fh, attrs, null, 0, request.Access), action);

        StorageFileAttributes wanted = default;
        if (write)
        {
            var (dos, _) = await ReadXattrsAsync(fh, ct).ConfigureAwait(false);
            var existing = NfsMetadata.StoredAttributes(false, dos, attrs.Mode);
            if ((existing & StorageFileAttributes.ReadOnly) != 0)
                throw new StorageException(StorageError.AccessDenied, "The file is read-only.");
            if (overwrite)
            {
                wanted = request.Attributes & StorageFileAttributes.Settable;
                var mustKeep = existing & (StorageFileAttributes.Hidden | StorageFileAttributes.System);
                if ((wanted & mustKeep) != mustKeep)
                    throw new StorageException(StorageError.AccessDenied, "A hidden or system file is overwritten only with those attributes.");
                action = request.Disposition == CreateDisposition.Supersede ? OpenAction.Superseded : OpenAction.Overwritten;
            }
        }
        uint access = write ? Nfs4.ShareAccessBoth : (request.Access & StorageAccess.Read) != 0 ? Nfs4.ShareAccessRead : 0;
        if (access == 0)
            return new OpenResult(new NfsHandle(this, loc, fh, attrs, null, 0, request.Access), action);

        var owner = NewOwner();
        var r = await RunAsync(c =>
        {
            c.PutFh(fh);
            c.Open(access, ClientId, owner, null, false, default);
            if (overwrite)
            {
                c.Setattr(NfsOps.CurrentStateId, new NfsSetAttributes(Size: 0));
                if (UsesXattrs)
                    c.SetXattr(NfsMetadata.DosAttrKey, NfsMetadata.EncodeDos(wanted | StorageFileAttributes.Archive));
            }
            c.Getattr(StdMask);
        }, true, ct).ConfigureAwait(false);
        r.Ok(Nfs4.OpPutfh, "PUTFH");
        int st = r.Next(Nfs4.OpOpen);
        if (st is Nfs4.NoEnt or Nfs4.Stale)
            return null; // removed since the lookup
        if (st != Nfs4.Ok)
            throw new NfsStatusException(st, Nfs4.OpOpen, "OPEN");
        var (stateId, _) = NfsOps.ReadOpenResult(r.R);
        var handle = new NfsHandle(this, loc, fh, attrs, stateId, access, request.Access) { OwnerBytes = owner };
        try
        {
            if (overwrite)
            {
                r.Ok(Nfs4.OpSetattr, "Truncating");
                r.R.Bitmap("attrsset");
                if (UsesXattrs)
                {
                    r.Ok(Nfs4.OpSetxattr, "Storing DOS attributes");
                    NfsOps.ReadChangeInfo(r.R);
                }
            }
            handle.UpdateAttributes(r.ReadAttrs("GETATTR"));
            return new OpenResult(handle, action);
        }
        catch
        {
            await handle.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task<OpenResult?> CreateAsync(Located loc, OpenRequest request, CancellationToken ct)
    {
        if (request.Disposition is CreateDisposition.Open or CreateDisposition.Overwrite)
            throw new StorageException(StorageError.NotFound, "The file does not exist.");
        if (loc.Chain.Count == 0)
            throw new StorageException(StorageError.AlreadyExists, "The share root exists.");
        if (_readOnly)
            throw new StorageException(StorageError.ReadOnly, "The share is read-only.");
        bool isDirectory = request.Kind == ObjectKind.Directory;
        var parent = loc.ParentFh;
        string name = loc.Name;
        var attributes = request.Attributes & StorageFileAttributes.Settable;
        if (!isDirectory)
            attributes |= StorageFileAttributes.Archive;
        var dos = NfsMetadata.EncodeDos(attributes);
        var btime = NfsMetadata.EncodeTime(DateTime.UtcNow);
        uint access = (request.Access & StorageAccess.Write) != 0 ? Nfs4.ShareAccessBoth : Nfs4.ShareAccessRead;
        var owner = NewOwner();
        bool readOnlyMode = !isDirectory && (attributes & StorageFileAttributes.ReadOnly) != 0;
        var r = await RunAsync(c =>
        {
            c.PutFh(parent);
            if (isDirectory)
                c.CreateObject(Nfs4.TypeDir, name, new NfsSetAttributes(Mode: NfsMetadata.DirectoryMode));
            else
                c.Open(access, ClientId, owner, name, true, new NfsSetAttributes(Mode: NfsMetadata.FileMode));
            c.GetFh();
            c.Getattr(StdMask);
            if (UsesXattrs)
            {
                c.SetXattr(NfsMetadata.DosAttrKey, dos);
                c.SetXattr(NfsMetadata.BirthTimeKey, btime);
            }
        }, true, ct).ConfigureAwait(false);
        r.Ok(Nfs4.OpPutfh, "PUTFH");
        string key = NfsNameCache.Key(parent);
        byte[]? stateId = null;
        NfsOps.ChangeInfo cinfo;
        int st = r.Next(isDirectory ? Nfs4.OpCreate : Nfs4.OpOpen);
        if (st == Nfs4.Exist)
        {
            _names.Invalidate(key);
            return null; // raced with another creator: open it instead
        }
        if (st != Nfs4.Ok)
            throw new NfsStatusException(st, isDirectory ? Nfs4.OpCreate : Nfs4.OpOpen, isDirectory ? "Creating a directory" : "Creating a file");
        if (isDirectory)
        {
            cinfo = NfsOps.ReadChangeInfo(r.R);
            r.R.Bitmap("attrset");
        }
        else
        {
            (stateId, cinfo) = NfsOps.ReadOpenResult(r.R);
        }
        _names.Changed(key, cinfo, name, null);
        byte[]? fh = null;
        try
        {
            fh = r.ReadFh("GETFH");
            var attrs = r.ReadAttrs("GETATTR");
            if (UsesXattrs)
            {
                r.Ok(Nfs4.OpSetxattr, "Storing DOS attributes");
                NfsOps.ReadChangeInfo(r.R);
                r.Ok(Nfs4.OpSetxattr, "Storing the creation time");
                NfsOps.ReadChangeInfo(r.R);
            }
            var created = new Located(loc.Chain, loc.ParentPath, name, fh, attrs, loc.Chain);
            var handle = new NfsHandle(this, created, fh, attrs, stateId, stateId is null ? 0 : access, request.Access) { OwnerBytes = owner };
            if (readOnlyMode)
                await handle.SetModeAsync(NfsMetadata.FileMode & ~0x92u, ct).ConfigureAwait(false);
            return new OpenResult(handle, OpenAction.Created);
        }
        catch
        {
            // Do not leave a half-made object behind.
            try
            {
                var sid = stateId;
                var ofh = fh;
                await RunAsync(c =>
                {
                    if (sid is not null && ofh is not null) { c.PutFh(ofh); c.Close(sid); }
                    c.PutFh(parent);
                    c.Remove(name);
                }, true, CancellationToken.None).ConfigureAwait(false);
                _names.Invalidate(key);
            }
            catch (StorageException) { /* best effort */ }
            throw;
        }
    }

    internal async Task<(uint? Dos, long? BirthTime)> ReadXattrsAsync(byte[] fh, CancellationToken ct)
    {
        if (!UsesXattrs)
            return (null, null);
        var r = await RunAsync(c => { c.PutFh(fh); c.GetXattr(NfsMetadata.DosAttrKey); c.GetXattr(NfsMetadata.BirthTimeKey); }, false, ct)
            .ConfigureAwait(false);
        r.Ok(Nfs4.OpPutfh, "PUTFH");
        uint? dos = null;
        long? btime = null;
        int st = r.Next(Nfs4.OpGetxattr);
        if (st == Nfs4.Ok)
        {
            dos = NfsMetadata.DecodeDos(r.R.OpaqueSpan(65536, "xattr value"));
            st = r.Next(Nfs4.OpGetxattr);
            if (st == Nfs4.Ok)
                btime = NfsMetadata.DecodeTime(r.R.OpaqueSpan(65536, "xattr value"));
            else if (st != Nfs4.NoXattr)
                throw new NfsStatusException(st, Nfs4.OpGetxattr, "GETXATTR");
        }
        else if (st == Nfs4.NoXattr)
        {
            var r2 = await RunAsync(c => { c.PutFh(fh); c.GetXattr(NfsMetadata.BirthTimeKey); }, false, ct).ConfigureAwait(false);
            r2.Ok(Nfs4.OpPutfh, "PUTFH");
            st = r2.Next(Nfs4.OpGetxattr);
            if (st == Nfs4.Ok)
                btime = NfsMetadata.DecodeTime(r2.R.OpaqueSpan(65536, "xattr value"));
            else if (st != Nfs4.NoXattr)
                throw new NfsStatusException(st, Nfs4.OpGetxattr, "GETXATTR");
        }
        else
        {
            throw new NfsStatusException(st, Nfs4.OpGetxattr, "GETXATTR");
        }
        return (dos, btime);
    }

    /// <summary>Both xattrs of many objects, batched (PUTFH, GETXATTR, GETXATTR per object) within the session's
    /// operation limit, several COMPOUNDs in flight; a missing attribute stops a COMPOUND, which then resumes after it.</summary>
    internal async Task<(uint? Dos, long? BirthTime)[]> ReadXattrsAsync(IReadOnlyList<byte[]> handles, CancellationToken ct)
    {
        var result = new (uint?, long?)[handles.Count];
        if (!UsesXattrs || handles.Count == 0)
            return result;
        int perCompound = Math.Max(1, (Session.MaxOperations - 1) / 3);
        var chunks = new List<Task>();
        using var parallel = new SemaphoreSlim(4);
        for (int from = 0; from < handles.Count; from += perCompound)
        {
            int f = from, to = Math.Min(handles.Count, from + perCompound);
            await parallel.WaitAsync(ct).ConfigureAwait(false);
            chunks.Add(Task.Run(async () =>
            {
                try { await ReadXattrChunkAsync(handles, f, to, result, ct).ConfigureAwait(false); }
                finally { parallel.Release(); }
            }, ct));
        }
        await Task.WhenAll(chunks).ConfigureAwait(false);
        return result;
    }

    private async Task ReadXattrChunkAsync(IReadOnlyList<byte[]> handles, int from, int to, (uint?, long?)[] result, CancellationToken ct)
    {
        int index = from, phase = 0; // phase 0: dos next, 1: btime next
        while (index < to)
        {
            int start = index, startPhase = phase;
            var r = await RunAsync(c =>
            {
                for (int i = start; i < to; i++)
                {
                    c.PutFh(handles[i]);
                    if (i != start || startPhase == 0)
                        c.GetXattr(NfsMetadata.DosAttrKey);
                    c.GetXattr(NfsMetadata.BirthTimeKey);
                }
            }, false, ct).ConfigureAwait(false);
            bool stopped = false;
            for (int i = start; i < to && !stopped; i++)
            {
                if (r.Next(Nfs4.OpPutfh) != Nfs4.Ok)
                {
                    index = i + 1; phase = 0; stopped = true; // gone since it was listed
                    break;
                }
                for (int p = i == start ? startPhase : 0; p < 2; p++)
                {
                    int st = r.Next(Nfs4.OpGetxattr);
                    if (st == Nfs4.Ok)
                    {
                        var value = r.R.OpaqueSpan(65536, "xattr value");
                        if (p == 0) result[i].Item1 = NfsMetadata.DecodeDos(value);
                        else result[i].Item2 = NfsMetadata.DecodeTime(value);
                        continue;
                    }
                    // missing (or unreadable): resume after this one
                    if (p == 0) { index = i; phase = 1; }
                    else { index = i + 1; phase = 0; }
                    stopped = true;
                    break;
                }
            }
            if (!stopped)
            {
                index = to;
                phase = 0;
            }
        }
    }

    // ------------------------------------------------------------------ path operations

    public async ValueTask RenameAsync(string path, string newPath, bool replaceIfExists, CancellationToken cancellationToken = default)
    {
        var (handle, _) = await OpenAsync(path, new OpenRequest(CreateDisposition.Open, StorageAccess.None), cancellationToken).ConfigureAwait(false);
        await using (handle.ConfigureAwait(false))
            await handle.RenameAsync(newPath, replaceIfExists, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DeleteAsync(string path, CancellationToken cancellationToken = default)
    {
        var (handle, _) = await OpenAsync(path, new OpenRequest(CreateDisposition.Open, StorageAccess.None), cancellationToken).ConfigureAwait(false);
        await using (handle.ConfigureAwait(false))
            await handle.DeleteAsync(cancellationToken).ConfigureAwait(false);
    }

    // ------------------------------------------------------------------ offload

    public async ValueTask CloneRangeAsync(IStorageHandle source, long sourceOffset, IStorageHandle destination, long destinationOffset,
        long length, CancellationToken cancellationToken = default)
    {
        var (src, dst) = Pair(source, destination);
        CheckRange(sourceOffset, destinationOffset, length);
        cancellationToken.ThrowIfCancellationRequested();
        if (_readOnly)
            throw new StorageException(StorageError.ReadOnly, "The share is read-only.");
        dst.RequireWrite();
        if (length == 0)
            return;
        int a = CloneAlignment;
        if (a > 0 && (sourceOffset % a != 0 || destinationOffset % a != 0))
            throw new StorageException(StorageError.InvalidParameter, $"Clone offsets must be multiples of {a} bytes.");
        if (a > 0 && length % a != 0)
        {
            long size = (await src.GetInfoAsync(cancellationToken).ConfigureAwait(false)).EndOfFile;
            if (sourceOffset + length != size)
                throw new StorageException(StorageError.InvalidParameter, $"A clone length must be a multiple of {a} bytes or reach the end of file.");
        }
        try
        {
            await src.WithStateAsync(dst, async (srcState, dstState) =>
            {
                var r = await RunAsync(c =>
                {
                    c.PutFh(src.Fh); c.SaveFh(); c.PutFh(dst.Fh);
                    c.Clone(srcState, dstState, sourceOffset, destinationOffset, length);
                }, true, cancellationToken).ConfigureAwait(false);
                r.Ok(Nfs4.OpPutfh, "PUTFH"); r.Ok(Nfs4.OpSavefh, "SAVEFH"); r.Ok(Nfs4.OpPutfh, "PUTFH");
                r.Ok(Nfs4.OpClone, "CLONE");
                return true;
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (NfsStatusException e)
        {
            throw e.ToStorage("Cloning a range");
        }
    }

    /// <summary>Ranges at least this long go by an asynchronous COPY when the backchannel is up; 0 = never. Setting
    /// "AsyncCopyMinBytes" (default 16 MiB: a synchronous COPY on Linux copies at most 4 MiB per call).</summary>
    internal long AsyncCopyMinBytes { get; set; } = 16L << 20;

    /// <summary>How often an asynchronous COPY is polled with OFFLOAD_STATUS while CB_OFFLOAD is awaited.</summary>
    internal TimeSpan OffloadPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How the asynchronous copies of this volume ended (for tests and logs).</summary>
    internal int AsyncCopies, AsyncByCallback, AsyncByStatus, AsyncResumedSync, AsyncCancelled;

    /// <summary>The status of the last OFFLOAD_CANCEL sent (NFS4_OK = the server stopped the copy).</summary>
    internal int LastOffloadCancelStatus { get; private set; } = -1;

    private readonly record struct CopyStep(long Copied, uint Committed, byte[]? Verifier, int Status, bool Lost = false);

    /// <summary>
    /// NFS COPY (RFC 7862 §15.2), intra-server. Ranges of at least <see cref="AsyncCopyMinBytes"/> ask for an
    /// asynchronous copy when the backchannel is up: the server answers with a callback stateid and reports the end with
    /// CB_OFFLOAD (§16.1); OFFLOAD_STATUS (§15.9) is polled meanwhile (a server that fills osr_complete ends the wait too;
    /// Linux answers BAD_STATEID once the copy is over, and then a CB_OFFLOAD that never came means the outcome is
    /// unknown: the range is copied again synchronously, which COPY makes harmless). Cancellation sends OFFLOAD_CANCEL
    /// (§15.8). Smaller ranges, or no backchannel: synchronous COPY looped on wr_count. COMMIT when any step was
    /// UNSTABLE.
    /// </summary>
    public async ValueTask<long> CopyRangeAsync(IStorageHandle source, long sourceOffset, IStorageHandle destination, long destinationOffset,
        long length, CancellationToken cancellationToken = default)
    {
        var (src, dst) = Pair(source, destination);
        CheckRange(sourceOffset, destinationOffset, length);
        cancellationToken.ThrowIfCancellationRequested();
        if (_readOnly)
            throw new StorageException(StorageError.ReadOnly, "The share is read-only.");
        dst.RequireWrite();
        if (length == 0)
            return 0;
        long done = 0;
        bool unstable = false, forceSync = false;
        int stalls = 0;
        byte[]? verifier = null;
        try
        {
            while (done < length)
            {
                cancellationToken.ThrowIfCancellationRequested();
                long count = length - done;
                long so = sourceOffset + done, dof = destinationOffset + done;
                bool useAsync = !forceSync && AsyncCopyMinBytes > 0 && count >= AsyncCopyMinBytes && Session.CallbacksUp;
                CopyStep step;
                try
                {
                    step = useAsync
                        ? await CopyAsyncStepAsync(src, dst, so, dof, count, cancellationToken).ConfigureAwait(false)
                        : await CopySyncStepAsync(src, dst, so, dof, count, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (done > 0 && e is not OperationCanceledException)
                {
                    break; // report the progress; the next call reports the error
                }
                if (step.Lost)
                {
                    forceSync = true; // the asynchronous copy's outcome is unknown: this range again, synchronously
                    continue;
                }
                if (step.Status != Nfs4.Ok)
                {
                    if (done > 0)
                        break;
                    throw new StorageException(step.Status == Nfs4.XDev ? StorageError.CrossDevice : StorageError.NotSupported,
                        "COPY: " + Nfs4.StatusName(step.Status), step.Status);
                }
                if (step.Copied == 0)
                {
                    // The end of the source, or a COPY the server cut short with nothing copied (an nfsd shutting down
                    // interrupts its copies and answers NFS4_OK with wr_count 0): only the source's size tells.
                    long eof = (await src.GetInfoAsync(cancellationToken).ConfigureAwait(false)).EndOfFile;
                    if (so >= eof)
                        break;
                    if (++stalls <= 3)
                        continue;
                    if (done > 0)
                        break;
                    throw new StorageException(StorageError.IoError, $"COPY made no progress at offset {so} of a {eof}-byte source.");
                }
                stalls = 0;
                done += step.Copied;
                if (step.Committed != Nfs4.FileSync)
                {
                    unstable = true;
                    verifier = step.Verifier ?? verifier;
                }
            }
            if (unstable)
                await dst.CommitAsync(verifier, cancellationToken).ConfigureAwait(false);
            return done;
        }
        catch (NfsStatusException e)
        {
            throw e.ToStorage("Copying a range");
        }
    }

    private static bool IsCopyRefusal(int status) =>
        status is Nfs4.NotSupp or Nfs4.XDev or Nfs4.OffloadNoReqs or Nfs4.IllegalOp or Nfs4.OffloadDenied;

    private async Task<CopyStep> CopySyncStepAsync(NfsHandle src, NfsHandle dst, long so, long dof, long count, CancellationToken ct)
    {
        var (step, id) = await SendCopyAsync(src, dst, so, dof, count, true, ct).ConfigureAwait(false);
        if (id is not null)
            throw new NfsProtocolException("COPY went asynchronous although a synchronous copy was asked.");
        return step;
    }

    /// <summary>COPY; returns the write_response4 and the callback stateid when the server went asynchronous.</summary>
    private Task<(CopyStep Step, byte[]? CallbackId)> SendCopyAsync(NfsHandle src, NfsHandle dst, long so, long dof, long count,
        bool synchronous, CancellationToken ct) =>
        src.WithStateAsync(dst, async (srcState, dstState) =>
        {
            var r = await RunAsync(c =>
            {
                c.PutFh(src.Fh); c.SaveFh(); c.PutFh(dst.Fh);
                c.Copy(srcState, dstState, so, dof, count, synchronous);
            }, true, ct).ConfigureAwait(false);
            r.Ok(Nfs4.OpPutfh, "PUTFH"); r.Ok(Nfs4.OpSavefh, "SAVEFH"); r.Ok(Nfs4.OpPutfh, "PUTFH");
            int st = r.Next(Nfs4.OpCopy);
            if (IsCopyRefusal(st))
                return (new CopyStep(0, 0, null, st), (byte[]?)null);
            if (st != Nfs4.Ok)
                throw new NfsStatusException(st, Nfs4.OpCopy, "COPY");
            uint callbacks = r.R.U32("wr_callback_id count");
            if (callbacks > 1)
                throw new NfsProtocolException($"COPY returned {callbacks} callback stateids.");
            byte[]? id = callbacks == 1 ? r.R.Fixed(16, "wr_callback_id") : null;
            long copied = r.R.I64("wr_count");
            uint committed = r.R.U32("wr_committed");
            var verf = r.R.Fixed(8, "wr_writeverf");
            if (copied < 0 || copied > count)
                throw new NfsProtocolException($"COPY reports {copied} bytes for {count} asked.");
            return (new CopyStep(copied, committed, verf, Nfs4.Ok), id);
        }, ct);

    private async Task<CopyStep> CopyAsyncStepAsync(NfsHandle src, NfsHandle dst, long so, long dof, long count, CancellationToken ct)
    {
        int generation = Session.StateGeneration;
        var (first, id) = await SendCopyAsync(src, dst, so, dof, count, false, ct).ConfigureAwait(false);
        if (id is null)
            return first; // the server chose to copy synchronously (or refused)
        Interlocked.Increment(ref AsyncCopies);
        var finished = Session.WaitForOffload(id);
        long progress = 0;
        long goneAt = -1; // when OFFLOAD_STATUS stopped knowing the copy
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Logger.LogDebug("NFS {Share}: asynchronous COPY of {Count} bytes started", Name, count);
        try
        {
            while (true)
            {
                var tick = Task.Delay(OffloadPollInterval, ct);
                if (await Task.WhenAny(finished, tick).ConfigureAwait(false) == finished)
                    return Finish(await finished.ConfigureAwait(false), byCallback: true);
                await tick.ConfigureAwait(false); // throws when cancelled
                if (Session.StateGeneration != generation)
                {
                    // The server forgot this client (restart): the copy and its unstable data are gone.
                    Logger.LogInformation("NFS {Share}: asynchronous COPY lost with the server's state; copying the range again", Name);
                    Interlocked.Increment(ref AsyncResumedSync);
                    return new CopyStep(0, 0, null, Nfs4.Ok, Lost: true);
                }
                if (goneAt >= 0)
                {
                    if (clock.ElapsedMilliseconds - goneAt > Math.Max(5000, 3 * OffloadPollInterval.TotalMilliseconds))
                    {
                        Logger.LogInformation("NFS {Share}: asynchronous COPY ended ({Progress} bytes seen) without CB_OFFLOAD; copying the range again",
                            Name, progress);
                        Interlocked.Increment(ref AsyncResumedSync);
                        return new CopyStep(0, 0, null, Nfs4.Ok, Lost: true);
                    }
                    continue;
                }
                var r = await RunAsync(c => { c.PutFh(dst.Fh); c.OffloadStatus(id); }, false, ct).ConfigureAwait(false);
                r.Ok(Nfs4.OpPutfh, "PUTFH");
                int st = r.Next(Nfs4.OpOffloadStatus);
                if (st == Nfs4.Ok)
                {
                    progress = r.R.I64("osr_count");
                    if (r.R.U32("osr_complete count") >= 1)
                    {
                        int complete = r.R.I32("osr_complete");
                        Interlocked.Increment(ref AsyncByStatus);
                        return Finish(new NfsSession.OffloadResult(complete, progress, Nfs4.Unstable, []), byCallback: false);
                    }
                }
                else if (st is Nfs4.BadStateId or Nfs4.OldStateId or Nfs4.StaleStateId or Nfs4.Expired or Nfs4.AdminRevoked)
                    goneAt = clock.ElapsedMilliseconds; // over (Linux forgets a finished copy): CB_OFFLOAD should be on its way
                // NOTSUPP / OP_ILLEGAL: no polling on this server; CB_OFFLOAD is awaited alone
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await CancelOffloadAsync(dst, id).ConfigureAwait(false);
            throw;
        }
        finally
        {
            Session.ForgetOffload(id);
        }

        CopyStep Finish(NfsSession.OffloadResult result, bool byCallback)
        {
            if (byCallback) Interlocked.Increment(ref AsyncByCallback);
            Logger.LogDebug("NFS {Share}: asynchronous COPY ended by {How}: {Status}, {Count} bytes in {Ms} ms", Name,
                byCallback ? "CB_OFFLOAD" : "OFFLOAD_STATUS", Nfs4.StatusName(result.Status), result.Count, clock.ElapsedMilliseconds);
            if (result.Count < 0 || result.Count > count)
                throw new NfsProtocolException($"The asynchronous COPY reports {result.Count} bytes for {count} asked.");
            if (result.Status == Nfs4.Ok || result.Count > 0)
                return new CopyStep(result.Count, result.Status == Nfs4.Ok ? result.Committed : Nfs4.Unstable,
                    result.Verifier is { Length: 8 } v ? v : null, Nfs4.Ok); // a failure after some bytes: the next step reports it
            if (IsCopyRefusal(result.Status))
                return new CopyStep(0, 0, null, result.Status);
            throw new NfsStatusException(result.Status, Nfs4.OpCopy, "COPY (asynchronous)");
        }
    }

    /// <summary>OFFLOAD_CANCEL: the SMB request was cancelled. Linux stops the copy thread before it answers.</summary>
    private async Task CancelOffloadAsync(NfsHandle dst, byte[] id)
    {
        Interlocked.Increment(ref AsyncCancelled);
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var r = await RunAsync(c => { c.PutFh(dst.Fh); c.OffloadCancel(id); }, true, cts.Token).ConfigureAwait(false);
            r.Ok(Nfs4.OpPutfh, "PUTFH");
            int st = r.Next(Nfs4.OpOffloadCancel);
            LastOffloadCancelStatus = st;
            Logger.LogInformation("NFS {Share}: copy cancelled; OFFLOAD_CANCEL: {Status}", Name, Nfs4.StatusName(st));
        }
        catch (Exception e) when (e is StorageException or NfsStatusException or NfsProtocolException or OperationCanceledException)
        {
            Logger.LogWarning("NFS {Share}: OFFLOAD_CANCEL failed: {Error}", Name, e.Message);
        }
    }

    private (NfsHandle, NfsHandle) Pair(IStorageHandle source, IStorageHandle destination)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        if (source is not NfsHandle src || destination is not NfsHandle dst || src.Volume != this || dst.Volume != this)
            throw new StorageException(StorageError.CrossDevice, "Both handles must belong to this NFS volume.");
        if (src.IsDirectory || dst.IsDirectory)
            throw new StorageException(StorageError.IsADirectory, "Ranges are copied between files.");
        src.ThrowIfClosed();
        dst.ThrowIfClosed();
        return (src, dst);
    }

    private static void CheckRange(long sourceOffset, long destinationOffset, long length)
    {
        if (sourceOffset < 0 || destinationOffset < 0 || length < 0
            || sourceOffset > long.MaxValue - length || destinationOffset > long.MaxValue - length)
            throw new StorageException(StorageError.InvalidParameter, "Offsets and length must be non-negative and not overflow.");
    }

    // ------------------------------------------------------------------ lifetime

    /// <summary>CLOSE of a disposed handle's open, sent in the background and batched: an open never blocks anyone
    /// else here (share_deny is always NONE), so the caller need not wait for it.</summary>
    internal void EnqueueClose(byte[] fh, byte[] stateId)
    {
        if (!_closes.Writer.TryWrite((fh, stateId)))
            _ = CloseNowAsync([(fh, stateId)]);
    }

    private async Task CloseLoopAsync()
    {
        var batch = new List<(byte[], byte[])>();
        int max = Math.Max(1, (Session.MaxOperations - 1) / 2);
        while (await _closes.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < max && _closes.Reader.TryRead(out var item))
                batch.Add(item);
            await CloseNowAsync(batch).ConfigureAwait(false);
            batch.Clear();
        }
    }

    private async Task CloseNowAsync(List<(byte[] Fh, byte[] StateId)> batch)
    {
        try
        {
            int from = 0;
            while (from < batch.Count)
            {
                int f = from;
                var r = await RunAsync(c => { for (int i = f; i < batch.Count; i++) { c.PutFh(batch[i].Fh); c.Close(batch[i].StateId); } },
                    true, _closing.Token).ConfigureAwait(false);
                int done = f;
                for (; done < batch.Count; done++)
                {
                    if (r.Next(Nfs4.OpPutfh) != Nfs4.Ok || r.Next(Nfs4.OpClose) != Nfs4.Ok)
                        break; // stale or already gone: skip it, close the rest
                    r.R.Skip(16, "stateid");
                }
                from = done + 1;
            }
        }
        catch (OperationCanceledException) when (_closing.IsCancellationRequested)
        {
            Logger.LogInformation("NFS {Share}: CLOSE of {Count} opens not answered within {Seconds} s of the volume's disposal; "
                + "left to the server's lease expiry", Name, batch.Count, TeardownTimeout.TotalSeconds);
        }
        catch (Exception e) when (e is StorageException or NfsStatusException or NfsProtocolException or ObjectDisposedException)
        {
            Logger.LogDebug("NFS CLOSE of {Count} opens failed: {Error}", batch.Count, e.Message);
        }
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Bounded: the queued CLOSEs get <see cref="TeardownTimeout"/>, the session's teardown as much again, and
    /// nothing waits on a server that does not answer (a restarted nfsd, a dropped session) beyond that.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _closes.Writer.TryComplete();
        _closing.CancelAfter(TeardownTimeout);
        if (_closer is not null)
        {
            // The closer sees _closing; the extra second only covers its own cleanup.
            try { await _closer.WaitAsync(TeardownTimeout + TimeSpan.FromSeconds(1)).ConfigureAwait(false); }
            catch (TimeoutException)
            {
                Logger.LogWarning("NFS {Share}: the CLOSE queue did not stop within {Seconds} s of disposal; disposing anyway",
                    Name, TeardownTimeout.TotalSeconds);
            }
        }
        _closing.Cancel(); // a CLOSE queued after this point (a handle disposed late) is not sent
        await Session.DisposeAsync().ConfigureAwait(false);
        await _rpc.DisposeAsync().ConfigureAwait(false);
    }
}
