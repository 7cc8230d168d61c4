using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Protocol.Wire;
using SmbCopy.Storage;
using StorageDisposition = SmbCopy.Storage.CreateDisposition;

namespace SmbCopy.Gateway.Smb.Files;

/// <summary>
/// The file-system half of CREATE (MS-SMB2 3.3.5.9, MS-FSA 2.1.5.1): access against the share,
/// the storage open, delete-pending and share-mode checks on the file's node, overwrite, the create
/// contexts Windows sends, and the response.
/// </summary>
public static class FileCreate
{
    private static readonly ShareAccess AllShare = ShareAccess.Read | ShareAccess.Write | ShareAccess.Delete;
    private const AccessMask WriteRights = AccessMask.FileWriteData | AccessMask.FileAppendData | AccessMask.FileWriteEa |
        AccessMask.FileWriteAttributes | AccessMask.Delete | AccessMask.WriteDac | AccessMask.WriteOwner | AccessMask.FileDeleteChild;

    /// <summary>
    /// A CREATE waiting for an oplock break answers STATUS_PENDING first — unless requests follow it in a
    /// compound: those cannot wait behind an async one, so it waits in place and the compound goes on after
    /// the break (Windows lets such an open wait, MS-SMB2 3.3.5.2.7 note; Samba the same; smbtorture
    /// compound.compound-break opens an Office file held with a batch oplock, then GETINFO on it, in one compound).
    /// </summary>
    private static ValueTask GoAsyncForBreakAsync(Smb2Request request) =>
        request.Header.NextCommand != 0 ? ValueTask.CompletedTask : request.GoAsyncAsync();

    public static async ValueTask<(NtStatus Status, FileOpen? Open, WireWriter? Body)> OpenAsync(Smb2Request request, CreateRequest create)
    {
        var tree = request.Tree!;
        var session = request.Session!;
        var share = tree.Share;

        var nameStatus = StreamNames.Parse(create.Name, out var name);
        if (nameStatus != NtStatus.Success) return (nameStatus, null, null);
        string path = name.Path;

        foreach (var context in create.CreateContexts)
        {
            switch (context.Name)
            {
                case CreateContextNames.Timewarp:
                    return (NtStatus.ObjectNameNotFound, null, null); // no previous versions
            }
        }

        var access = create.DesiredAccess.MapGenericToFile();
        if (access.HasFlag(AccessMask.MaximumAllowed))
            access = (access & ~AccessMask.MaximumAllowed) | (AccessMask)tree.MaximalAccess;
        if (access.HasFlag(AccessMask.AccessSystemSecurity)) return (NtStatus.PrivilegeNotHeld, null, null);
        if ((access & ~(AccessMask)tree.MaximalAccess & ~AccessMask.Synchronize) != 0)
            return (NtStatus.AccessDenied, null, null);

        var options = create.CreateOptions;
        if (options.HasFlag(CreateOptions.DeleteOnClose) && !access.HasFlag(AccessMask.Delete))
            return (NtStatus.AccessDenied, null, null);

        // MS-FSA 2.1.5.1: delete-on-close of a file created read-only cannot be honoured: refuse it before creating.
        if (options.HasFlag(CreateOptions.DeleteOnClose) && create.FileAttributes.HasFlag(FileAttributes.ReadOnly)
            && create.CreateDisposition is CreateDisposition.Create)
            return (NtStatus.CannotDelete, null, null);

        var disposition = create.CreateDisposition;
        bool overwrite = disposition is CreateDisposition.Overwrite or CreateDisposition.OverwriteIf or CreateDisposition.Supersede;
        if (share.ReadOnly && (overwrite || disposition == CreateDisposition.Create || options.HasFlag(CreateOptions.DeleteOnClose)))
            return (NtStatus.MediaWriteProtected, null, null);

        var kind = options.HasFlag(CreateOptions.DirectoryFile) ? ObjectKind.Directory
            : options.HasFlag(CreateOptions.NonDirectoryFile) ? ObjectKind.File : ObjectKind.Any;
        // MS-FSA 2.1.5.1: a named data stream is never a directory; "::$DATA" is the unnamed data stream, which a
        // directory does not have; "::$INDEX_ALLOCATION" is the directory itself.
        if (name.Stream is not null || name.UnnamedData)
        {
            if (kind == ObjectKind.Directory) return (NtStatus.NotADirectory, null, null);
            kind = ObjectKind.File;
        }
        else if (name.Index)
        {
            if (kind == ObjectKind.File) return (NtStatus.FileIsADirectory, null, null);
            kind = ObjectKind.Directory;
        }
        var storageAccess = StorageAccess.None;
        if (access.HasAny(AccessMask.FileReadData | AccessMask.FileExecute)) storageAccess |= StorageAccess.Read;
        if (access.HasAny(AccessMask.FileWriteData | AccessMask.FileAppendData) || overwrite) storageAccess |= StorageAccess.Write;

        // Overwrite and supersede are done after the share-mode check, on the opened file.
        var storageDisposition = disposition switch
        {
            CreateDisposition.Overwrite => StorageDisposition.Open,
            CreateDisposition.OverwriteIf or CreateDisposition.Supersede => StorageDisposition.OpenIf,
            _ => (StorageDisposition)(int)disposition,
        };
        long allocation = 0;
        if (create.FindContext(CreateContextNames.AllocationSize) is { } alsi)
            allocation = CreateContextData.ParseAllocationSize(alsi.Data.Span);
        var attributes = (StorageFileAttributes)(uint)(create.FileAttributes & ~(FileAttributes.Directory | FileAttributes.Normal));

        var volume = await share.GetVolumeAsync().ConfigureAwait(false);
        if (name.Stream is not null && !volume.Capabilities.HasFlag(StorageCapabilities.NamedStreams))
            return (NtStatus.ObjectNameNotFound, null, null); // FILE_NAMED_STREAMS is not announced for this share
        List<StorageEa>? eas = null;
        if (create.FindContext(CreateContextNames.ExtendedAttributes) is { } extA)
        {
            var (eaStatus, parsedEas) = Info.ExtendedAttributes.ParseForSet(volume, extA.Data.Span);
            if (eaStatus != NtStatus.Success) return (eaStatus, null, null);
            eas = parsedEas;
        }
        OpenResult opened;
        try
        {
            opened = await volume.OpenAsync(path,
                new OpenRequest(storageDisposition, storageAccess, kind, attributes, allocation, name.Stream), request.Cancellation).ConfigureAwait(false);
        }
        catch (StorageException ex) when (ex.Error == StorageError.AlreadyExists && disposition == CreateDisposition.Create && kind != ObjectKind.Directory)
        {
            return (NtStatus.ObjectNameCollision, null, null);
        }
        catch (StorageException ex) when (ex.Error == StorageError.NotADirectory && kind == ObjectKind.Directory && disposition == CreateDisposition.Create)
        {
            return (NtStatus.ObjectNameCollision, null, null);
        }

        var handle = opened.Handle;
        var node = share.Nodes.Acquire(handle.FileId, handle.StreamName);
        var action = (CreateAction)(int)opened.Action;
        bool existed = opened.Action == OpenAction.Opened;
        ulong id = session.NextVolatileId();
        var open = new FileOpen(request.Server.DurableOpens.NextPersistentId(), id, tree, access, create.ShareAccess & AllShare, handle, node, volume);
        var granted = OplockLevel.None;
        List<FileOpen>? levelII = null;
        try
        {
            // Oplocks against this open, in MS-FSA 2.1.5.1.2.1's order: a delete-pending file fails before any oplock
            // is touched (smbtorture oplock.doc); a share-mode conflict breaks only a batch oplock (its holder may
            // be caching a closed handle and can really close it), then the conflict is checked again; without a
            // conflict, every open but a stat open breaks an exclusive or batch oplock (2.1.4.12), and so does an
            // overwrite even when it is a stat open (it changes the data: oplock.exclusive5, batch13/14/16). The
            // break is acknowledged (or times out) before this CREATE completes, behind an interim response.
            if (existed && !handle.IsDirectory)
            {
                bool deletePending, conflict;
                lock (node.Gate)
                {
                    deletePending = node.DeletePending;
                    conflict = node.ShareAccessConflicts(access, open.ShareAccess);
                }
                if (!deletePending && (conflict || overwrite || !Oplocks.IsStatOpen(access)))
                    await Oplocks.BreakForOpenAsync(node, toNone: overwrite, () => GoAsyncForBreakAsync(request), request.Cancellation,
                        sharingViolation: conflict).ConfigureAwait(false);
            }
            lock (node.Gate)
            {
                if (node.DeletePending || share.Nodes.IsDeleteDeferred(handle.FileId)) throw new SmbStatusException(NtStatus.DeletePending);
                if (existed && node.ShareAccessConflicts(access, open.ShareAccess)) throw new SmbStatusException(NtStatus.SharingViolation);
                // Deleting a file deletes its streams: an open stream that does not share delete keeps the file from
                // being opened for DELETE (MS-FSA 2.1.5.1.2; smb2.streams.delete).
                if (existed && handle.StreamName is null && access.HasFlag(AccessMask.Delete) && StreamBlocksDelete(share.Nodes, handle.FileId))
                    throw new SmbStatusException(NtStatus.SharingViolation);
                // Overwrite and supersede change the data: the other opens' level II oplocks break to none (2.1.4.12).
                if (existed && overwrite) levelII = Oplocks.TakeLevelII(node, except: null);
                node.AddOpen(open);
                granted = Oplocks.Grant(node, open, create.RequestedOplockLevel);
            }
            Oplocks.SendLevelIIBreaks(levelII);
        }
        catch (OperationCanceledException)
        {
            share.Nodes.Release(node);
            await handle.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        catch (SmbStatusException ex)
        {
            share.Nodes.Release(node);
            await handle.DisposeAsync().ConfigureAwait(false);
            return (ex.Status, null, null);
        }

        try
        {
            var metadata = await handle.GetInfoAsync(request.Cancellation).ConfigureAwait(false);
            if (existed && overwrite)
            {
                if (metadata.IsDirectory) throw new SmbStatusException(NtStatus.InvalidParameter);
                var mask = metadata.Attributes & (StorageFileAttributes.Hidden | StorageFileAttributes.System);
                // MS-FSA 2.1.5.1.2.1: overwriting a hidden/system file needs those attributes in the request.
                if ((mask & ~attributes) != 0) throw new SmbStatusException(NtStatus.AccessDenied);
                await handle.SetEndOfFileAsync(0, request.Cancellation).ConfigureAwait(false);
                if (handle.StreamName is null) await DeleteStreamsAsync(volume, share.Nodes, handle, request.Cancellation).ConfigureAwait(false);
                await handle.SetInfoAsync(new FileInfoUpdate(Attributes: attributes | StorageFileAttributes.Archive), request.Cancellation).ConfigureAwait(false);
                if (allocation > 0) await handle.SetAllocationSizeAsync(allocation, request.Cancellation).ConfigureAwait(false);
                node.WriteTime.StorageMoved();
                metadata = await handle.GetInfoAsync(request.Cancellation).ConfigureAwait(false);
                action = disposition == CreateDisposition.Supersede ? CreateAction.Superseded : CreateAction.Overwritten;
            }
            // MS-FSA 2.1.5.1.2.1: EAs given with the CREATE are set on a new or overwritten file; a caller that does
            // not understand EAs cannot open a file with FILE_NEED_EA ones.
            if (eas is not null && action != CreateAction.Opened)
                await handle.SetEasAsync(eas, request.Cancellation).ConfigureAwait(false);
            else if (action == CreateAction.Opened && options.HasFlag(CreateOptions.NoEaKnowledge)
                && volume.Capabilities.HasFlag(StorageCapabilities.FileEas)
                && (await handle.GetEasAsync(request.Cancellation).ConfigureAwait(false)).Any(e => (e.Flags & StorageEa.NeedEa) != 0))
                throw new SmbStatusException(NtStatus.AccessDenied);
            // The LastWriteTime other opens' writes hold for clients (DelayedWriteTime); the first open seeds it.
            metadata = node.WriteTime.Observe(metadata);
            if (options.HasFlag(CreateOptions.DeleteOnClose))
            {
                if (metadata.Attributes.HasFlag(StorageFileAttributes.ReadOnly)) throw new SmbStatusException(NtStatus.CannotDelete);
                open.DeleteOnClose = true;
            }
            session.Opens[id] = open;
            if (handle.StreamName is not null)
            {
                // A stream is not a directory entry: its file changed (FILE_NOTIFY_CHANGE_STREAM_NAME / _SIZE).
                if (action != CreateAction.Opened)
                    share.Notifications?.Publish(handle.Path, ChangeKind.Modified, false,
                        action == CreateAction.Created ? CompletionFilter.StreamName : CompletionFilter.StreamSize | CompletionFilter.StreamWrite);
            }
            else if (action == CreateAction.Created)
                share.Notifications?.Publish(handle.Path, ChangeKind.Added, metadata.IsDirectory);
            else if (action != CreateAction.Opened)
                share.Notifications?.Publish(handle.Path, ChangeKind.Modified, metadata.IsDirectory);

            var contexts = new List<CreateResponseContext>();
            if (create.FindContext(CreateContextNames.MaximalAccess) is not null)
            {
                var maximal = (AccessMask)tree.MaximalAccess;
                if (metadata.Attributes.HasFlag(StorageFileAttributes.ReadOnly) && !metadata.IsDirectory)
                    maximal &= ~(AccessMask.FileWriteData | AccessMask.FileAppendData);
                contexts.Add(CreateResponseContext.MaximalAccess(NtStatus.Success, maximal));
            }
            if (create.FindContext(CreateContextNames.QueryOnDiskId) is not null)
            {
                var info = await volume.GetVolumeInfoAsync(request.Cancellation).ConfigureAwait(false);
                contexts.Add(CreateResponseContext.QueryOnDiskId(metadata.FileId, info.SerialNumber));
            }
            if (Durable.DurableOpens.Grant(request, create, open, granted) is { } durable) contexts.Add(durable);
            var w = WriteResponse(open, metadata, granted, action, contexts);
            return (NtStatus.Success, open, w);
        }
        catch (Exception ex)
        {
            session.Opens.TryRemove(id, out _);
            // A file this CREATE made does not survive its failure.
            open.DeleteOnClose = action == CreateAction.Created;
            await open.CloseAsync().ConfigureAwait(false);
            if (ex is SmbStatusException s) return (s.Status, null, null);
            throw;
        }
    }

    private static bool StreamBlocksDelete(FileNodeTable nodes, ulong fileId)
    {
        foreach (var stream in nodes.StreamsOf(fileId))
        {
            lock (stream.Gate)
            {
                if (stream.Opens.Any(o => !o.ShareAccess.HasFlag(ShareAccess.Delete))) return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Overwrite and supersede of a file replace all its data: its named streams are deleted (MS-FSA 2.1.5.1.2.1;
    /// smb2.streams.create-disposition). Streams open right now are left alone.
    /// </summary>
    private static async ValueTask DeleteStreamsAsync(IStorageVolume volume, FileNodeTable nodes, IStorageHandle handle, CancellationToken cancel)
    {
        foreach (var s in await handle.GetStreamsAsync(cancel).ConfigureAwait(false))
        {
            if (nodes.Find(handle.FileId, s.Name) is not null) continue;
            try
            {
                var opened = await volume.OpenAsync(handle.Path, new OpenRequest(StorageDisposition.Open, StorageAccess.None,
                    ObjectKind.File, Stream: s.Name), cancel).ConfigureAwait(false);
                await using (opened.Handle.ConfigureAwait(false))
                    await opened.Handle.DeleteAsync(cancel).ConfigureAwait(false);
            }
            catch (StorageException) { /* gone meanwhile */ }
        }
    }

    /// <summary>The CREATE response body (MS-SMB2 2.2.14) for <paramref name="open"/> with the file's metadata.</summary>
    internal static WireWriter WriteResponse(FileOpen open, FileMetadata metadata, OplockLevel oplock, CreateAction action,
        List<CreateResponseContext> contexts)
    {
        var w = new WireWriter(256);
        new CreateResponse
        {
            OplockLevel = oplock,
            CreateAction = action,
            CreationTime = metadata.CreationTime.ToFileTimeUtc(),
            LastAccessTime = metadata.LastAccessTime.ToFileTimeUtc(),
            LastWriteTime = metadata.LastWriteTime.ToFileTimeUtc(),
            ChangeTime = metadata.ChangeTime.ToFileTimeUtc(),
            AllocationSize = metadata.AllocationSize,
            EndOfFile = metadata.EndOfFile,
            FileAttributes = (FileAttributes)(uint)metadata.Attributes,
            FileId = new Smb2FileId(open.PersistentId, open.VolatileId),
            Contexts = contexts,
        }.WriteTo(w);
        return w;
    }
}
