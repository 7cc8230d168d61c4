using System.Buffers.Binary;
using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Handlers.Ioctl;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Gateway.Smb.Handlers;

/// <summary>
/// SMB2 IOCTL (MS-SMB2 3.3.5.15): the generic rules, then the FSCTL's own handler. An FSCTL the
/// server does not implement answers STATUS_INVALID_DEVICE_REQUEST (the "fall back" signal);
/// local-only controls answer STATUS_NOT_SUPPORTED (note &lt;397&gt;).
/// </summary>
public sealed class IoctlHandler : ISmb2Handler
{
    private const ulong AllOnes = ulong.MaxValue;
    private readonly Dictionary<uint, IFsctlHandler> _fsctls;

    public IoctlHandler(IEnumerable<IFsctlHandler> fsctls) => _fsctls = fsctls.ToDictionary(f => f.CtlCode);

    public Smb2Command Command => Smb2Command.Ioctl;
    public HandlerRequirements Requirements => HandlerRequirements.Tree;

    public int ExpectedPayloadSize(ReadOnlySpan<byte> message)
    {
        var body = WireReader.Slice(message, Smb2Header.Size, 48);
        long input = BinaryPrimitives.ReadUInt32LittleEndian(body[28..]);
        long maxInput = BinaryPrimitives.ReadUInt32LittleEndian(body[32..]);
        long output = BinaryPrimitives.ReadUInt32LittleEndian(body[40..]);
        long maxOutput = BinaryPrimitives.ReadUInt32LittleEndian(body[44..]);
        return (int)Math.Min(int.MaxValue, Math.Max(input + output, maxInput + maxOutput));
    }

    public async ValueTask<Smb2Response> HandleAsync(Smb2Request request)
    {
        var ioctl = IoctlRequest.Parse(request.Message, Smb2Header.Size);
        if (!ioctl.IsFsctl) return Smb2Response.Error(NtStatus.NotSupported);
        uint maxTransact = request.Connection.MaxTransactSize;
        if (ioctl.InputCount > maxTransact || ioctl.MaxInputResponse > maxTransact || ioctl.MaxOutputResponse > maxTransact)
            return Smb2Response.Error(NtStatus.InvalidParameter);
        if (ioctl.Input.Length > 0 && ioctl.InputOffset % 8 != 0)
            return Smb2Response.Error(NtStatus.InvalidParameter);

        _fsctls.TryGetValue(ioctl.CtlCode, out var fsctl);
        Sessions.SmbOpen? open = null;
        bool noFile = fsctl?.TakesNoFileId ?? false;
        if (noFile)
        {
            if (ioctl.FileId.Persistent != AllOnes || ioctl.FileId.Volatile != AllOnes)
                return Smb2Response.Error(NtStatus.InvalidParameter);
        }
        else
        {
            open = request.ResolveOpen(ioctl.FileId.Persistent, ioctl.FileId.Volatile);
            if (open is null) return Smb2Response.Error(NtStatus.FileClosed);
        }

        if (fsctl is null)
        {
            bool localOnly = ioctl.CtlCode is >= 0x00090000 and <= 0x00090014;
            request.Connection.Logger.LogDebug("FSCTL 0x{Code:X8} not implemented", ioctl.CtlCode);
            return Smb2Response.Error(localOnly ? NtStatus.NotSupported : NtStatus.InvalidDeviceRequest);
        }

        var result = await fsctl.HandleAsync(new FsctlContext { Request = request, Ioctl = ioctl, Open = open }).ConfigureAwait(false);
        if (result.Disconnect) return Smb2Response.Disconnect();
        if (result.Status.IsError() && !result.OutputWithError) return Smb2Response.Error(result.Status);

        var output = result.Output;
        var status = result.Status;
        if (output.Length > ioctl.MaxOutputResponse)
        {
            output = output[..(int)ioctl.MaxOutputResponse];
            status = NtStatus.BufferOverflow;
        }
        var w = new WireWriter(64 + output.Length);
        new IoctlResponse(ioctl.CtlCode, ioctl.FileId, output).WriteTo(w);
        return Smb2Response.WithStatus(status, w);
    }
}
