using SmbCopy.Protocol.Rpc;
using System.Buffers.Binary;
using static SmbCopy.Protocol.Tests.Rpc.RpcTestKit;

namespace SmbCopy.Protocol.Tests.Rpc;

public class SrvsvcFramingTests
{
    private static List<RpcShareInfo> ManyShares(int n) =>
        Enumerable.Range(0, n).Select(i => new RpcShareInfo($"share-{i:D3}", 0, $"remark number {i} with some padding text")).ToList();

    [Fact]
    public void Response_larger_than_client_max_recv_frag_is_fragmented()
    {
        var shares = ManyShares(100);
        var pipe = BoundPipe(shares, maxRecv: 1432);

        var stream = pipe.Transceive(Request(2, 15, SambaShareEnumStub(1)));

        var pdus = Split(stream);
        Assert.True(pdus.Count > 5, $"only {pdus.Count} fragments");
        Assert.All(pdus[..^1], p => Assert.Equal(0, (p.Bytes.Length - 24) % 8));   // stub per fragment multiple of 8
        Assert.All(pdus, p => Assert.True(p.Bytes.Length <= 1432));
        var reply = SrvsvcShareEnumTests.DecodeEnum(ResponseStub(stream, 2, maxFrag: 1432));
        Assert.Equal(shares.Select(s => (s.Name, s.Remark)), reply.Entries!.Select(e => (e.Name, e.Remark!)));
        Assert.Equal(0, pipe.PendingBytes);
    }

    [Fact]
    public void Bounded_transceive_leaves_the_rest_pending_for_reads()
    {
        var pipe = BoundPipe(ManyShares(50));
        var buffer = new byte[1024];
        int first = pipe.Transceive(Request(2, 15, SambaShareEnumStub(1)), buffer);
        Assert.Equal(1024, first);
        Assert.True(pipe.PendingBytes > 0);

        var all = new List<byte>(buffer);
        var chunk = new byte[700];
        while (pipe.PendingBytes > 0)
        {
            int before = pipe.PendingBytes;
            int n = pipe.Read(chunk);
            Assert.Equal(Math.Min(700, before), n);
            all.AddRange(chunk[..n]);
        }
        Assert.Equal(0, pipe.Read(chunk));
        var reply = SrvsvcShareEnumTests.DecodeEnum(ResponseStub(all.ToArray(), 2));
        Assert.Equal(50, reply.Entries!.Count);
    }

    [Fact]
    public void Pdus_split_across_writes_and_several_in_one_write_are_handled()
    {
        var pipe = new SrvsvcPipe(() => DefaultShares(), new RpcServerInfo("S", ""));
        var bytes = Bind(1, 4280, 4280, SrvsvcNdr()).Concat(Request(2, 15, SambaShareEnumStub(1))).Concat(Request(3, 21, ServerGetInfoStub(100))).ToArray();

        foreach (var b in bytes)
        {
            pipe.Write([b]);
        }

        var pdus = Split(pipe.Transceive([]));
        Assert.Equal([12, 2, 2], pdus.Select(p => (int)p.Type));
        Assert.Equal([1u, 2u, 3u], pdus.Select(p => p.CallId));
    }

    [Fact]
    public void Fragmented_request_is_reassembled()
    {
        var pipe = BoundPipe();
        var stub = ShareGetInfoStub("backup", 1);
        // Split at an odd place (inside a string) to prove reassembly is byte-exact.
        var a = Request(4, 16, stub[..13], flags: 1, allocHint: (uint)stub.Length);
        var b = Request(4, 16, stub[13..30], flags: 0);
        var c = Request(4, 16, stub[30..], flags: 2);

        pipe.Write(a);
        pipe.Write(b);
        Assert.Equal(0, pipe.PendingBytes);
        var r = new StubReader(ResponseStub(pipe.Transceive(c), 4));

        Assert.Equal(1u, r.U32());
        Assert.True(r.Ptr());
        r.Ptr(); r.U32(); r.Ptr();
        Assert.Equal("backup", r.CvString());
        Assert.Equal("", r.CvString());
        Assert.Equal(0u, r.U32());
    }

    [Fact]
    public void Middle_fragment_without_a_first_faults()
    {
        var pipe = BoundPipe();
        var fault = Fault(pipe.Transceive(Request(4, 15, new byte[8], flags: 2)), 4);
        Assert.Equal(0x1C01000Bu, fault.Status);
    }

    [Fact]
    public void Request_before_bind_faults()
    {
        var pipe = new SrvsvcPipe(() => DefaultShares(), new RpcServerInfo("S", ""));
        Assert.Equal(0x1C01000Bu, Fault(pipe.Transceive(Request(1, 15, SambaShareEnumStub(1))), 1).Status);
    }

    [Fact]
    public void Request_on_unbound_context_faults_unknown_interface()
    {
        var fault = Fault(BoundPipe().Transceive(Request(3, 15, SambaShareEnumStub(1), contextId: 5)), 3);
        Assert.Equal(0x1C010003u, fault.Status);
        Assert.Equal(5, fault.Context);
    }

    [Fact]
    public void Request_with_auth_verifier_faults()
    {
        var req = Request(3, 15, SambaShareEnumStub(1).Concat(new byte[8 + 16]).ToArray());
        BinaryPrimitives.WriteUInt16LittleEndian(req.AsSpan(10), 16);
        Assert.Equal(0x1C01000Bu, Fault(BoundPipe().Transceive(req), 3).Status);
    }

    [Fact]
    public void Object_uuid_flag_is_honoured()
    {
        var stub = new byte[16].Concat(SambaShareEnumStub(1)).ToArray();
        var stream = BoundPipe().Transceive(Request(3, 15, stub, flags: 0x83));
        Assert.Equal(3, SrvsvcShareEnumTests.DecodeEnum(ResponseStub(stream, 3)).Entries!.Count);
    }

    [Fact]
    public void Lying_frag_length_waits_for_more_and_garbage_is_dropped()
    {
        var pipe = BoundPipe();
        var req = Request(3, 15, SambaShareEnumStub(1));
        BinaryPrimitives.WriteUInt16LittleEndian(req.AsSpan(8), (ushort)(req.Length + 100));
        pipe.Write(req);
        Assert.Equal(0, pipe.PendingBytes);            // waits for the 100 bytes the header promised

        var garbage = new SrvsvcPipe(() => DefaultShares(), new RpcServerInfo("S", ""));
        garbage.Write("GET / HTTP/1.1\r\n\r\n"u8);
        Assert.Equal(0, garbage.PendingBytes);
        // The pipe still works after garbage was dropped.
        Assert.Equal(12, Assert.Single(Split(garbage.Transceive(Bind(1, 4280, 4280, SrvsvcNdr())))).Type);
    }

    [Fact]
    public void Truncated_and_garbage_inputs_never_throw()
    {
        var valid = new[]
        {
            Bind(1, 5840, 5840, SrvsvcNdr(), new Context(1, SrvsvcUuid, 3, 0, (Ndr64Uuid, 1)), new Context(2, SrvsvcUuid, 3, 0, (BtfnUuid, 1))),
            BindLike(14, 2, 4280, 4280, 0, [SrvsvcNdr(1)]),
            Request(3, 15, SambaShareEnumStub(1)),
            Request(4, 15, SambaShareEnumStub(502)),
            Request(5, 16, ShareGetInfoStub("data", 502)),
            Request(6, 21, ServerGetInfoStub(102)),
            Request(7, 16, ShareGetInfoStub("data", 1), flags: 1),
        };
        var rng = new Random(12345);
        var shares = ManyShares(20);

        SrvsvcPipe Fresh(bool bind)
        {
            var p = new SrvsvcPipe(() => shares, new RpcServerInfo("S", "c"));
            if (bind) p.Transceive(valid[0]);
            return p;
        }

        // Every truncation of every valid PDU, with its frag_length patched to the truncated size (the
        // header lies about nothing, the body is short) and unpatched (header promises more).
        foreach (var pdu in valid)
        {
            for (int len = 0; len <= pdu.Length; len++)
            {
                var t = pdu[..len];
                Fresh(true).Transceive(t);
                if (len >= 10)
                {
                    var patched = (byte[])t.Clone();
                    BinaryPrimitives.WriteUInt16LittleEndian(patched.AsSpan(8), (ushort)len);
                    var p = Fresh(true);
                    p.Transceive(patched);
                    p.Transceive(valid[2]);
                }
            }
        }

        // Random byte mutations of valid PDUs, keeping the version byte so they reach the parsers.
        for (int i = 0; i < 20000; i++)
        {
            var pdu = (byte[])valid[rng.Next(valid.Length)].Clone();
            int flips = rng.Next(1, 6);
            for (int f = 0; f < flips; f++) pdu[rng.Next(pdu.Length)] = (byte)rng.Next(256);
            pdu[0] = 5;
            var p = Fresh(rng.Next(4) != 0);
            p.Transceive(pdu);
            p.Transceive(valid[rng.Next(valid.Length)]);
            var sink = new byte[rng.Next(0, 64)];
            while (p.PendingBytes > 0) if (p.Read(sink) == 0) break;
        }

        // Pure noise, including oversized streams.
        for (int i = 0; i < 2000; i++)
        {
            var noise = new byte[rng.Next(0, 3000)];
            rng.NextBytes(noise);
            if (noise.Length > 2 && rng.Next(2) == 0) { noise[0] = 5; noise[1] = 0; }
            var p = Fresh(rng.Next(2) == 0);
            p.Write(noise);
            p.Read(new byte[100]);
        }

        // Stub-level fuzz: random stubs behind a valid header, for every opnum we implement.
        for (int i = 0; i < 5000; i++)
        {
            var stub = new byte[rng.Next(0, 200)];
            rng.NextBytes(stub);
            if (stub.Length >= 8 && rng.Next(2) == 0)
            {
                // plausible small counts so the parsers go deeper
                for (int k = 0; k + 4 <= stub.Length; k += 4)
                    if (rng.Next(3) == 0) BinaryPrimitives.WriteUInt32LittleEndian(stub.AsSpan(k), (uint)rng.Next(0, 12));
            }
            var opnum = (ushort)(rng.Next(3) switch { 0 => 15, 1 => 16, _ => 21 });
            var stream = Fresh(true).Transceive(Request(9, opnum, stub));
            var pdus = Split(stream);
            Assert.NotEmpty(pdus);
            Assert.All(pdus, pd => Assert.Contains(pd.Type, new byte[] { 2, 3 }));
        }
    }
}
