using System.Net;
using System.Net.Sockets;
using SmbCopy.Gateway.Configuration;

namespace SmbCopy.Gateway.Hosting;

/// <summary>
/// Binds each endpoint once before Kestrel does, so a port that is taken (or needs privileges) is reported as one line
/// naming the configuration key instead of a host start-up stack trace.
/// </summary>
internal static class EndpointProbe
{
    public static ConfigurationError? Check(string portKey, string addressKey, IPEndPoint endpoint)
    {
        try
        {
            using var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            if (endpoint.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true; // as Kestrel does
            }
            socket.Bind(endpoint);
            socket.Listen();
            return null;
        }
        catch (SocketException ex)
        {
            return Describe(portKey, addressKey, endpoint, ex.SocketErrorCode, ex.Message);
        }
    }

    public static ConfigurationError Describe(string portKey, string addressKey, IPEndPoint endpoint, SocketError code, string message) => code switch
    {
        SocketError.AddressAlreadyInUse => new(portKey, $"{endpoint} is already in use"),
        SocketError.AccessDenied => new(portKey, endpoint.Port < 1024
            ? $"permission denied binding {endpoint} (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
            : $"permission denied binding {endpoint}"),
        SocketError.AddressNotAvailable => new(addressKey, $"{endpoint.Address} is not an address of this machine"),
        _ => new(portKey, $"cannot listen on {endpoint}: {message}"),
    };
}
