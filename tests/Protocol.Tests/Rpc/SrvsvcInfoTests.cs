using SmbCopy.Protocol.Rpc;
using static SmbCopy.Protocol.Tests.Rpc.RpcTestKit;

namespace SmbCopy.Protocol.Tests.Rpc;

public class SrvsvcInfoTests
{
    private static byte[] Call(ushort opnum, byte[] stub) => ResponseStub(BoundPipe().Transceive(Request(5, opnum, stub)), 5);

    [Fact]
    public void ShareGetInfo_unknown_share_answers_NERR_NetNameNotFound()
    {
        var r = new StubReader(Call(16, ShareGetInfoStub("nosuch", 1)));
        Assert.Equal(1u, r.U32());                     // discriminant
        Assert.False(r.Ptr());                         // no info
        Assert.Equal(2310u, r.U32());
        Assert.True(r.AtEnd);
    }

    [Fact]
    public void ShareGetInfo_level1_is_case_insensitive()
    {
        var r = new StubReader(Call(16, ShareGetInfoStub("DATA", 1)));
        Assert.Equal(1u, r.U32());
        Assert.True(r.Ptr());
        Assert.True(r.Ptr());
        Assert.Equal(0u, r.U32());
        Assert.True(r.Ptr());
        Assert.Equal("data", r.CvString());
        Assert.Equal("Team data", r.CvString());
        Assert.Equal(0u, r.U32());
        Assert.True(r.AtEnd);
    }

    [Fact]
    public void ShareGetInfo_level1005_returns_zero_flags()
    {
        var stub = Call(16, ShareGetInfoStub("data", 1005));
        Assert.Equal(Hex("ed030000 00000200 00000000 00000000"), stub);
    }

    [Fact]
    public void ShareGetInfo_from_impacket_level1005()
    {
        // impacket srvs.NetrShareGetInfo(ServerName='fileserver', NetName='data', Level=1005).getData()
        var stub = Call(16, Convert.FromHexString(
            "f21a00000b000000000000000b000000660069006c0065007300650072007600650072000000abab"
            + "05000000000000000500000064006100740061000000bfbfed030000"));
        Assert.Equal(Hex("ed030000 00000200 00000000 00000000"), stub);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(2u)]
    [InlineData(501u)]
    [InlineData(502u)]
    public void ShareGetInfo_other_levels_start_with_the_name(uint level)
    {
        var r = new StubReader(Call(16, ShareGetInfoStub("IPC$", level)));
        Assert.Equal(level, r.U32());
        Assert.True(r.Ptr());
        Assert.True(r.Ptr());                          // netname
        int scalars = level switch { 0 => 0, 2 => 7, 501 => 3, _ => 9 };
        var values = Enumerable.Range(0, scalars).Select(_ => r.U32()).ToArray();
        Assert.Equal("IPC$", r.CvString());
        if (level != 0)
        {
            Assert.Equal(0x80000003u, values[0]);
            Assert.Equal("Remote IPC", r.CvString());
        }
        if (level is 2 or 502) Assert.Equal("", r.CvString());     // IPC$ has no path; password NULL
        Assert.Equal(0u, r.U32());
        Assert.True(r.AtEnd);
    }

    [Fact]
    public void ShareGetInfo_invalid_level_answers_error_invalid_level()
    {
        Assert.Equal(Hex("07000000 7c000000"), Call(16, ShareGetInfoStub("data", 7)));
        Assert.Equal(Hex("ec030000 00000000 7c000000"), Call(16, ShareGetInfoStub("data", 1004)));
    }

    [Fact]
    public void ServerGetInfo_level101()
    {
        var r = new StubReader(Call(21, ServerGetInfoStub(101)));
        Assert.Equal(101u, r.U32());
        Assert.True(r.Ptr());
        Assert.Equal(500u, r.U32());                   // PLATFORM_ID_NT
        Assert.True(r.Ptr());
        Assert.Equal(10u, r.U32());
        Assert.Equal(0u, r.U32());
        Assert.Equal(0x9003u, r.U32());
        Assert.True(r.Ptr());
        Assert.Equal("FILESRV", r.CvString());
        Assert.Equal("SmbCopy server", r.CvString());
        Assert.Equal(0u, r.U32());
        Assert.True(r.AtEnd);
    }

    [Fact]
    public void ServerGetInfo_level100_and_102()
    {
        var r = new StubReader(Call(21, ServerGetInfoStub(100)));
        Assert.Equal(100u, r.U32());
        Assert.True(r.Ptr());
        Assert.Equal(500u, r.U32());
        Assert.True(r.Ptr());
        Assert.Equal("FILESRV", r.CvString());
        Assert.Equal(0u, r.U32());
        Assert.True(r.AtEnd);

        r = new StubReader(Call(21, ServerGetInfoStub(102)));
        Assert.Equal(102u, r.U32());
        Assert.True(r.Ptr());
        Assert.Equal(500u, r.U32());
        Assert.True(r.Ptr());
        Assert.Equal([10u, 0u, 0x9003u], new[] { r.U32(), r.U32(), r.U32() });
        Assert.True(r.Ptr());
        for (int i = 0; i < 6; i++) r.U32();
        Assert.True(r.Ptr());
        Assert.Equal("FILESRV", r.CvString());
        Assert.Equal("SmbCopy server", r.CvString());
        Assert.Equal("C:\\", r.CvString());
        Assert.Equal(0u, r.U32());
        Assert.True(r.AtEnd);
    }

    [Fact]
    public void ServerGetInfo_invalid_levels()
    {
        Assert.Equal(Hex("f6010000 00000000 7c000000"), Call(21, ServerGetInfoStub(502)));
        Assert.Equal(Hex("01000000 7c000000"), Call(21, ServerGetInfoStub(1)));
    }

    [Fact]
    public void Other_opnums_fault_with_op_rng_error()
    {
        var fault = Fault(BoundPipe().Transceive(Request(9, 36, SambaShareEnumStub(1))), 9);
        Assert.Equal(0x1C010002u, fault.Status);
        Assert.Equal(0x23, fault.Flags);               // FIRST|LAST|DID_NOT_EXECUTE
    }

    [Fact]
    public void Truncated_stub_faults_with_bad_stub_data()
    {
        var stub = SambaShareEnumStub(1);
        var fault = Fault(BoundPipe().Transceive(Request(9, 15, stub[..^6])), 9);
        Assert.Equal(0x6F7u, fault.Status);
    }
}
