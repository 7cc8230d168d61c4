using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;

namespace SmbCopy.Gateway.Smb.Transport;

/// <summary>
/// Kestrel transport for the SMB listener. Kestrel's socket transport reads every connection into a pipe of 64 KiB
/// blocks, and the frame then had to be copied out of the pipe into one array (8 MiB per maximal WRITE: 8 % of the
/// gateway's CPU on a put, plus a second thread-pool wake-up per block). Here nothing reads the socket but the SMB
/// connection handler itself, which receives each frame's body straight into the array the request is processed
/// from (<see cref="SocketFrameReader"/>). Connection handlers, limits and shutdown stay Kestrel's.
/// </summary>
public sealed class SmbSocketTransportFactory : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    public bool CanBind(EndPoint endpoint) => endpoint is SmbListenEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        if (endpoint is not SmbListenEndPoint smb)
            throw new NotSupportedException($"{endpoint.GetType().Name} is not an SMB listen address.");
        var socket = SocketTransportOptions.CreateDefaultBoundListenSocket(smb.Address);
        socket.Listen(512);
        var bound = new SmbListenEndPoint((IPEndPoint)socket.LocalEndPoint!);
        return ValueTask.FromResult<IConnectionListener>(new Listener(socket, bound));
    }

    private sealed class Listener(Socket socket, SmbListenEndPoint endPoint) : IConnectionListener
    {
        public EndPoint EndPoint => endPoint;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            while (true)
            {
                try
                {
                    var accepted = await socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
                    accepted.NoDelay = true; // responses are whole frames: do not wait for more (Nagle)
                    return new SmbSocketConnection(accepted);
                }
                catch (ObjectDisposedException) { return null; } // unbound
                catch (SocketException e) when (e.SocketErrorCode == SocketError.OperationAborted) { return null; }
                catch (SocketException) { } // the client reset before we accepted: take the next one
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            socket.Dispose();
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            socket.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
