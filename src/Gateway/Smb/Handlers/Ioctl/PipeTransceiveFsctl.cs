using SmbCopy.Gateway.Smb.Pipes;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Smb.Handlers.Ioctl;

/// <summary>
/// FSCTL_PIPE_TRANSCEIVE (MS-SMB2 3.3.5.15.1): write a request to the pipe and return its reply; a
/// reply larger than MaxOutputResponse returns what fits with STATUS_BUFFER_OVERFLOW, the rest is READ.
/// </summary>
public sealed class PipeTransceiveFsctl : IFsctlHandler
{
    public uint CtlCode => FsctlCodes.PipeTransceive;

    public async ValueTask<FsctlResult> HandleAsync(FsctlContext context)
    {
        if (context.Open is not PipeOpen pipe) return FsctlResult.Error(NtStatus.InvalidDeviceRequest);
        var input = context.Ioctl.Input;
        var buffer = new byte[context.MaxOutput];
        var (count, more) = await pipe.UseAsync(endpoint =>
        {
            int n = endpoint.Transceive(input.Span, buffer);
            return (n, endpoint.PendingBytes > 0);
        }).ConfigureAwait(false);
        var output = buffer.AsMemory(0, count);
        return more ? new FsctlResult(NtStatus.BufferOverflow, output) : FsctlResult.Ok(output);
    }
}
