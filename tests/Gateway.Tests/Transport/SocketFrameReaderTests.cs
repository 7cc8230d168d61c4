using System.Buffers;
using System.Net;
using System.Net.Sockets;
using SmbCopy.Gateway.Smb.Transport;
using Xunit;

namespace SmbCopy.Gateway.Tests.Transport;

/// <summary>
/// The SMB transport's frame reader on a real loopback socket pair: frames split across receives, many frames in one
/// receive, a body larger than the staging buffer, malformed and oversized prefixes, and a peer that closes mid-frame.
/// </summary>
public sealed class SocketFrameReaderTests : IAsyncLifetime
{
    private Socket _client = null!, _server = null!;

    public async Task InitializeAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        _client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var accept = listener.AcceptAsync();
        await _client.ConnectAsync(listener.LocalEndPoint!);
        _server = await accept;
    }

    public Task DisposeAsync()
    {
        _client.Dispose();
        _server.Dispose();
        return Task.CompletedTask;
    }

    private static byte[] Frame(int length, byte seed)
    {
        var frame = new byte[4 + length];
        frame[1] = (byte)(length >> 16);
        frame[2] = (byte)(length >> 8);
        frame[3] = (byte)length;
        for (int i = 0; i < length; i++) frame[4 + i] = (byte)(seed + i * 7);
        return frame;
    }

    private static void AssertFrame(FrameRead read, byte[] expected)
    {
        Assert.False(read.End);
        Assert.NotNull(read.Frame);
        Assert.Equal(expected.Length - 4, read.Length);
        Assert.True(read.Frame.AsSpan(0, read.Length).SequenceEqual(expected.AsSpan(4)), "frame content differs");
        ArrayPool<byte>.Shared.Return(read.Frame);
    }

    [Fact]
    public async Task ManySmallFramesInOneSendComeOutOneByOne()
    {
        var frames = Enumerable.Range(0, 50).Select(i => Frame(64 + i, (byte)i)).ToArray();
        await _client.SendAsync(frames.SelectMany(f => f).ToArray());
        using var reader = new SocketFrameReader(_server);
        foreach (var expected in frames)
            AssertFrame(await reader.ReadAsync(() => 1 << 20, CancellationToken.None), expected);
    }

    [Fact]
    public async Task LargeFrameSentInPiecesArrivesWhole()
    {
        var big = Frame(8 << 20, 3);
        var small = Frame(100, 9);
        var send = Task.Run(async () =>
        {
            // The prefix alone, then odd-sized pieces, then a small frame right behind the large one.
            var all = big.Concat(small).ToArray();
            int[] cuts = [2, 4, 70_000, 1_000_001];
            int at = 0;
            foreach (int cut in cuts) { await _client.SendAsync(all.AsMemory(at, cut - at)); at = cut; await Task.Delay(5); }
            await _client.SendAsync(all.AsMemory(at));
        });
        using var reader = new SocketFrameReader(_server);
        AssertFrame(await reader.ReadAsync(() => 9 << 20, CancellationToken.None), big);
        AssertFrame(await reader.ReadAsync(() => 9 << 20, CancellationToken.None), small);
        await send;
    }

    [Fact]
    public async Task OversizedOrMalformedPrefixIsRefusedWithItsLength()
    {
        using var reader = new SocketFrameReader(_server);
        await _client.SendAsync(Frame(5000, 1).AsMemory(0, 4));
        var read = await reader.ReadAsync(() => 4096, CancellationToken.None);
        Assert.Null(read.Frame);
        Assert.False(read.End);
        Assert.Equal(5000, read.Length);
    }

    [Fact]
    public async Task NonZeroFirstByteIsRefused()
    {
        using var reader = new SocketFrameReader(_server);
        var frame = Frame(10, 1);
        frame[0] = 0x85; // an NBT keep-alive/session message type is not a direct-TCP frame
        await _client.SendAsync(frame);
        var read = await reader.ReadAsync(() => 4096, CancellationToken.None);
        Assert.Null(read.Frame);
        Assert.False(read.End);
    }

    [Fact]
    public async Task PeerClosingMidFrameEndsTheConnection()
    {
        using var reader = new SocketFrameReader(_server);
        var first = Frame(10, 1);
        await _client.SendAsync(first.Concat(Frame(200_000, 2).Take(100_000)).ToArray());
        _client.Shutdown(SocketShutdown.Send);
        AssertFrame(await reader.ReadAsync(() => 1 << 20, CancellationToken.None), first);
        Assert.True((await reader.ReadAsync(() => 1 << 20, CancellationToken.None)).End);
    }
}
