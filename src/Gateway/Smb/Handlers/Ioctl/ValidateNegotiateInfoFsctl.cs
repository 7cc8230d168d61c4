using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Gateway.Smb.Handlers.Ioctl;

/// <summary>
/// FSCTL_VALIDATE_NEGOTIATE_INFO (MS-SMB2 3.3.5.15.12): proves to a 3.0/3.0.2 client that nobody
/// tampered with NEGOTIATE. Any mismatch, or use on 3.1.1, closes the connection.
/// </summary>
public sealed class ValidateNegotiateInfoFsctl : IFsctlHandler
{
    public uint CtlCode => FsctlCodes.ValidateNegotiateInfo;
    public bool TakesNoFileId => true;

    public ValueTask<FsctlResult> HandleAsync(FsctlContext context)
    {
        var connection = context.Request.Connection;
        if (connection.Dialect == Smb2Dialect.Smb311 || context.MaxOutput < ValidateNegotiateInfoResponse.Size)
            return ValueTask.FromResult(FsctlResult.DropConnection());
        ValidateNegotiateInfoRequest info;
        try { info = ValidateNegotiateInfoRequest.Parse(context.Input); }
        catch (MalformedMessageException) { return ValueTask.FromResult(FsctlResult.DropConnection()); }

        bool matches = info.Capabilities == connection.ClientCapabilities
            && info.ClientGuid == connection.ClientGuid
            && info.SecurityMode == connection.ClientSecurityMode
            && info.Dialects.Count == connection.ClientDialects.Count
            && info.Dialects.Select(d => (Smb2Dialect)d).SequenceEqual(connection.ClientDialects);
        if (!matches)
        {
            connection.Logger.LogWarning("VALIDATE_NEGOTIATE_INFO mismatch from {Remote}: closing", connection.RemoteEndPoint);
            return ValueTask.FromResult(FsctlResult.DropConnection());
        }
        var w = new WireWriter(ValidateNegotiateInfoResponse.Size);
        new ValidateNegotiateInfoResponse(connection.ServerCapabilities, connection.Server.Identity.ServerGuid,
            connection.ServerSecurityMode, (ushort)connection.Dialect).WriteTo(w);
        return ValueTask.FromResult(FsctlResult.Ok(w.ToArray()));
    }
}
