using System.Buffers.Binary;
using System.Text;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Rpc;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Smb.Handlers.Ioctl;

/// <summary>
/// FSCTL_PIPE_WAIT (MS-FSCC 2.3.49, MS-SMB2 3.3.5.15.10) on IPC$, FileId all 0xFF: waits for an instance of a
/// named pipe. FSCTL_PIPE_WAIT_REQUEST: Timeout(8) NameLength(4) TimeoutSpecified(1) Padding(1) Name(NameLength,
/// UTF-16). Pipe instances here are unlimited, so an existing pipe (srvsvc) is available at once; any other name
/// is STATUS_OBJECT_NAME_NOT_FOUND, as from the named pipe file system.
/// </summary>
public sealed class PipeWaitFsctl : IFsctlHandler
{
    private const int FixedSize = 14;

    public uint CtlCode => FsctlCodes.PipeWait;
    public bool TakesNoFileId => true;

    public ValueTask<FsctlResult> HandleAsync(FsctlContext context)
    {
        var log = context.Request.Connection.Logger;
        if (context.Request.Tree?.Share.IsPipe != true)
        {
            log.LogDebug("PIPE_WAIT on a disk share");
            return ValueTask.FromResult(FsctlResult.Error(NtStatus.InvalidDeviceRequest));
        }
        var input = context.Input;
        if (input.Length < FixedSize) return ValueTask.FromResult(FsctlResult.Error(NtStatus.InvalidParameter));
        uint nameLength = BinaryPrimitives.ReadUInt32LittleEndian(input[8..]);
        if (nameLength == 0 || nameLength % 2 != 0 || nameLength > input.Length - FixedSize)
            return ValueTask.FromResult(FsctlResult.Error(NtStatus.InvalidParameter));
        string name = Encoding.Unicode.GetString(input.Slice(FixedSize, (int)nameLength));
        if (!SrvsvcPipe.IsPipeName(name))
        {
            log.LogDebug("PIPE_WAIT for unknown pipe {Name}", name);
            return ValueTask.FromResult(FsctlResult.Error(NtStatus.ObjectNameNotFound));
        }
        return ValueTask.FromResult(FsctlResult.Ok(ReadOnlyMemory<byte>.Empty));
    }
}
