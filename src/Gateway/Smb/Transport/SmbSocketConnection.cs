using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace SmbCopy.Gateway.Smb.Transport;

/// <summary>
/// One accepted SMB connection of <see cref="SmbSocketTransportFactory"/>: the socket itself, read and written only by
/// the SMB connection handler (frames in through <see cref="SocketFrameReader"/>, out through
/// <c>SmbConnection.SendFramedAsync</c>). <see cref="Transport"/> exists for the contract; nothing flows through it.
/// </summary>
public sealed class SmbSocketConnection : ConnectionContext, IConnectionSocketFeature, IConnectionIdFeature,
    IConnectionTransportFeature, IConnectionItemsFeature, IConnectionLifetimeFeature, IConnectionEndPointFeature
{
    private static long s_nextId;
    private readonly CancellationTokenSource _closed = new();
    private readonly (Pipe Input, Pipe Output) _pipes;
    private int _aborted;

    public SmbSocketConnection(Socket socket)
    {
        Socket = socket;
        LocalEndPoint = socket.LocalEndPoint;
        RemoteEndPoint = socket.RemoteEndPoint;
        ConnectionId = "smb-" + Interlocked.Increment(ref s_nextId).ToString("x");
        var input = new Pipe();
        var output = new Pipe();
        Transport = new DuplexPipe(input.Reader, output.Writer);
        _pipes = (input, output);
        ConnectionClosed = _closed.Token;
        Features.Set<IConnectionSocketFeature>(this);
        Features.Set<IConnectionIdFeature>(this);
        Features.Set<IConnectionTransportFeature>(this);
        Features.Set<IConnectionItemsFeature>(this);
        Features.Set<IConnectionLifetimeFeature>(this);
        Features.Set<IConnectionEndPointFeature>(this);
    }

    public Socket Socket { get; }

    public override string ConnectionId { get; set; }
    public override IFeatureCollection Features { get; } = new FeatureCollection();
    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();
    public override IDuplexPipe Transport { get; set; }
    public override EndPoint? LocalEndPoint { get; set; }
    public override EndPoint? RemoteEndPoint { get; set; }
    public override CancellationToken ConnectionClosed { get; set; }

    /// <summary>Closes the socket: a pending receive or send fails, and the handler's loop ends.</summary>
    public override void Abort(ConnectionAbortedException abortReason)
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0) return;
        try { Socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
        Socket.Dispose();
        try { _closed.Cancel(); } catch (AggregateException) { }
    }

    /// <summary>The peer closed its side or the connection failed: the handler's loop ends the same way.</summary>
    internal void ReceiveEnded()
    {
        try { _closed.Cancel(); } catch (AggregateException) { } catch (ObjectDisposedException) { }
    }

    public override ValueTask DisposeAsync()
    {
        Abort(new ConnectionAbortedException("disposed"));
        _pipes.Input.Writer.Complete();
        _pipes.Output.Reader.Complete();
        _closed.Dispose();
        return ValueTask.CompletedTask;
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }
}
