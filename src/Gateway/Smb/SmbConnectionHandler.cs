using Microsoft.AspNetCore.Connections;

namespace SmbCopy.Gateway.Smb;

/// <summary>Kestrel connection handler: one SMB connection per TCP connection (MS-SMB2 2.1, direct TCP).</summary>
public sealed class SmbConnectionHandler : ConnectionHandler
{
    public override Task OnConnectedAsync(ConnectionContext connection) => Task.CompletedTask;
}
