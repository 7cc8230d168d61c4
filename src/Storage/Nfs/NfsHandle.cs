using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace SmbCopy.Storage.Nfs;

/// <summary>
/// An open NFS file or directory: its file handle, and for files opened for data an OPEN stateid (one open-owner per
/// handle, so closing one handle never closes another's open). Directories and metadata-only opens hold no state.
/// After the server forgot this client (restart), the file is reopened by handle (CLAIM_FH) before the next use of
/// the stateid, and an operation that failed with a lost-state error is retried once after reopening.
/// </summary>
internal sealed class NfsHandle : IStorageHandle
{
    private readonly Lock _pathLock = new();
    private readonly SemaphoreSlim _reopenLock = new(1, 1);
    private readonly uint _openAccess;
    private readonly StorageAccess _access;
    private List<byte[]> _chain;        // share root .. directory holding _name (as walked)
    private List<string> _parentPath;   // stored names of that directory's path
    private string _name;
    private readonly List<byte[]> _targetChain; // the object's real parent chain (links resolved)
    private byte[]? _stateId;
    private int _stateGeneration;
    private int _closed;
    private bool _deleteOnClose;
    private bool _deleted;
    private bool _uncommitted;
    private byte[]? _writeVerifier;

    internal NfsHandle(NfsVolume volume, NfsVolume.Located loc, byte[] fh, NfsAttributes attrs, byte[]? stateId, uint openAccess,
        StorageAccess access)
    {
        Volume = volume;
        Fh = fh;
        FileId = attrs.FileId ?? 0;
        IsDirectory = attrs.IsDirectory;
        _chain = loc.Chain;
        _parentPath = loc.ParentPath;
        _name = loc.Name;
        _targetChain = loc.TargetChain;
        _stateId = stateId;
        _openAccess = openAccess;
        _access = access;
        _stateGeneration = volume.Session.StateGeneration;
        volume.Track(this);
    }

    internal NfsVolume Volume { get; }
    internal byte[] Fh { get; }
    internal byte[]? OwnerBytes { get; init; }

    public string Path
    {
        get
        {
            lock (_pathLock)
                return _name.Length == 0 && _parentPath.Count == 0 ? "" : string.Join(StoragePath.Separator, [.. _parentPath, _name]);
        }
    }

    public bool IsDirectory { get; }
    public ulong FileId { get; }
    public bool DeleteOnClose => _deleteOnClose;

    internal void UpdateAttributes(NfsAttributes attrs) { _ = attrs; }

    // ------------------------------------------------------------------ state

    private async Task<byte[]> CurrentStateAsync(CancellationToken ct)
    {
        if (_stateId is null)
            return NfsOps.AnonymousStateId;
        if (_stateGeneration != Volume.Session.StateGeneration)
            await ReopenAsync(_stateId, ct).ConfigureAwait(false);
        return _stateId!;
    }

    private async Task ReopenAsync(byte[] failed, CancellationToken ct)
    {
        await _reopenLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (!ReferenceEquals(_stateId, failed) && _stateGeneration == Volume.Session.StateGeneration)
                return; // reopened meanwhile
            int generation = Volume.Session.StateGeneration;
            var owner = OwnerBytes ?? Volume.NewOwner();
            var r = await Volume.RunAsync(c => { c.PutFh(Fh); c.Open(_openAccess, Volume.ClientId, owner, null, false, default); }, true, ct)
                .ConfigureAwait(false);
            r.Ok(Nfs4.OpPutfh, "PUTFH");
            r.Ok(Nfs4.OpOpen, "Reopening after the server lost the open state");
            _stateId = NfsOps.ReadOpenResult(r.R).StateId;
            _stateGeneration = generation;
            Volume.Logger.LogInformation("NFS: reopened {Path} after lost state", Path);
        }
        finally { _reopenLock.Release(); }
    }

    /// <summary>Runs <paramref name="action"/> with this handle's stateid; on a lost-state error reopens and retries once.</summary>
    internal async Task<T> WithStateAsync<T>(Func<byte[], Task<T>> action, CancellationToken ct)
    {
        var state = await CurrentStateAsync(ct).ConfigureAwait(false);
        try
        {
            return await action(state).ConfigureAwait(false);
        }
        catch (NfsStatusException e) when (Nfs4.IsLostState(e.Status) && _stateId is not null)
        {
            await ReopenAsync(state, ct).ConfigureAwait(false);
            return await action(_stateId!).ConfigureAwait(false);
        }
    }

    /// <summary>Two handles' stateids (source = this), with the same recovery.</summary>
    internal async Task<T> WithStateAsync<T>(NfsHandle other, Func<byte[], byte[], Task<T>> action, CancellationToken ct)
    {
        var a = await CurrentStateAsync(ct).ConfigureAwait(false);
        var b = await other.CurrentStateAsync(ct).ConfigureAwait(false);
        try
        {
            return await action(a, b).ConfigureAwait(false);
        }
        catch (NfsStatusException e) when (Nfs4.IsLostState(e.Status))
        {
            if (_stateId is not null) await ReopenAsync(a, ct).ConfigureAwait(false);
            if (other._stateId is not null) await other.ReopenAsync(b, ct).ConfigureAwait(false);
            return await action(await CurrentStateAsync(ct).ConfigureAwait(false), await other.CurrentStateAsync(ct).ConfigureAwait(false))
                .ConfigureAwait(false);
        }
    }

    // ------------------------------------------------------------------ data

    public async ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        RequireFile();
        if (offset < 0)
            throw new StorageException(StorageError.InvalidParameter, "Negative offset.");
        if (buffer.Length == 0)
            return 0;
        int count = Math.Min(buffer.Length, Volume.Session.IoSize);
        try
        {
            return await WithStateAsync(async state =>
            {
                var r = await Volume.RunAsync(c => { c.PutFh(Fh); c.Read(state, offset, count); }, false, cancellationToken).ConfigureAwait(false);
                r.Ok(Nfs4.OpPutfh, "PUTFH");
                r.Ok(Nfs4.OpRead, "READ");
                r.R.Bool("eof");
                var data = r.R.OpaqueSpan(count, "READ data");
                data.CopyTo(buffer.Span);
                return data.Length;
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (NfsStatusException e) { throw e.ToStorage("Reading"); }
    }

    public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        RequireFile();
        RequireWrite();
        if (offset < 0 || offset > long.MaxValue - data.Length)
            throw new StorageException(StorageError.InvalidParameter, "Offset out of range.");
        if (data.Length == 0)
            return;
        int io = Volume.Session.IoSize;
        try
        {
            if (data.Length <= io)
            {
                await WriteChunkAsync(offset, data, cancellationToken).ConfigureAwait(false);
                return;
            }
            // Pipelined: up to 4 WRITEs in flight.
            var inFlight = new List<Task>();
            for (int at = 0; at < data.Length; at += io)
            {
                var chunk = data.Slice(at, Math.Min(io, data.Length - at));
                inFlight.Add(WriteChunkAsync(offset + at, chunk, cancellationToken));
                if (inFlight.Count >= 4)
                {
                    var done = await Task.WhenAny(inFlight).ConfigureAwait(false);
                    inFlight.Remove(done);
                    await done.ConfigureAwait(false);
                }
            }
            await Task.WhenAll(inFlight).ConfigureAwait(false);
        }
        catch (NfsStatusException e) { throw e.ToStorage("Writing"); }
    }

    private async Task WriteChunkAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        while (data.Length > 0)
        {
            var chunk = data;
            long at = offset;
            var (written, committed, verifier) = await WithStateAsync(async state =>
            {
                var r = await Volume.RunAsync(c => { c.PutFh(Fh); c.Write(state, at, Nfs4.Unstable, chunk.Span); }, true, ct).ConfigureAwait(false);
                r.Ok(Nfs4.OpPutfh, "PUTFH");
                r.Ok(Nfs4.OpWrite, "WRITE");
                uint count = r.R.U32("count");
                uint how = r.R.U32("committed");
                var verf = r.R.Fixed(8, "writeverf");
                if (count == 0 || count > chunk.Length)
                    throw new NfsProtocolException($"WRITE reports {count} bytes for {chunk.Length}.");
                return ((int)count, how, verf);
            }, ct).ConfigureAwait(false);
            if (committed != Nfs4.FileSync)
            {
                lock (_pathLock)
                {
                    _uncommitted = true;
                    _writeVerifier = verifier;
                }
            }
            data = data[written..];
            offset += written;
        }
    }

    internal async Task CommitAsync(byte[]? expectedVerifier, CancellationToken ct)
    {
        var r = await Volume.RunAsync(c => { c.PutFh(Fh); c.Commit(0, 0); }, true, ct).ConfigureAwait(false);
        r.Ok(Nfs4.OpPutfh, "PUTFH");
        r.Ok(Nfs4.OpCommit, "COMMIT");
        var verifier = r.R.Fixed(8, "writeverf");
        if (expectedVerifier is not null && !verifier.AsSpan().SequenceEqual(expectedVerifier))
            throw new StorageException(StorageError.IoError, "The NFS server restarted before unstable data was committed; it may be lost.");
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        if (IsDirectory)
            return;
        byte[]? expected;
        lock (_pathLock)
        {
            expected = _uncommitted ? _writeVerifier : null;
            _uncommitted = false;
        }
        try
        {
            await CommitAsync(expected, cancellationToken).ConfigureAwait(false);
        }
        catch (NfsStatusException e) { throw e.ToStorage("Flushing"); }
    }

    public async ValueTask SetEndOfFileAsync(long length, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        RequireFile();
        RequireWrite();
        if (length < 0)
            throw new StorageException(StorageError.InvalidParameter, "Negative length.");
        await SetSizeAsync(length, cancellationToken).ConfigureAwait(false);
    }

    private async Task SetSizeAsync(long length, CancellationToken ct)
    {
        try
        {
            await WithStateAsync(async state =>
            {
                var r = await Volume.RunAsync(c => { c.PutFh(Fh); c.Setattr(state, new NfsSetAttributes(Size: (ulong)length)); }, true, ct)
                    .ConfigureAwait(false);
                r.Ok(Nfs4.OpPutfh, "PUTFH");
                r.Ok(Nfs4.OpSetattr, "SETATTR size");
                return true;
            }, ct).ConfigureAwait(false);
        }
        catch (NfsStatusException e) { throw e.ToStorage("Setting the end of file"); }
    }

    public async ValueTask SetAllocationSizeAsync(long allocationSize, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        RequireFile();
        RequireWrite();
        if (allocationSize < 0)
            throw new StorageException(StorageError.InvalidParameter, "Negative allocation size.");
        var attrs = await GetAttrsAsync(cancellationToken).ConfigureAwait(false);
        if (allocationSize < (long)(attrs.Size ?? 0))
            await SetSizeAsync(allocationSize, cancellationToken).ConfigureAwait(false);
        // Above the end of file: NFS ALLOCATE would move the end of file (Linux nfsd calls fallocate without
        // KEEP_SIZE), so nothing is reserved (no Preallocation capability).
    }

    // ------------------------------------------------------------------ metadata

    private async Task<NfsAttributes> GetAttrsAsync(CancellationToken ct)
    {
        try
        {
            var r = await Volume.RunAsync(c => { c.PutFh(Fh); c.Getattr(Volume.StdMask); }, false, ct).ConfigureAwait(false);
            r.Ok(Nfs4.OpPutfh, "PUTFH");
            return r.ReadAttrs("GETATTR");
        }
        catch (NfsStatusException e) { throw e.ToStorage("Reading attributes"); }
    }

    public async ValueTask<FileMetadata> GetInfoAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        try
        {
            if (!Volume.UsesXattrs)
                return NfsMetadata.Compose(await GetAttrsAsync(cancellationToken).ConfigureAwait(false), null, null);
            var r = await Volume.RunAsync(c =>
            {
                c.PutFh(Fh);
                c.Getattr(Volume.StdMask);
                c.GetXattr(NfsMetadata.DosAttrKey);
                c.GetXattr(NfsMetadata.BirthTimeKey);
            }, false, cancellationToken).ConfigureAwait(false);
            r.Ok(Nfs4.OpPutfh, "PUTFH");
            var attrs = r.ReadAttrs("GETATTR");
            int st = r.Next(Nfs4.OpGetxattr);
            if (st == Nfs4.Ok)
            {
                uint? dos = NfsMetadata.DecodeDos(r.R.OpaqueSpan(65536, "xattr value"));
                long? btime = null;
                if (r.Next(Nfs4.OpGetxattr) == Nfs4.Ok)
                    btime = NfsMetadata.DecodeTime(r.R.OpaqueSpan(65536, "xattr value"));
                return NfsMetadata.Compose(attrs, dos, btime);
            }
            var (d, b) = await Volume.ReadXattrsAsync(Fh, cancellationToken).ConfigureAwait(false);
            return NfsMetadata.Compose(attrs, d, b);
        }
        catch (NfsStatusException e) { throw e.ToStorage("Reading metadata"); }
    }

    internal async Task SetModeAsync(uint mode, CancellationToken ct)
    {
        var r = await Volume.RunAsync(c => { c.PutFh(Fh); c.Setattr(NfsOps.AnonymousStateId, new NfsSetAttributes(Mode: mode)); }, true, ct)
            .ConfigureAwait(false);
        r.Ok(Nfs4.OpPutfh, "PUTFH");
        r.Ok(Nfs4.OpSetattr, "SETATTR mode");
    }

    public async ValueTask SetInfoAsync(FileInfoUpdate update, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        if (Volume.ReadOnly)
            throw new StorageException(StorageError.ReadOnly, "The share is read-only.");
        try
        {
            if (update.LastAccessTime is not null || update.LastWriteTime is not null)
            {
                var set = new NfsSetAttributes(Access: update.LastAccessTime, Modify: update.LastWriteTime);
                var r = await Volume.RunAsync(c => { c.PutFh(Fh); c.Setattr(NfsOps.AnonymousStateId, set); }, true, cancellationToken)
                    .ConfigureAwait(false);
                r.Ok(Nfs4.OpPutfh, "PUTFH");
                r.Ok(Nfs4.OpSetattr, "Setting times");
            }
            // ChangeTime: the server's time_metadata cannot be set; ignored.
            if (!Volume.UsesXattrs)
                return;
            if (update.CreationTime is DateTime creation)
            {
                var value = NfsMetadata.EncodeTime(creation);
                var r = await Volume.RunAsync(c => { c.PutFh(Fh); c.SetXattr(NfsMetadata.BirthTimeKey, value); }, true, cancellationToken)
                    .ConfigureAwait(false);
                r.Ok(Nfs4.OpPutfh, "PUTFH");
                r.Ok(Nfs4.OpSetxattr, "Storing the creation time");
            }
            if (update.Attributes is not null || update.Sparse is not null)
            {
                var attrs = await GetAttrsAsync(cancellationToken).ConfigureAwait(false);
                var (dos, _) = await Volume.ReadXattrsAsync(Fh, cancellationToken).ConfigureAwait(false);
                var stored = NfsMetadata.StoredAttributes(IsDirectory, dos, attrs.Mode);
                var updated = stored;
                if (update.Attributes is StorageFileAttributes requested)
                    updated = (stored & StorageFileAttributes.SparseFile) | (requested & StorageFileAttributes.Settable);
                if (update.Sparse is bool sparse && !IsDirectory)
                    updated = sparse ? updated | StorageFileAttributes.SparseFile : updated & ~StorageFileAttributes.SparseFile;
                if (updated != stored || dos is null)
                {
                    var value = NfsMetadata.EncodeDos(updated);
                    var r = await Volume.RunAsync(c => { c.PutFh(Fh); c.SetXattr(NfsMetadata.DosAttrKey, value); }, true, cancellationToken)
                        .ConfigureAwait(false);
                    r.Ok(Nfs4.OpPutfh, "PUTFH");
                    r.Ok(Nfs4.OpSetxattr, "Storing DOS attributes");
                }
                if (!IsDirectory && attrs.Mode is uint mode)
                {
                    bool readOnly = (updated & StorageFileAttributes.ReadOnly) != 0;
                    uint newMode = readOnly ? mode & ~0x92u : (mode & 0x92) == 0 ? mode | 0x80 : mode;
                    if (newMode != mode)
                        await SetModeAsync(newMode, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (NfsStatusException e) { throw e.ToStorage("Setting metadata"); }
    }

    // ------------------------------------------------------------------ directories

    public async IAsyncEnumerable<StorageDirectoryEntry> EnumerateAsync(string? pattern = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        if (!IsDirectory)
            throw new StorageException(StorageError.NotADirectory, "Only a directory can be enumerated.");
        if (WildcardPattern.MatchesAll(pattern))
            pattern = null;
        var chain = PhysicalChain();

        if (pattern is not null && !WildcardPattern.HasWildcards(pattern))
        {
            // One name: a (case-insensitive) lookup, no scan.
            if (!StoragePath.IsValidComponent(pattern))
                yield break;
            StorageDirectoryEntry? single = null;
            try
            {
                var found = await Volume.LookupInAsync(Fh, pattern, cancellationToken).ConfigureAwait(false);
                if (found is { } f)
                {
                    var entries = await ToEntriesAsync(chain, [(f.Name, f.Fh, f.Attrs)], cancellationToken).ConfigureAwait(false);
                    if (entries.Count == 1)
                        single = entries[0];
                }
            }
            catch (NfsStatusException e) { throw e.ToStorage("Looking up a name"); }
            if (single is not null)
                yield return single.Value;
            yield break;
        }

        var batch = new List<(string, byte[], NfsAttributes)>();
        var enumerator = Volume.ReadDirectoryAsync(Fh, Volume.DirMask, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                bool more;
                try { more = await enumerator.MoveNextAsync().ConfigureAwait(false); }
                catch (NfsStatusException e) { throw e.ToStorage("Listing a directory"); }
                if (more)
                {
                    var (name, attrs) = enumerator.Current;
                    if (attrs.RdattrError is not (null or 0) || attrs.FileHandle is null)
                        continue;
                    if (!StoragePath.IsValidComponent(name) || !WildcardPattern.IsMatch(pattern, name))
                        continue;
                    if (attrs.Type is not (Nfs4.TypeReg or Nfs4.TypeDir or Nfs4.TypeLnk))
                        continue; // devices, fifos, sockets are not part of a share
                    batch.Add((name, attrs.FileHandle, attrs));
                }
                if (batch.Count >= 256 || (!more && batch.Count > 0))
                {
                    List<StorageDirectoryEntry> entries;
                    try { entries = await ToEntriesAsync(chain, batch, cancellationToken).ConfigureAwait(false); }
                    catch (NfsStatusException e) { throw e.ToStorage("Listing a directory"); }
                    batch.Clear();
                    foreach (var e in entries)
                        yield return e;
                }
                if (!more)
                    break;
            }
        }
        finally
        {
            await enumerator.DisposeAsync().ConfigureAwait(false);
        }
    }

    private List<byte[]> PhysicalChain() => [.. _targetChain, Fh];

    /// <summary>Metadata of listed objects: links are resolved beneath the share (and dropped when they lead outside or
    /// to something else than a file or directory), then the xattrs of all are read in batches.</summary>
    private async Task<List<StorageDirectoryEntry>> ToEntriesAsync(List<byte[]> chain, List<(string Name, byte[] Fh, NfsAttributes Attrs)> items,
        CancellationToken ct)
    {
        var kept = new List<(string Name, byte[] Fh, NfsAttributes Attrs)>(items.Count);
        foreach (var item in items)
        {
            if (!item.Attrs.IsLink)
            {
                kept.Add(item);
                continue;
            }
            try
            {
                var t = await Volume.FollowAsync(chain, item.Fh, 0, ct).ConfigureAwait(false);
                if (t is { } target && target.Attrs.Type is Nfs4.TypeReg or Nfs4.TypeDir)
                    kept.Add((item.Name, target.Fh, target.Attrs));
            }
            catch (StorageException) { /* leads outside, loops: not listed */ }
        }
        var xattrs = await Volume.ReadXattrsAsync(kept.Select(k => k.Fh).ToList(), ct).ConfigureAwait(false);
        var result = new List<StorageDirectoryEntry>(kept.Count);
        for (int i = 0; i < kept.Count; i++)
            result.Add(new StorageDirectoryEntry(kept[i].Name, NfsMetadata.Compose(kept[i].Attrs, xattrs[i].Dos, xattrs[i].BirthTime)));
        return result;
    }

    // ------------------------------------------------------------------ rename and delete

    /// <summary>Another handle renamed its object from <paramref name="oldPath"/> to <paramref name="to"/>: this handle
    /// follows when it is open on the same object (same path and file id) or, for a directory, below it.</summary>
    internal void FollowRename(NfsHandle source, string oldPath, NfsVolume.Located to)
    {
        lock (_pathLock)
        {
            if (_deleted || Volatile.Read(ref _closed) != 0 || _chain.Count == 0)
                return;
            string path = string.Join(StoragePath.Separator, [.. _parentPath, _name]);
            if (FileId == source.FileId && path.Equals(oldPath, StringComparison.OrdinalIgnoreCase))
            {
                _chain = to.Chain;
                _parentPath = to.ParentPath;
                _name = to.Name;
            }
            else if (source.IsDirectory && StoragePath.Rebase(path, oldPath, "") is not null)
            {
                // Below the directory: its walked chain is root .. old parent (oldDepth handles), then the directory's
                // own handle (unchanged by a rename) and what lies below it; the names likewise.
                int oldDepth = oldPath.Split(StoragePath.Separator).Length; // the directory's chain length before
                _chain = [.. to.Chain, .. _chain.Skip(oldDepth)];
                _parentPath = [.. to.ParentPath, to.Name, .. _parentPath.Skip(oldDepth)];
            }
        }
    }

    public async ValueTask RenameAsync(string newPath, bool replaceIfExists, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        cancellationToken.ThrowIfCancellationRequested();
        var components = StoragePath.Split(newPath);
        if (components.Length == 0)
            throw new StorageException(StorageError.NameInvalid, "The share root is not a rename target.");
        if (Volume.ReadOnly)
            throw new StorageException(StorageError.ReadOnly, "The share is read-only.");
        List<byte[]> chain; string oldName;
        lock (_pathLock)
        {
            if (_chain.Count == 0)
                throw new StorageException(StorageError.AccessDenied, "The share root cannot be renamed.");
            if (_deleted)
                throw new StorageException(StorageError.NotFound, "The file was deleted.");
            chain = _chain; oldName = _name;
        }
        try
        {
            var oldParent = chain[^1];
            var target = await Volume.WalkAsync(components, cancellationToken).ConfigureAwait(false);
            if (target.Chain.Count == 0)
                throw new StorageException(StorageError.AccessDenied, "The share root cannot be replaced.");
            var newParent = target.ParentFh;
            await CheckIdentityAsync(oldParent, oldName, cancellationToken).ConfigureAwait(false);
            string newName = components[^1];
            bool sameParent = oldParent.AsSpan().SequenceEqual(newParent);
            if (!target.Exists)
            {
                if (target.Name != newName)
                    throw new StorageException(StorageError.Busy, "The rename target changed.");
                await RenameEntryAsync(oldParent, oldName, newParent, newName, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                string existing = target.Name;
                // the entry itself (not what a link points to)
                var entry = await Volume.LookupInAsync(newParent, existing, cancellationToken).ConfigureAwait(false);
                var targetAttrs = entry?.Attrs ?? target.Attrs!;
                bool sameEntry = sameParent && existing.Equals(oldName, StringComparison.OrdinalIgnoreCase) && targetAttrs.FileId == FileId;
                if (sameEntry)
                {
                    if (existing == newName && oldName == newName)
                        return;
                    await RenameEntryAsync(oldParent, oldName, newParent, newName, cancellationToken).ConfigureAwait(false); // case change only
                }
                else
                {
                    if (!replaceIfExists)
                        throw new StorageException(StorageError.AlreadyExists, "The rename target exists.");
                    if (targetAttrs.IsDirectory || (targetAttrs.IsLink && target.Attrs!.IsDirectory))
                        throw new StorageException(StorageError.AccessDenied, "A directory cannot be replaced.");
                    if (IsDirectory)
                        throw new StorageException(StorageError.AccessDenied, "A directory cannot replace a file.");
                    var (dos, _) = await Volume.ReadXattrsAsync(entry?.Fh ?? target.Fh!, cancellationToken).ConfigureAwait(false);
                    if ((NfsMetadata.StoredAttributes(false, dos, targetAttrs.Mode) & StorageFileAttributes.ReadOnly) != 0)
                        throw new StorageException(StorageError.AccessDenied, "The rename target is read-only.");
                    await RenameEntryAsync(oldParent, oldName, newParent, existing, cancellationToken).ConfigureAwait(false);
                    if (existing != newName)
                        await RenameEntryAsync(newParent, existing, newParent, newName, cancellationToken).ConfigureAwait(false);
                }
            }
            string oldPath = Path;
            var moved = target with { Name = newName };
            lock (_pathLock)
            {
                _chain = moved.Chain;
                _parentPath = moved.ParentPath;
                _name = newName;
            }
            Volume.Renamed(this, oldPath, moved); // outside this handle's lock: the others take theirs
        }
        catch (NfsStatusException e)
        {
            throw e.Status == Nfs4.XDev
                ? new StorageException(StorageError.OutsideShare, "Renaming across file systems: " + Nfs4.StatusName(e.Status), e.Status)
                : e.ToStorage("Renaming");
        }
    }

    private async Task RenameEntryAsync(byte[] oldParent, string oldName, byte[] newParent, string newName, CancellationToken ct)
    {
        var r = await Volume.RunAsync(c => { c.PutFh(oldParent); c.SaveFh(); c.PutFh(newParent); c.Rename(oldName, newName); }, true, ct)
            .ConfigureAwait(false);
        r.Ok(Nfs4.OpPutfh, "PUTFH"); r.Ok(Nfs4.OpSavefh, "SAVEFH"); r.Ok(Nfs4.OpPutfh, "PUTFH");
        int st = r.Next(Nfs4.OpRename);
        if (st is Nfs4.Exist or Nfs4.NotEmpty)
            throw new StorageException(StorageError.AlreadyExists, "Renaming: " + Nfs4.StatusName(st), st);
        if (st != Nfs4.Ok)
            throw new NfsStatusException(st, Nfs4.OpRename, "RENAME");
        var source = NfsOps.ReadChangeInfo(r.R);
        var target = NfsOps.ReadChangeInfo(r.R);
        string oldKey = NfsNameCache.Key(oldParent), newKey = NfsNameCache.Key(newParent);
        if (oldKey == newKey)
        {
            Volume.Names.Invalidate(oldKey);
        }
        else
        {
            Volume.Names.Changed(oldKey, source, null, oldName);
            Volume.Names.Changed(newKey, target, newName, null);
        }
    }

    /// <summary>Checks that <paramref name="name"/> in <paramref name="parent"/> is still this handle's object (or a link).</summary>
    private async Task CheckIdentityAsync(byte[] parent, string name, CancellationToken ct)
    {
        var r = await Volume.RunAsync(c => { c.PutFh(parent); c.Lookup(name); c.Getattr(NfsAttributes.Mask(Nfs4.AttrType, Nfs4.AttrFileid)); }, false, ct)
            .ConfigureAwait(false);
        int st = r.Next(Nfs4.OpPutfh);
        if (st is Nfs4.Stale or Nfs4.NoEnt)
            throw new StorageException(StorageError.NotFound, "The file's directory was moved or deleted.");
        if (st != Nfs4.Ok)
            throw new NfsStatusException(st, Nfs4.OpPutfh, "PUTFH");
        st = r.Next(Nfs4.OpLookup);
        if (st == Nfs4.NoEnt)
            throw new StorageException(StorageError.NotFound, "The file was moved or deleted by someone else.");
        if (st != Nfs4.Ok)
            throw new NfsStatusException(st, Nfs4.OpLookup, "LOOKUP");
        var attrs = r.ReadAttrs("GETATTR");
        if (attrs.FileId != FileId && !attrs.IsLink)
            throw new StorageException(StorageError.NotFound, "The name now refers to another file.");
    }

    public async ValueTask SetDeleteOnCloseAsync(bool deleteOnClose, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        if (deleteOnClose)
            await CheckDeletableAsync(cancellationToken).ConfigureAwait(false);
        _deleteOnClose = deleteOnClose;
    }

    public async ValueTask DeleteAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        await DeleteNowAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task CheckDeletableAsync(CancellationToken ct)
    {
        if (Volume.ReadOnly)
            throw new StorageException(StorageError.ReadOnly, "The share is read-only.");
        lock (_pathLock)
            if (_chain.Count == 0)
                throw new StorageException(StorageError.AccessDenied, "The share root cannot be deleted.");
        try
        {
            if (IsDirectory)
            {
                await foreach (var _ in Volume.ReadDirectoryAsync(Fh, [], ct).ConfigureAwait(false))
                    throw new StorageException(StorageError.DirectoryNotEmpty, "The directory is not empty.");
            }
            else
            {
                var attrs = await GetAttrsAsync(ct).ConfigureAwait(false);
                var (dos, _) = await Volume.ReadXattrsAsync(Fh, ct).ConfigureAwait(false);
                if ((NfsMetadata.StoredAttributes(false, dos, attrs.Mode) & StorageFileAttributes.ReadOnly) != 0)
                    throw new StorageException(StorageError.CannotDelete, "The file is read-only.");
            }
        }
        catch (NfsStatusException e) { throw e.ToStorage("Checking deletion"); }
    }

    private async Task DeleteNowAsync(CancellationToken ct)
    {
        await CheckDeletableAsync(ct).ConfigureAwait(false);
        byte[] parent; string name;
        lock (_pathLock)
        {
            if (_deleted)
                throw new StorageException(StorageError.NotFound, "The file was deleted.");
            parent = _chain[^1];
            name = _name;
        }
        try
        {
            await CheckIdentityAsync(parent, name, ct).ConfigureAwait(false);
            var r = await Volume.RunAsync(c => { c.PutFh(parent); c.Remove(name); }, true, ct).ConfigureAwait(false);
            r.Ok(Nfs4.OpPutfh, "PUTFH");
            int st = r.Next(Nfs4.OpRemove);
            if (st is Nfs4.NotEmpty or Nfs4.Exist)
                throw new StorageException(StorageError.DirectoryNotEmpty, "Deleting: " + Nfs4.StatusName(st), st);
            if (st != Nfs4.Ok)
                throw new NfsStatusException(st, Nfs4.OpRemove, "REMOVE");
            Volume.Names.Changed(NfsNameCache.Key(parent), NfsOps.ReadChangeInfo(r.R), null, name);
            lock (_pathLock) _deleted = true;
        }
        catch (NfsStatusException e) { throw e.ToStorage("Deleting"); }
    }

    // ------------------------------------------------------------------ lifetime

    internal void ThrowIfClosed()
    {
        if (Volatile.Read(ref _closed) != 0)
            throw new StorageException(StorageError.HandleClosed, "The handle is closed.");
    }

    private void RequireFile()
    {
        if (IsDirectory)
            throw new StorageException(StorageError.IsADirectory, "Data operations need a file.");
    }

    internal void RequireWrite()
    {
        if (Volume.ReadOnly)
            throw new StorageException(StorageError.ReadOnly, "The share is read-only.");
        if ((_access & StorageAccess.Write) == 0 || (_openAccess & Nfs4.ShareAccessWrite) == 0)
            throw new StorageException(StorageError.AccessDenied, "The handle was not opened for writing.");
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
            return;
        if (_deleteOnClose && !_deleted)
        {
            // Bounded: a server that stopped answering must not hold the close (and the SMB CLOSE behind it) for the
            // session's whole retry budget; the file then stays, and the log says so.
            using var cts = new CancellationTokenSource(Volume.HandleDisposeTimeout);
            try
            {
                await DeleteNowAsync(cts.Token).ConfigureAwait(false);
            }
            catch (StorageException e)
            {
                Volume.Logger.LogWarning(e, "Delete on close of {Path} failed", Path);
            }
            catch (OperationCanceledException) when (cts.IsCancellationRequested)
            {
                Volume.Logger.LogWarning("Delete on close of {Path} failed: the NFS server did not answer within {Seconds} s",
                    Path, Volume.HandleDisposeTimeout.TotalSeconds);
            }
        }
        Volume.Untrack(this);
        var state = _stateId;
        if (state is not null && _stateGeneration == Volume.Session.StateGeneration)
            Volume.EnqueueClose(Fh, state);
        _reopenLock.Dispose();
    }
}
