using SmbCopy.Protocol.Rpc;
using System.Buffers.Binary;
using static SmbCopy.Protocol.Tests.Rpc.RpcTestKit;

namespace SmbCopy.Protocol.Tests.Rpc;

public class SrvsvcBindTests
{
    private static SrvsvcPipe NewPipe() => new(() => DefaultShares(), new RpcServerInfo("FILESRV", ""));

    [Fact]
    public void Bind_as_samba_sends_it_gets_bind_ack_field_by_field()
    {
        // Samba's cli_rpc_pipe_open_noauth: one context, srvsvc 3.0 over NDR 2.0, max frags 5840.
        byte[] bind = Hex("""
            05 00 0b 03 10 00 00 00 48 00 00 00 01 00 00 00   // v5.0 bind, FIRST|LAST, LE, frag 72, auth 0, call 1
            d0 16 d0 16 00 00 00 00                           // max_xmit 5840, max_recv 5840, assoc_group 0
            01 00 00 00                                       // n_context 1
            00 00 01 00                                       // p_cont_id 0, n_transfer 1
            c8 4f 32 4b 70 16 d3 01 12 78 5a 47 bf 6e e1 88   // srvsvc
            03 00 00 00                                       // v3.0
            04 5d 88 8a eb 1c c9 11 9f e8 08 00 2b 10 48 60   // NDR
            02 00 00 00                                       // v2
            """);
        Assert.Equal(72, bind.Length);

        var ack = NewPipe().Transceive(bind);

        Assert.Equal(68, ack.Length);
        Assert.Equal(new byte[] { 5, 0, 12, 3, 0x10, 0, 0, 0 }, ack[..8]);   // bind_ack, FIRST|LAST, LE
        Assert.Equal(68, BinaryPrimitives.ReadUInt16LittleEndian(ack.AsSpan(8)));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(ack.AsSpan(10)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(ack.AsSpan(12)));
        Assert.Equal(4280, BinaryPrimitives.ReadUInt16LittleEndian(ack.AsSpan(16)));  // max_xmit_frag
        Assert.Equal(4280, BinaryPrimitives.ReadUInt16LittleEndian(ack.AsSpan(18)));  // max_recv_frag
        Assert.NotEqual(0u, BinaryPrimitives.ReadUInt32LittleEndian(ack.AsSpan(20))); // assoc_group_id
        Assert.Equal(13, BinaryPrimitives.ReadUInt16LittleEndian(ack.AsSpan(24)));    // sec_addr length incl. NUL
        Assert.Equal("\\PIPE\\srvsvc\0"u8.ToArray(), ack[26..39]);
        Assert.Equal(0, ack[39]);                                                     // pad to 4
        Assert.Equal(new byte[] { 1, 0, 0, 0 }, ack[40..44]);                         // n_results 1
        Assert.Equal(new byte[] { 0, 0, 0, 0 }, ack[44..48]);                         // acceptance, reason 0
        Assert.Equal(NdrUuid, ack[48..64]);
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(ack.AsSpan(64)));
    }

    [Fact]
    public void Windows_style_bind_accepts_ndr_rejects_ndr64_and_acks_bind_time_features()
    {
        var bind = Bind(2, 4280, 4280,
            SrvsvcNdr(0),
            new Context(1, SrvsvcUuid, 3, 0, (Ndr64Uuid, 1)),
            new Context(2, SrvsvcUuid, 3, 0, (BtfnUuid, 1)));

        var ack = Assert.Single(Split(NewPipe().Transceive(bind)));

        Assert.Equal(12, ack.Type);
        Assert.Equal(3, ack.Bytes[40]);
        // ctx 0: accepted, NDR
        Assert.Equal(0, ack.U16(44));
        Assert.Equal(NdrUuid, ack.Bytes[48..64]);
        // ctx 1: provider rejection, proposed transfer syntaxes not supported, syntax zeroed
        Assert.Equal(2, ack.U16(68));
        Assert.Equal(2, ack.U16(70));
        Assert.All(ack.Bytes[72..92], b => Assert.Equal(0, b));
        // ctx 2: negotiate_ack, no features, syntax zeroed
        Assert.Equal(3, ack.U16(92));
        Assert.Equal(0, ack.U16(94));
        Assert.All(ack.Bytes[96..116], b => Assert.Equal(0, b));
        Assert.Equal(116, ack.Bytes.Length);
    }

    [Fact]
    public void Unknown_interface_is_rejected_as_abstract_syntax_not_supported_and_calls_fault()
    {
        var samr = Convert.FromHexString("7857341234 12cdab ef00 0123456789ac".Replace(" ", ""));
        var pipe = NewPipe();
        var ack = Assert.Single(Split(pipe.Transceive(Bind(1, 4280, 4280, new Context(0, samr, 1, 0, (NdrUuid, 2))))));

        Assert.Equal(12, ack.Type);
        Assert.Equal(2, ack.U16(44));
        Assert.Equal(1, ack.U16(46));

        var fault = Fault(pipe.Transceive(Request(2, 15, SambaShareEnumStub(1))), 2);
        Assert.Equal(0x1C010003u, fault.Status);     // nca_s_unk_if
    }

    [Fact]
    public void Wrong_interface_version_is_rejected()
    {
        var ack = Assert.Single(Split(NewPipe().Transceive(Bind(1, 4280, 4280, new Context(0, SrvsvcUuid, 2, 0, (NdrUuid, 2))))));
        Assert.Equal(2, ack.U16(44));
        Assert.Equal(1, ack.U16(46));
    }

    [Fact]
    public void Bind_with_auth_is_refused_with_bind_nak_authentication_type_not_recognized()
    {
        var bind = BindLike(11, 7, 4280, 4280, 0, [SrvsvcNdr()], auth: new byte[16]);

        var nak = Assert.Single(Split(NewPipe().Transceive(bind)));

        Assert.Equal(13, nak.Type);
        Assert.Equal(7u, nak.CallId);
        Assert.Equal(8, nak.U16(16));                // authentication_type_not_recognized
        Assert.Equal(new byte[] { 1, 5, 0 }, nak.Bytes[18..21]);
    }

    [Fact]
    public void Alter_context_answers_with_empty_sec_addr_and_same_assoc_group()
    {
        var pipe = NewPipe();
        var ack = Assert.Single(Split(pipe.Transceive(Bind(1, 4280, 4280, SrvsvcNdr(0)))));
        var alter = BindLike(14, 2, 4280, 4280, ack.U32(20), [SrvsvcNdr(1)]);

        var resp = Assert.Single(Split(pipe.Transceive(alter)));

        Assert.Equal(15, resp.Type);
        Assert.Equal(ack.U32(20), resp.U32(20));
        Assert.Equal(0, resp.U16(24));               // sec_addr length 0
        Assert.Equal(new byte[] { 0, 0 }, resp.Bytes[26..28]);
        Assert.Equal(1, resp.Bytes[28]);
        Assert.Equal(0, resp.U16(32));
        Assert.Equal(56, resp.Bytes.Length);
        // The new context id is usable.
        var stub = ResponseStub(pipe.Transceive(Request(3, 15, SambaShareEnumStub(1), contextId: 1)), 3);
        Assert.NotEmpty(stub);
    }

    [Fact]
    public void Client_assoc_group_is_echoed_and_a_fresh_one_is_nonzero()
    {
        var ack = Assert.Single(Split(NewPipe().Transceive(BindLike(11, 1, 4280, 4280, 0x1234, [SrvsvcNdr()]))));
        Assert.Equal(0x1234u, ack.U32(20));
        var a = Assert.Single(Split(NewPipe().Transceive(Bind(1, 4280, 4280, SrvsvcNdr()))));
        var b = Assert.Single(Split(NewPipe().Transceive(Bind(1, 4280, 4280, SrvsvcNdr()))));
        Assert.NotEqual(0u, a.U32(20));
        Assert.NotEqual(a.U32(20), b.U32(20));
    }

    [Fact]
    public void Max_frag_sizes_follow_the_client_when_smaller()
    {
        var ack = Assert.Single(Split(NewPipe().Transceive(Bind(1, 2048, 1432, SrvsvcNdr()))));
        Assert.Equal(1432, ack.U16(16));             // we send at most what the client receives
        Assert.Equal(2048, ack.U16(18));
    }

    [Theory]
    [InlineData("srvsvc", true)]
    [InlineData("SRVSVC", true)]
    [InlineData("\\PIPE\\srvsvc", true)]
    [InlineData("\\pipe\\SrvSvc", true)]
    [InlineData("PIPE\\srvsvc", true)]
    [InlineData("\\srvsvc", true)]
    [InlineData("wkssvc", false)]
    [InlineData("srvsvc2", false)]
    [InlineData("\\PIPE\\", false)]
    [InlineData("", false)]
    public void IsPipeName(string name, bool expected) => Assert.Equal(expected, SrvsvcPipe.IsPipeName(name));
}
