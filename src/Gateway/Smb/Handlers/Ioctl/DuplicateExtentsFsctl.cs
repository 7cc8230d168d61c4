using SmbCopy.Gateway.Observability;
using SmbCopy.Gateway.Smb.Copy;
using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Storage;
using SmbCopy.Storage.Copy;

namespace SmbCopy.Gateway.Smb.Handlers.Ioctl;

/// <summary>FSCTL_DUPLICATE_EXTENTS_TO_FILE (MS-SMB2 3.3.5.15.17, MS-FSA 2.1.5.10.4): block clone, sent on the target.</summary>
public sealed class DuplicateExtentsFsctl : IFsctlHandler
{
    public uint CtlCode => FsctlCodes.DuplicateExtentsToFile;

    public ValueTask<FsctlResult> HandleAsync(FsctlContext context)
    {
        if (context.Input.Length < DuplicateExtentsData.Size)
            return ValueTask.FromResult(DuplicateExtentsProcessor.Refuse(context, NtStatus.InvalidParameter, "input shorter than 40 bytes"));
        var data = DuplicateExtentsData.Parse(context.Input);
        return DuplicateExtentsProcessor.HandleAsync(context, "DUPLICATE_EXTENTS", data.SourceFileId, data.SourceFileOffset,
            data.TargetFileOffset, data.ByteCount, structureSizeValid: true, atomic: false);
    }
}

/// <summary>
/// The checks of MS-FSA 2.1.5.10.4/5 in the order of protocol-facts A.5, then the clone. A clone asked to be atomic
/// (DUPLICATE_EXTENTS_DATA_EX_SOURCE_ATOMIC) is the backend's all-or-nothing clone or an error, never a copy. Without
/// the flag, a clone the backend refuses at run time (not cross-device) is done as a copy by the engine, which records
/// the fallback.
/// <para>No byte-range lock check: Samba's smb2.ioctl dup_extents_src_lock / dest_lock, run against Windows Server 2016
/// ReFS, show that duplicate extents succeeds over other opens' exclusive locks (unlike copy-chunk).</para>
/// </summary>
internal static class DuplicateExtentsProcessor
{
    public static FsctlResult Refuse(FsctlContext context, NtStatus status, string why)
    {
        context.Request.Connection.Logger.LogInformation("{Fsctl} on {Target}: {Status}: {Why}",
            context.Ioctl.CtlCode == FsctlCodes.DuplicateExtentsToFileEx ? "DUPLICATE_EXTENTS_EX" : "DUPLICATE_EXTENTS",
            context.Open?.DisplayName, status, why);
        return FsctlResult.Error(status);
    }

    public static async ValueTask<FsctlResult> HandleAsync(FsctlContext context, string name, Smb2FileId sourceId,
        long sourceOffset, long targetOffset, long count, bool structureSizeValid, bool atomic)
    {
        var request = context.Request;
        var cancel = request.Cancellation;

        // The source: any open of this session (another tree connect is fine), by its volatile id.
        if (request.Session is null || !request.Session.Opens.TryGetValue(sourceId.Volatile, out var sourceOpen)
            || sourceOpen.PersistentId != sourceId.Persistent)
            return Refuse(context, NtStatus.InvalidHandle, "the source FileId names no open of this session");
        if (context.Open is not FileOpen target)
            return Refuse(context, NtStatus.InvalidDeviceRequest, "the target is not a file of a disk share");
        if ((target.Volume.Capabilities & StorageCapabilities.CloneRange) == 0 || target.Volume.CloneAlignment <= 0)
            return Refuse(context, NtStatus.InvalidDeviceRequest, $"share {target.Tree.Share.Name} cannot clone");
        if (!structureSizeValid)
            return Refuse(context, NtStatus.NotSupported, "StructureSize is not 0x30");
        if (target.Tree.Share.ReadOnly)
            return Refuse(context, NtStatus.MediaWriteProtected, "read-only share");
        if (!target.Has(AccessMask.FileWriteData))
            return Refuse(context, NtStatus.AccessDenied, "the target open lacks FILE_WRITE_DATA");

        long cluster = target.Volume.CloneAlignment;
        if (sourceOffset < 0 || targetOffset < 0 || count < 0
            || sourceOffset % cluster != 0 || targetOffset % cluster != 0 || count % cluster != 0
            || sourceOffset > long.MaxValue - count || targetOffset > long.MaxValue - count)
            return Refuse(context, NtStatus.InvalidParameter, $"offsets/count not multiples of the cluster size {cluster}");
        if (count == 0) return FsctlResult.Ok(ReadOnlyMemory<byte>.Empty);

        if (target.IsDirectory || sourceOpen is not FileOpen source || source.IsDirectory)
            return Refuse(context, NtStatus.NotSupported, "source and target must be data streams");
        if (!source.Has(AccessMask.FileReadData) || !source.Has(AccessMask.FileReadAttributes))
            return Refuse(context, NtStatus.InvalidParameter, "the source open lacks FILE_READ_DATA or FILE_READ_ATTRIBUTES");

        var srcInfo = await source.Handle.GetInfoAsync(cancel).ConfigureAwait(false);
        var dstInfo = await target.Handle.GetInfoAsync(cancel).ConfigureAwait(false);
        // Ranges are checked against the allocation (the end of file rounded up to a cluster): clients round up.
        if (sourceOffset + count > RoundUp(srcInfo.EndOfFile, cluster))
            return Refuse(context, NtStatus.NotSupported, $"source range {sourceOffset}+{count} beyond its end {srcInfo.EndOfFile}");
        if (source.Volume.GetType() != target.Volume.GetType())
            return Refuse(context, NtStatus.InvalidParameter, "source and target are on different volumes");
        if ((srcInfo.Attributes & StorageFileAttributes.SparseFile) != 0 && (dstInfo.Attributes & StorageFileAttributes.SparseFile) == 0)
            return Refuse(context, NtStatus.NotSupported, "sparse source into a non-sparse target");
        var srcEnd = new CopyEndpoint(source.Volume, source.Handle, sourceOffset);
        var dstEnd = new CopyEndpoint(target.Volume, target.Handle, targetOffset);
        if (CopyEngine.IsSameFile(srcEnd, dstEnd) && CopyEngine.Overlaps(sourceOffset, targetOffset, count))
            return Refuse(context, NtStatus.NotSupported, "overlapping ranges of one file");

        // What exists of the source range (its last cluster may be partial). A clone never extends the target
        // (Windows block cloning: the client sets the target's size first; Samba's dup_extents_len_beyond_dest and
        // sparse_dest, run against Windows Server 2016, show success and an unchanged size): the part past the
        // target's last cluster is not cloned.
        long length = Math.Min(count, srcInfo.EndOfFile - sourceOffset);
        long room = RoundUp(dstInfo.EndOfFile, cluster) - targetOffset;
        if (room <= 0)
        {
            request.Connection.Logger.LogInformation("{Fsctl}: target range {Offset}+{Count} lies past the end {Eof} of {Path}: nothing to clone",
                name, targetOffset, count, dstInfo.EndOfFile, target.Handle.Path);
            return FsctlResult.Ok(ReadOnlyMemory<byte>.Empty);
        }
        length = Math.Min(length, room);
        string share = target.Tree.Share.Name;
        try
        {
            // A clone takes milliseconds: interim response only if it is still running after a while (not per size).
            await InterimResponse.AwaitAsync(request, CopyActivityLog.TrackAsync(context, name, source, target, length,
                () => CopyEngine.Shared.CloneAsync(srcEnd, dstEnd, length, share, cancel))).ConfigureAwait(false);
        }
        catch (StorageException e) when (e.Error == StorageError.CrossDevice)
        {
            return Refuse(context, NtStatus.InvalidParameter, "source and target are on different volumes: " + e.Message);
        }
        catch (StorageException e) when (!atomic && e.Error is StorageError.NotSupported or StorageError.InvalidParameter)
        {
            // Not atomic: the same bytes by the next cheapest method; the engine records why.
            request.Connection.Logger.LogInformation("{Fsctl}: clone of {Path} refused ({Message}); copying instead", name,
                target.Handle.Path, e.Message);
            var copy = await InterimResponse.AwaitAsync(request, CopyActivityLog.TrackAsync(context, name, source, target, length,
                () => CopyEngine.Shared.CopyAsync(srcEnd, dstEnd, length,
                    new CopyOptions(AllowClone: false, Share: share, CloneSkipReason: CopyFallbackReason.CloneRefused,
                        SourceEndOfFile: srcInfo.EndOfFile), cancel))).ConfigureAwait(false);
            if (copy.BytesCopied > 0)
            {
                await KeepEndOfFileAsync(target, dstInfo.EndOfFile, targetOffset + copy.BytesCopied, cancel).ConfigureAwait(false);
                Changed(target, targetOffset, copy.BytesCopied);
            }
            if (copy.Error is not null) return Refuse(context, StatusMapper.FromException(copy.Error), copy.Error.Message);
            return FsctlResult.Ok(ReadOnlyMemory<byte>.Empty);
        }
        catch (StorageException e)
        {
            var status = e.Error switch
            {
                StorageError.NotSupported => NtStatus.InvalidDeviceRequest,
                _ => StatusMapper.FromStorageError(e.Error),
            };
            return Refuse(context, status, (atomic ? "atomic clone failed: " : "clone failed: ") + e.Message);
        }
        await KeepEndOfFileAsync(target, dstInfo.EndOfFile, targetOffset + length, cancel).ConfigureAwait(false);
        Changed(target, targetOffset, length);
        return FsctlResult.Ok(ReadOnlyMemory<byte>.Empty);
    }

    /// <summary>
    /// A clone of a last partial cluster can move the target's end of file; put it back. A range that ends within
    /// the old end of file cannot have moved it: no query then (one statx and its xattr reads per request saved).
    /// </summary>
    private static async ValueTask KeepEndOfFileAsync(FileOpen target, long endOfFile, long rangeEnd, CancellationToken cancel)
    {
        if (rangeEnd <= endOfFile) return;
        var after = await target.Handle.GetInfoAsync(cancel).ConfigureAwait(false);
        if (after.EndOfFile > endOfFile) await target.Handle.SetEndOfFileAsync(endOfFile, cancel).ConfigureAwait(false);
    }

    private static void Changed(FileOpen target, long offset, long length)
    {
        CopyHooks.DataChanged(target, offset, length);
        target.Tree.Share.Notifications?.Publish(target.Handle.Path, ChangeKind.Modified, false);
    }

    private static long RoundUp(long value, long unit) => value % unit == 0 ? value : value + unit - value % unit;
}
