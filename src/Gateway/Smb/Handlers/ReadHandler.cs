using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Gateway.Smb.Pipes;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Gateway.Smb.Handlers;

/// <summary>
/// SMB2 READ (MS-SMB2 3.3.5.12). File data is read straight into the pooled frame the response is sent from: one
/// copy, from the kernel into the buffer that goes on the wire.
/// </summary>
public sealed class ReadHandler : ISmb2Handler
{
    public Smb2Command Command => Smb2Command.Read;
    public HandlerRequirements Requirements => HandlerRequirements.Tree;

    public int ExpectedPayloadSize(ReadOnlySpan<byte> message) =>
        PayloadField.UInt32At(message, 4);

    public async ValueTask<Smb2Response> HandleAsync(Smb2Request request)
    {
        var read = ReadRequest.Parse(request.Message, Smb2Header.Size);
        var open = request.ResolveOpen(read.FileId.Persistent, read.FileId.Volatile);
        if (open is null) return Smb2Response.Error(NtStatus.FileClosed);
        if (read.Length > request.Connection.MaxReadSize) return Smb2Response.Error(NtStatus.InvalidParameter);
        return open switch
        {
            PipeOpen pipe => await ReadPipeAsync(pipe, read).ConfigureAwait(false),
            FileOpen file => await ReadFileAsync(request, file, read).ConfigureAwait(false),
            _ => Smb2Response.Error(NtStatus.InvalidDeviceRequest),
        };
    }

    private static async ValueTask<Smb2Response> ReadPipeAsync(PipeOpen pipe, ReadRequest read)
    {
        var w = new WireWriter(ReadResponse.HeaderPartSize + (int)Math.Min(read.Length, 65536u));
        var (count, more) = await pipe.UseAsync(endpoint =>
        {
            int available = endpoint.PendingBytes;
            int take = (int)Math.Min((uint)available, read.Length);
            ReadResponse.WriteHeaderPart(w, (uint)take, 0);
            int n = endpoint.Read(w.GetSpan(take));
            return (n, endpoint.PendingBytes > 0);
        }).ConfigureAwait(false);
        if (count == 0 && !more)
        {
            w.Dispose();
            return Smb2Response.Error(NtStatus.PipeEmpty);
        }
        // A message larger than the read: the client reads the rest (MS-SMB2 3.3.5.12, named pipes).
        return more ? Smb2Response.WithStatus(NtStatus.BufferOverflow, w) : Smb2Response.Ok(w);
    }

    private static async ValueTask<Smb2Response> ReadFileAsync(Smb2Request request, FileOpen file, ReadRequest read)
    {
        if (file.IsDirectory) return Smb2Response.Error(NtStatus.InvalidDeviceRequest);
        if (!file.Has(AccessMask.FileReadData | AccessMask.FileExecute)) return Smb2Response.Error(NtStatus.AccessDenied);
        if (read.Offset > long.MaxValue) return Smb2Response.Error(NtStatus.InvalidParameter);
        if (file.Node.IoConflicts(file, read.Offset, read.Length, write: false)) return Smb2Response.Error(NtStatus.FileLockConflict);

        // The data goes straight into the buffer the response is sent from (Smb2Response.OkFramed): the dispatcher
        // writes the SMB2 header and length prefix in front of it and signs it in place.
        const int dataAt = Smb2Response.FrameHeadroom + ReadResponse.HeaderPartSize;
        var frame = System.Buffers.ArrayPool<byte>.Shared.Rent(dataAt + (int)read.Length);
        try
        {
            int total = 0;
            if (read.Length > 0)
            {
                var buffer = frame.AsMemory(dataAt, (int)read.Length);
                // A backend may return less than asked before end of file: keep reading.
                while (total < buffer.Length)
                {
                    int n = await file.Handle.ReadAsync((long)read.Offset + total, buffer[total..], request.Cancellation).ConfigureAwait(false);
                    if (n == 0) break;
                    total += n;
                }
            }
            // Nothing at the offset, or less than MinimumCount (also for a zero-length read), is end of file.
            if ((read.Length > 0 && total == 0) || total < read.MinimumCount)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(frame);
                return Smb2Response.Error(NtStatus.EndOfFile);
            }
            file.Position = (long)read.Offset + total; // FilePositionInformation follows reads, as Samba reports it
            ReadResponse.WriteHeaderPart(frame.AsSpan(Smb2Response.FrameHeadroom), (uint)total, 0);
            return Smb2Response.OkFramed(frame, ReadResponse.HeaderPartSize + total);
        }
        catch
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(frame);
            throw;
        }
    }
}
