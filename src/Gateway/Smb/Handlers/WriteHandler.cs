using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Gateway.Smb.Pipes;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;

namespace SmbCopy.Gateway.Smb.Handlers;

/// <summary>SMB2 WRITE (MS-SMB2 3.3.5.13). The data is written from the request buffer it arrived in.</summary>
public sealed class WriteHandler : ISmb2Handler
{
    /// <summary>Offset meaning "at end of file" for append-only opens (MS-FSA 2.1.5.3).</summary>
    private const ulong WriteAtEndOfFile = ulong.MaxValue;

    public Smb2Command Command => Smb2Command.Write;
    public HandlerRequirements Requirements => HandlerRequirements.Tree;

    public int ExpectedPayloadSize(ReadOnlySpan<byte> message) =>
        PayloadField.UInt32At(message, 4);

    public async ValueTask<Smb2Response> HandleAsync(Smb2Request request)
    {
        var write = WriteRequest.Parse(request.Message, Smb2Header.Size);
        var open = request.ResolveOpen(write.FileId.Persistent, write.FileId.Volatile);
        if (open is null) return Smb2Response.Error(NtStatus.FileClosed);
        if (write.Length > request.Connection.MaxWriteSize) return Smb2Response.Error(NtStatus.InvalidParameter);
        switch (open)
        {
            case PipeOpen pipe:
                await pipe.UseAsync(endpoint => { endpoint.Write(write.Data.Span); return 0; }).ConfigureAwait(false);
                return Smb2Response.Ok(new WriteResponse((uint)write.Data.Length).WriteTo, 16);
            case FileOpen file:
                return await WriteFileAsync(request, file, write).ConfigureAwait(false);
            default:
                return Smb2Response.Error(NtStatus.InvalidDeviceRequest);
        }
    }

    private static async ValueTask<Smb2Response> WriteFileAsync(Smb2Request request, FileOpen file, WriteRequest write)
    {
        if (file.IsDirectory) return Smb2Response.Error(NtStatus.InvalidDeviceRequest);
        if (!file.Has(AccessMask.FileWriteData | AccessMask.FileAppendData)) return Smb2Response.Error(NtStatus.AccessDenied);
        if (request.Tree!.Share.ReadOnly) return Smb2Response.Error(NtStatus.MediaWriteProtected);

        long offset;
        if (write.Offset == WriteAtEndOfFile || !file.Has(AccessMask.FileWriteData))
        {
            // Append-only opens always write at the end (MS-FSA 2.1.5.3).
            offset = (await file.Handle.GetInfoAsync(request.Cancellation).ConfigureAwait(false)).EndOfFile;
        }
        else
        {
            if (write.Offset > long.MaxValue || (long)write.Offset + write.Data.Length < 0) return Smb2Response.Error(NtStatus.InvalidParameter);
            offset = (long)write.Offset;
        }
        if (file.Node.IoConflicts(file, (ulong)offset, (ulong)write.Data.Length, write: true)) return Smb2Response.Error(NtStatus.FileLockConflict);

        // The write's time change is delayed as Windows and Samba delay it, and a time frozen or set through this
        // open survives its writes (MS-FSA 2.1.5.3): both held in memory on the node (DelayedWriteTime), no storage call.
        await file.WriteTime.BeforeWriteAsync(request.Cancellation).ConfigureAwait(false);
        if (write.Data.Length > 0)
            await file.Handle.WriteAsync(offset, write.Data, request.Cancellation).ConfigureAwait(false);
        file.WriteTime.AfterWrite();
        Copy.CopyHooks.DataChanged(file, offset, write.Data.Length);
        if ((write.Flags & WriteRequest.FlagWriteThrough) != 0)
            await file.Handle.FlushAsync(request.Cancellation).ConfigureAwait(false);
        Oplocks.BreakLevelII(file.Node, file);
        request.Tree.Share.Notifications?.Publish(file.Handle.Path, ChangeKind.Modified, false);
        return Smb2Response.Ok(new WriteResponse((uint)write.Data.Length).WriteTo, 16);
    }
}
