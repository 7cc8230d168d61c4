using System.Net;

namespace SmbCopy.Gateway.Smb.Transport;

/// <summary>
/// The SMB listener's address, wrapped in its own type so that Kestrel hands it to <see cref="SmbSocketTransportFactory"/>
/// and not to its socket transport (which binds every <see cref="IPEndPoint"/>, the HTTP listener's included).
/// </summary>
public sealed class SmbListenEndPoint(IPEndPoint address) : EndPoint
{
    public IPEndPoint Address { get; } = address;

    public override string ToString() => Address.ToString();
}
