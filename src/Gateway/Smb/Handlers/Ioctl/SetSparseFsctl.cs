using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Storage;

namespace SmbCopy.Gateway.Smb.Handlers.Ioctl;

/// <summary>
/// FSCTL_SET_SPARSE (MS-FSCC 2.3.64, MS-FSA 2.1.5.10.31): marks or unmarks the file sparse. Input empty means
/// "set"; otherwise the first byte (FILE_SET_SPARSE_BUFFER.SetSparse) decides. Needs FILE_WRITE_DATA,
/// FILE_APPEND_DATA or FILE_WRITE_ATTRIBUTES. No output.
/// </summary>
public sealed class SetSparseFsctl : IFsctlHandler
{
    public uint CtlCode => FsctlCodes.SetSparse;

    public async ValueTask<FsctlResult> HandleAsync(FsctlContext context)
    {
        if (context.Open is not FileOpen file) return FsctlResult.Error(NtStatus.InvalidDeviceRequest);
        var log = context.Request.Connection.Logger;
        // MS-FSA 2.1.5.10.31: only data streams can be sparse.
        if (file.IsDirectory) return FsctlResult.Error(NtStatus.InvalidParameter);
        if (!file.Has(AccessMask.FileWriteData | AccessMask.FileAppendData | AccessMask.FileWriteAttributes))
        {
            log.LogDebug("SET_SPARSE on {Open}: no write access", file.DisplayName);
            return FsctlResult.Error(NtStatus.AccessDenied);
        }
        if (file.Tree.Share.ReadOnly) return FsctlResult.Error(NtStatus.MediaWriteProtected);
        if ((file.Volume.Capabilities & StorageCapabilities.SparseFiles) == 0)
        {
            log.LogDebug("SET_SPARSE on {Open}: volume has no sparse files", file.DisplayName);
            return FsctlResult.Error(NtStatus.InvalidDeviceRequest);
        }
        bool sparse = context.Input.Length == 0 || context.Input[0] != 0;
        await file.Handle.SetInfoAsync(new FileInfoUpdate(Sparse: sparse), context.Request.Cancellation).ConfigureAwait(false);
        file.Tree.Share.Notifications?.Publish(file.Handle.Path, ChangeKind.Modified, false);
        return FsctlResult.Ok(ReadOnlyMemory<byte>.Empty);
    }
}
