using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using SmbCopy.Storage.Nfs;

namespace SmbCopy.Storage.Tests.Nfs;

/// <summary>XDR and ONC RPC framing without a server: malformed input is refused clearly, records are reassembled from
/// fragments, replies are matched to calls by XID whatever their order.</summary>
public sealed class NfsWireTests
{
    private static byte[] Bytes(params uint[] words)
    {
        var b = new byte[words.Length * 4];
        for (int i = 0; i < words.Length; i++) BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(i * 4), words[i]);
        return b;
    }

    [Fact]
    public void XdrWriter_PadsOpaquesAndStrings_AndReaderRoundTrips()
    {
        var w = new XdrWriter();
        w.U32(7).U64(0x0102030405060708).Opaque([1, 2, 3]).String("héllo").Bool(true).Bitmap([0x12, 0, 0]);
        var r = new XdrReader(w.Written.ToArray());
        Assert.Equal(7u, r.U32());
        Assert.Equal(0x0102030405060708ul, r.U64());
        Assert.Equal(new byte[] { 1, 2, 3 }, r.Opaque());
        Assert.Equal("héllo", r.String());
        Assert.True(r.Bool());
        Assert.Equal(new uint[] { 0x12 }, r.Bitmap());
        Assert.Equal(0, r.Remaining);
        Assert.Equal(4 + 8 + 8 + 12 + 4 + 8, w.Length);
    }

    [Fact]
    public void XdrReader_RefusesReadsPastTheEnd_LyingLengths_AndBadBooleans()
    {
        Assert.Throws<NfsProtocolException>(() => new XdrReader([0, 0, 1]).U32());
        Assert.Throws<NfsProtocolException>(() => new XdrReader(Bytes(100, 1)).Opaque());        // says 100 bytes, has 4
        Assert.Throws<NfsProtocolException>(() => new XdrReader(Bytes(0xFFFFFFFF)).Opaque());    // huge length
        Assert.Throws<NfsProtocolException>(() => new XdrReader(Bytes(200, 0)).Opaque(128));     // over its bound
        Assert.Throws<NfsProtocolException>(() => new XdrReader(Bytes(2)).Bool());
        Assert.Throws<NfsProtocolException>(() => new XdrReader(Bytes(1000)).Bitmap());          // absurd bitmap
        var e = Assert.Throws<NfsProtocolException>(() => new XdrReader([1, 2, 3]).Fixed(3));    // padding missing
        Assert.Contains("Malformed", e.Message);
    }

    [Fact]
    public void Fattr4_WithAnUnrequestedAttribute_OrATruncatedList_IsMalformed()
    {
        // bitmap {word0 = type|size}, attrlist: type(4) size(8)
        var ok = new XdrReader([.. Bytes(1, 0x12, 12, 1), .. Bytes(0, 42)]);
        var a = NfsAttributes.Parse(ok);
        Assert.Equal(1u, a.Type);
        Assert.Equal(42ul, a.Size);
        // attribute 2 (fh_expire_type) was never asked for: its size is unknown
        Assert.Throws<NfsProtocolException>(() => NfsAttributes.Parse(new XdrReader([.. Bytes(1, 0x4, 4, 0)])));
        // size claims 8 bytes but the list holds 4
        Assert.Throws<NfsProtocolException>(() => NfsAttributes.Parse(new XdrReader([.. Bytes(1, 0x10, 4, 0)])));
        // nanoseconds out of range
        var badTime = Bytes(2, 0, 1u << (Nfs4.AttrTimeModify - 32), 12, 0, 5, 2_000_000_000);
        Assert.Throws<NfsProtocolException>(() => NfsAttributes.Parse(new XdrReader(badTime)));
    }

    /// <summary>A fake server: answers each call with the bytes <paramref name="reply"/> builds from the call's XID.</summary>
    private static async Task<(TcpListener, Task)> FakeServerAsync(Func<uint, byte[][]> reply, bool reverse = false)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var task = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            var stream = client.GetStream();
            var pending = new List<byte[][]>();
            var header = new byte[4];
            while (true)
            {
                try { await stream.ReadExactlyAsync(header); } catch (EndOfStreamException) { return; } catch (IOException) { return; }
                int len = (int)(BinaryPrimitives.ReadUInt32BigEndian(header) & 0x7FFFFFFF);
                var body = new byte[len];
                await stream.ReadExactlyAsync(body);
                pending.Add(reply(BinaryPrimitives.ReadUInt32BigEndian(body)));
                if (reverse && pending.Count < 2)
                    continue;
                if (reverse) pending.Reverse();
                foreach (var fragments in pending)
                    foreach (var f in fragments)
                        await stream.WriteAsync(f);
                pending.Clear();
            }
        });
        await Task.Yield();
        return (listener, task);
    }

    private static byte[] Record(bool last, byte[] payload)
    {
        var b = new byte[4 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(b, (last ? 0x80000000u : 0) | (uint)payload.Length);
        payload.CopyTo(b, 4);
        return b;
    }

    private static byte[] Accepted(uint xid, uint value) => Bytes(xid, 1, 0, 0, 0, 0, value);

    [Fact]
    public async Task Rpc_ReassemblesFragments_AndMatchesRepliesOutOfOrderByXid()
    {
        var (listener, server) = await FakeServerAsync(xid =>
        {
            var whole = Accepted(xid, xid * 10);
            return [Record(false, whole[..10]), Record(true, whole[10..])]; // two fragments
        }, reverse: true);
        await using var rpc = new RpcClient("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port, 0, 0);
        var c1 = rpc.Begin(0, out uint x1);
        var c2 = rpc.Begin(0, out uint x2);
        var t1 = rpc.CallAsync(x1, c1, default);
        var t2 = rpc.CallAsync(x2, c2, default);
        Assert.Equal(x1 * 10, (await t1).U32());
        Assert.Equal(x2 * 10, (await t2).U32());
        listener.Stop();
        await rpc.DisposeAsync();
        await server;
    }

    [Fact]
    public async Task Rpc_AuthError_IsAccessDenied_AndGarbageIsAProtocolError()
    {
        var (listener, server) = await FakeServerAsync(xid =>
            xid % 2 == 0 ? [Record(true, Bytes(xid, 1, 1, 1, 1))]   // MSG_DENIED, AUTH_ERROR, AUTH_BADCRED
                         : [Record(true, Bytes(xid, 1, 7))]);        // reply_stat 7
        await using var rpc = new RpcClient("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port, 0, 0);
        for (int i = 0; i < 2; i++)
        {
            var call = rpc.Begin(0, out uint xid);
            if (xid % 2 == 0)
                Assert.Equal(StorageError.AccessDenied, (await Assert.ThrowsAsync<StorageException>(() => rpc.CallAsync(xid, call, default))).Error);
            else
                await Assert.ThrowsAsync<NfsProtocolException>(() => rpc.CallAsync(xid, call, default));
        }
        listener.Stop();
        await rpc.DisposeAsync();
        await server;
    }

    /// <summary>A server that keeps the connection but stops reading (its TCP window stays full): the call ends when
    /// the caller's token does (the write itself sees it), and the connection, holding half a record, is dropped, so the
    /// next call starts on a new one instead of queueing behind the stuck write.</summary>
    [Fact]
    public async Task Rpc_SendToAServerThatStoppedReading_EndsWithTheCallersToken_AndTheNextCallReconnects()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accepted = new List<Socket>();
        var server = Task.Run(async () =>
        {
            for (int i = 0; i < 2; i++)
                accepted.Add(await listener.AcceptSocketAsync()); // never read from
        });
        await using var rpc = new RpcClient("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port, 0, 0);
        const int size = 64 * 1024 * 1024; // far more than the socket buffers hold
        var big = rpc.Begin(0, out uint xid, size);
        big.Fixed(new byte[size]);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            var call = rpc.CallAsync(xid, big, cts.Token);
            var first = await Task.WhenAny(call, Task.Delay(TimeSpan.FromSeconds(20)));
            Assert.True(first == call, "the call stayed in a write the server never reads, past its token");
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        }
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"took {sw.Elapsed}");
        int generation = rpc.ConnectionGeneration;
        var small = rpc.Begin(0, out uint xid2);
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1)))
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => rpc.CallAsync(xid2, small, cts.Token)); // sent, never answered
        Assert.Equal(generation + 1, rpc.ConnectionGeneration);
        await server;
        listener.Stop();
        foreach (var s in accepted) s.Dispose();
    }

    [Fact]
    public async Task Rpc_LostConnection_FailsPendingCallsAsTransient()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var server = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            var header = new byte[4];
            await client.GetStream().ReadExactlyAsync(header); // take the call, then hang up
        });
        await using var rpc = new RpcClient("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port, 0, 0);
        var call = rpc.Begin(0, out uint xid);
        await Assert.ThrowsAsync<NfsTransientException>(() => rpc.CallAsync(xid, call, default));
        await server;
        listener.Stop();
    }
}
