using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Server;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Wire;
using SmbCopy.Storage;
using StorageDisposition = SmbCopy.Storage.CreateDisposition;

namespace SmbCopy.Gateway.Smb.Files.Info;

/// <summary>SET_INFO with InfoType FILE (MS-SMB2 3.3.5.21.1, MS-FSA 2.1.5.14) on a file or directory open.</summary>
public static class FileInfoUpdates
{
    /// <summary>FILE_WRITE_THROUGH | FILE_SEQUENTIAL_ONLY: the only mode bits an SMB2 open may set (MS-FSA 2.1.5.14.8; Samba).</summary>
    private const uint SettableModeBits = 0x2 | 0x4;

    public static async ValueTask<NtStatus> SetAsync(SmbServer server, FileOpen open, FileInformationClass infoClass, ReadOnlyMemory<byte> buffer, CancellationToken cancel)
    {
        if (!Enum.IsDefined(infoClass)) return NtStatus.InvalidInfoClass;
        var span = buffer.Span;
        switch (infoClass)
        {
            case FileInformationClass.Basic:
                if (span.Length < FileBasicInformation.MinimumSize) return NtStatus.InfoLengthMismatch;
                return await SetBasicAsync(open, FileBasicInformation.Parse(span), cancel).ConfigureAwait(false);

            case FileInformationClass.Rename or FileInformationClass.RenameEx:
                if (span.Length < FileRenameInformation.MinimumSize) return NtStatus.InfoLengthMismatch;
                var rename = infoClass == FileInformationClass.Rename ? FileRenameInformation.Parse(span) : FileRenameInformation.ParseEx(span);
                return await FileRename.RenameAsync(server, open, rename, cancel).ConfigureAwait(false);

            case FileInformationClass.Link:
                if (span.Length < FileLinkInformation.MinimumSize) return NtStatus.InfoLengthMismatch;
                return NtStatus.NotSupported; // hard links are not offered by the storage contract

            case FileInformationClass.Disposition:
                if (span.Length < FileDispositionInformation.MinimumSize) return NtStatus.InfoLengthMismatch;
                bool delete = FileDispositionInformation.Parse(span).DeletePending;
                return await SetDispositionAsync(open, delete ? DispositionExFlags.Delete : DispositionExFlags.DoNotDelete, cancel).ConfigureAwait(false);

            case FileInformationClass.DispositionEx:
                if (span.Length < FileDispositionInformationEx.MinimumSize) return NtStatus.InfoLengthMismatch;
                return await SetDispositionAsync(open, FileDispositionInformationEx.Parse(span).Flags, cancel).ConfigureAwait(false);

            case FileInformationClass.Position:
                if (span.Length < FilePositionInformation.MinimumSize) return NtStatus.InfoLengthMismatch;
                long position = FilePositionInformation.Parse(span).CurrentByteOffset;
                if (position < 0) return NtStatus.InvalidParameter;
                open.Position = position;
                return NtStatus.Success;

            case FileInformationClass.Mode:
                if (span.Length < FileModeInformation.MinimumSize) return NtStatus.InfoLengthMismatch;
                uint mode = FileModeInformation.Parse(span).Mode;
                if ((mode & ~SettableModeBits) != 0) return NtStatus.InvalidParameter;
                open.Mode = mode;
                return NtStatus.Success;

            case FileInformationClass.FullEa:
                return await ExtendedAttributes.SetAsync(open, buffer, cancel).ConfigureAwait(false);

            case FileInformationClass.Allocation:
                if (span.Length < FileAllocationInformation.MinimumSize) return NtStatus.InfoLengthMismatch;
                return await SetSizeAsync(open, FileAllocationInformation.Parse(span).AllocationSize, allocation: true, cancel).ConfigureAwait(false);

            case FileInformationClass.EndOfFile:
                if (span.Length < FileEndOfFileInformation.MinimumSize) return NtStatus.InfoLengthMismatch;
                return await SetSizeAsync(open, FileEndOfFileInformation.Parse(span).EndOfFile, allocation: false, cancel).ConfigureAwait(false);

            case FileInformationClass.Pipe or FileInformationClass.PipeRemote:
                return NtStatus.InvalidParameter; // not a pipe

            default:
                return NtStatus.NotSupported; // ValidDataLength, ShortName, ObjectId, ...: documented but not settable here
        }
    }

    /// <summary>MS-FSA 2.1.5.14.2 FileBasicInformation.</summary>
    private static async ValueTask<NtStatus> SetBasicAsync(FileOpen open, FileBasicInformation basic, CancellationToken cancel)
    {
        if (!open.Has(AccessMask.FileWriteAttributes)) return NtStatus.AccessDenied;
        long[] times = [basic.CreationTime, basic.LastAccessTime, basic.LastWriteTime, basic.ChangeTime];
        if (times.Any(t => t < FileTime.Resume)) return NtStatus.InvalidParameter;

        var attributes = basic.FileAttributes;
        if (attributes != FileAttributes.None)
        {
            // A file cannot become a directory, nor a directory temporary.
            if (attributes.HasFlag(FileAttributes.Directory) && !open.IsDirectory) return NtStatus.InvalidParameter;
            if (attributes.HasFlag(FileAttributes.Temporary) && open.IsDirectory) return NtStatus.InvalidParameter;
        }
        if (open.Tree.Share.ReadOnly) return NtStatus.MediaWriteProtected;

        // MS-FSA 2.1.5.14.2: an explicit time or -1 stops this handle's writes from moving LastWriteTime
        // (UserSetModificationTime), -2 lets them again. Only LastWrite is tracked per open.
        if (basic.LastWriteTime == FileTime.Freeze || basic.LastWriteTime > 0) open.LastWriteFrozen = true;
        else if (basic.LastWriteTime == FileTime.Resume) open.LastWriteFrozen = false;
        // Any FileBasicInformation, even all zero, applies this open's pending delayed write-time update first
        // (Windows 2016, Samba: smb2.timestamps.delayed-write-vs-setbasic); an explicit LastWriteTime then wins
        // over every open's pending update.
        await open.WriteTime.ApplyPendingAsync(cancel).ConfigureAwait(false);
        if (basic.LastWriteTime > 0)
        {
            FileOpen[] opens;
            lock (open.Node.Gate) opens = [.. open.Node.Opens];
            foreach (var other in opens) other.WriteTime.ExplicitlySet(FileTime.ToDateTime(basic.LastWriteTime));
        }

        StorageFileAttributes? newAttributes = null;
        if (attributes != FileAttributes.None)
        {
            var settable = (StorageFileAttributes)(uint)attributes & StorageFileAttributes.Settable;
            newAttributes = settable == StorageFileAttributes.None ? StorageFileAttributes.Normal : settable;
        }
        var update = new FileInfoUpdate(Time(basic.CreationTime), Time(basic.LastAccessTime), Time(basic.LastWriteTime), Time(basic.ChangeTime), newAttributes);
        if (update == default) return NtStatus.Success;
        await open.Handle.SetInfoAsync(update, cancel).ConfigureAwait(false);
        // Tell CHANGE_NOTIFY what changed, so watches filtering on attributes or times see it (MS-FSCC 2.7.1).
        var changed = CompletionFilter.None;
        if (update.Attributes is not null) changed |= CompletionFilter.Attributes;
        if (update.CreationTime is not null) changed |= CompletionFilter.Creation;
        if (update.LastAccessTime is not null) changed |= CompletionFilter.LastAccess;
        if (update.LastWriteTime is not null || update.ChangeTime is not null) changed |= CompletionFilter.LastWrite;
        open.Tree.Share.Notifications?.Publish(open.Handle.Path, ChangeKind.Modified, open.IsDirectory, changed);
        return NtStatus.Success;
    }

    private static DateTime? Time(long fileTime) => fileTime > 0 ? FileTime.ToDateTime(fileTime) : null;

    /// <summary>
    /// MS-FSA 2.1.5.14.3 FileDispositionInformation(Ex): marks the file delete-pending on its node; the last
    /// close deletes it (FileOpen.CloseAsync). POSIX semantics remove the name now.
    /// </summary>
    private static async ValueTask<NtStatus> SetDispositionAsync(FileOpen open, DispositionExFlags flags, CancellationToken cancel)
    {
        if (!open.Has(AccessMask.Delete)) return NtStatus.AccessDenied;
        bool delete = flags.HasFlag(DispositionExFlags.Delete);
        if (delete)
        {
            if (open.Tree.Share.ReadOnly) return NtStatus.MediaWriteProtected;
            if (open.Handle.Path.Length == 0) return NtStatus.AccessDenied; // the share root
            var m = await open.Handle.GetInfoAsync(cancel).ConfigureAwait(false);
            if (m.IsDirectory)
            {
                await foreach (var _ in open.Handle.EnumerateAsync(null, cancel).ConfigureAwait(false))
                    return NtStatus.DirectoryNotEmpty;
            }
            else if (m.Attributes.HasFlag(StorageFileAttributes.ReadOnly) && !flags.HasFlag(DispositionExFlags.IgnoreReadOnlyAttribute))
            {
                return NtStatus.CannotDelete;
            }
        }

        if (flags.HasFlag(DispositionExFlags.OnClose))
        {
            open.DeleteOnClose = delete; // FILE_DISPOSITION_ON_CLOSE: this open's delete-on-close, not the file's state
            return NtStatus.Success;
        }
        lock (open.Node.Gate) open.Node.DeletePending = delete;
        if (delete && flags.HasFlag(DispositionExFlags.PosixSemantics))
        {
            await open.Handle.DeleteAsync(cancel).ConfigureAwait(false);
            if (open.Handle.StreamName is not null)
                open.Tree.Share.Notifications?.Publish(open.Handle.Path, ChangeKind.Modified, false, CompletionFilter.StreamName);
            else
                open.Tree.Share.Notifications?.Publish(open.Handle.Path, ChangeKind.Removed, open.IsDirectory);
        }
        return NtStatus.Success;
    }

    /// <summary>MS-FSA 2.1.5.14.1 / 2.1.5.14.4: FileAllocationInformation and FileEndOfFileInformation.</summary>
    private static async ValueTask<NtStatus> SetSizeAsync(FileOpen open, long size, bool allocation, CancellationToken cancel)
    {
        if (!open.Has(AccessMask.FileWriteData)) return NtStatus.AccessDenied;
        if (open.IsDirectory) return NtStatus.InvalidParameter;
        if (size < 0) return NtStatus.InvalidParameter;
        if (open.Tree.Share.ReadOnly) return NtStatus.MediaWriteProtected;
        if (allocation) await open.Handle.SetAllocationSizeAsync(size, cancel).ConfigureAwait(false);
        else await open.Handle.SetEndOfFileAsync(size, cancel).ConfigureAwait(false);
        // The storage moved LastWriteTime; a delayed update this open owes happens now (Windows, Samba:
        // smb2.timestamps.delayed-write-vs-seteof).
        open.WriteTime.StorageMovedTime();
        await open.WriteTime.ApplyPendingAsync(cancel).ConfigureAwait(false);
        // Size changes invalidate ODX tokens over the file and break other opens' level II oplocks.
        Copy.CopyHooks.EndOfFileChanged(open, size);
        Oplocks.BreakLevelII(open.Node, open);
        open.Tree.Share.Notifications?.Publish(open.Handle.Path, ChangeKind.Modified, false);
        return NtStatus.Success;
    }
}

/// <summary>SET_INFO FileRenameInformation / FileRenameInformationEx (MS-SMB2 3.3.5.21.1, MS-FSA 2.1.5.14.11).</summary>
public static class FileRename
{
    public static async ValueTask<NtStatus> RenameAsync(SmbServer server, FileOpen open, FileRenameInformation rename, CancellationToken cancel)
    {
        if (!open.Has(AccessMask.Delete)) return NtStatus.AccessDenied;
        if (rename.RootDirectory != 0) return NtStatus.InvalidParameter; // SMB2: names are from the share root
        var share = open.Tree.Share;

        // Windows clients send the full path ("dir\new.txt"), some with a leading separator.
        string target = rename.FileName.Replace('/', '\\').TrimStart('\\');
        if (target.Length == 0) return NtStatus.InvalidParameter;
        if (target.Contains(':')) return await RenameStreamAsync(open, target, rename.ReplaceIfExists, cancel).ConfigureAwait(false);
        if (share.ReadOnly) return NtStatus.MediaWriteProtected;

        string source = open.Handle.Path;
        if (source.Length == 0) return NtStatus.AccessDenied; // the share root

        // Renaming a directory with open files below it fails on Windows (ACCESS_DENIED).
        if (open.IsDirectory && HasOpensBelow(server, open, source)) return NtStatus.AccessDenied;

        // Windows opens the target's directory for the rename (FILE_ADD_FILE, sharing read and write): an open of
        // that directory that does not share write, or that holds DELETE, makes the rename a sharing violation.
        if (await ParentConflictsAsync(open, target, cancel).ConfigureAwait(false)) return NtStatus.SharingViolation;

        bool sameName = string.Equals(source, target, StringComparison.OrdinalIgnoreCase);
        if (!sameName)
        {
            var status = await CheckTargetAsync(open, target, rename.ReplaceIfExists, cancel).ConfigureAwait(false);
            if (status != NtStatus.Success) return status;
        }

        await open.Handle.RenameAsync(target, rename.ReplaceIfExists, cancel).ConfigureAwait(false);
        string renamed = open.Handle.Path;
        share.Notifications?.Publish(source, ChangeKind.RenamedOldName, open.IsDirectory);
        share.Notifications?.Publish(renamed, ChangeKind.RenamedNewName, open.IsDirectory);
        return NtStatus.Success;
    }

    /// <summary>
    /// MS-FSA 2.1.5.14.11: a stream is renamed with a name that is only a stream (":new" or ":new:$DATA"), from a named
    /// stream to another name of the same file. Renaming to or from the unnamed stream is not offered (INVALID_PARAMETER).
    /// </summary>
    private static async ValueTask<NtStatus> RenameStreamAsync(FileOpen open, string target, bool replace, CancellationToken cancel)
    {
        // "file:stream" as the target of a stream: Windows answers SHARING_VIOLATION (the file has this stream open);
        // from the file itself, a stream name is not a rename target.
        if (!target.StartsWith(':')) return open.Handle.StreamName is not null ? NtStatus.SharingViolation : NtStatus.InvalidParameter;
        var status = StreamNames.Parse(target, out var name);
        if (status != NtStatus.Success) return status;
        if (name.Path.Length != 0 || name.Index) return NtStatus.InvalidParameter;
        if (open.Handle.StreamName is null) return NtStatus.InvalidParameter; // the unnamed stream is not renamed to a named one
        if (open.Tree.Share.ReadOnly) return NtStatus.MediaWriteProtected;
        var nodes = open.Tree.Share.Nodes;
        if (!string.Equals(open.Handle.StreamName, name.Stream, StringComparison.OrdinalIgnoreCase))
        {
            // A target stream (or unnamed stream) that is open cannot be replaced.
            var node = nodes.Find(open.Node.FileId, name.Stream);
            if (node is not null)
            {
                lock (node.Gate)
                {
                    if (node.Opens.Count > 0) return name.Stream is null ? NtStatus.SharingViolation : replace ? NtStatus.AccessDenied : NtStatus.ObjectNameCollision;
                }
            }
        }
        // "::$DATA" (name.Stream null): the stream becomes the file's unnamed data stream.
        await open.Handle.RenameStreamAsync(name.Stream ?? "", replace, cancel).ConfigureAwait(false);
        nodes.Rekey(open.Node, open.Handle.StreamName);
        open.Tree.Share.Notifications?.Publish(open.Handle.Path, ChangeKind.Modified, false, CompletionFilter.StreamName);
        return NtStatus.Success;
    }

    /// <summary>
    /// An existing target: OBJECT_NAME_COLLISION without ReplaceIfExists; ACCESS_DENIED when it is a directory
    /// or open by anyone (MS-FSA 2.1.5.14.11: a target with opens cannot be replaced).
    /// </summary>
    private static async ValueTask<NtStatus> CheckTargetAsync(FileOpen open, string target, bool replace, CancellationToken cancel)
    {
        OpenResult existing;
        try
        {
            existing = await open.Volume.OpenAsync(target, new OpenRequest(StorageDisposition.Open, StorageAccess.None), cancel).ConfigureAwait(false);
        }
        catch (StorageException ex) when (ex.Error is StorageError.NotFound)
        {
            return NtStatus.Success;
        }
        await using var handle = existing.Handle;
        if (handle.FileId == open.Node.FileId) return NtStatus.Success; // another name of the same file (case change)
        if (!replace) return NtStatus.ObjectNameCollision;
        if (handle.IsDirectory) return NtStatus.AccessDenied;
        // Replacing a file deletes its named streams: an open one is an open of the target too.
        if (open.Tree.Share.Nodes.StreamsOf(handle.FileId).Count > 0) return NtStatus.AccessDenied;
        var node = open.Tree.Share.Nodes.Find(handle.FileId);
        if (node is not null)
        {
            lock (node.Gate)
            {
                if (node.Opens.Count > 0) return NtStatus.AccessDenied;
            }
        }
        return NtStatus.Success;
    }

    private static async ValueTask<bool> ParentConflictsAsync(FileOpen open, string target, CancellationToken cancel)
    {
        int slash = target.LastIndexOf('\\');
        string parent = slash < 0 ? "" : target[..slash];
        OpenResult opened;
        try
        {
            opened = await open.Volume.OpenAsync(parent, new OpenRequest(StorageDisposition.Open, StorageAccess.None, ObjectKind.Directory), cancel).ConfigureAwait(false);
        }
        catch (StorageException)
        {
            return false; // a missing target directory fails in the rename itself (OBJECT_PATH_NOT_FOUND)
        }
        await using var handle = opened.Handle;
        var node = open.Tree.Share.Nodes.Find(handle.FileId);
        if (node is null) return false;
        const AccessMask AddEntry = AccessMask.FileAddFile | AccessMask.Synchronize;
        lock (node.Gate) return node.ShareAccessConflicts(AddEntry, ShareAccess.Read | ShareAccess.Write);
    }

    private static bool HasOpensBelow(SmbServer server, FileOpen open, string directory)
    {
        string prefix = directory + @"\";
        foreach (var session in server.Sessions)
        {
            foreach (var other in session.Opens.Values)
            {
                if (other is FileOpen f && !ReferenceEquals(f, open) && ReferenceEquals(f.Tree.Share, open.Tree.Share)
                    && f.Handle.Path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                    return true;
            }
        }
        return false;
    }
}
