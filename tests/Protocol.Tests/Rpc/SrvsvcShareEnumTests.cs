using SmbCopy.Protocol.Rpc;
using static SmbCopy.Protocol.Tests.Rpc.RpcTestKit;

namespace SmbCopy.Protocol.Tests.Rpc;

public class SrvsvcShareEnumTests
{
    internal sealed record Entry(string Name, uint Type, string? Remark, uint[] Dwords, string? Path, bool PasswordNull);

    internal sealed record EnumReply(uint Level, List<Entry>? Entries, uint TotalEntries, uint? Resume, uint Status);

    /// <summary>Decodes a NetrShareEnum response stub field by field (MS-SRVS 3.1.4.8 out parameters).</summary>
    internal static EnumReply DecodeEnum(byte[] stub)
    {
        var r = new StubReader(stub);
        uint level = r.U32();
        Assert.Equal(level, r.U32());                  // union discriminant = level
        List<Entry>? entries = null;
        if (level is 0 or 1 or 2 or 501 or 502)
        {
            Assert.True(r.Ptr());                      // container pointer
            uint read = r.U32();                       // EntriesRead
            bool buffer = r.Ptr();
            entries = [];
            if (buffer)
            {
                Assert.Equal(read, r.U32());           // conformant array max_count
                var raw = new List<(bool name, uint type, bool remark, uint[] dw, bool path, bool pw)>();
                for (int i = 0; i < read; i++)
                {
                    bool name = r.Ptr();
                    uint type = 0; bool remark = false, path = false, pw = false;
                    var dw = new List<uint>();
                    if (level != 0) { type = r.U32(); remark = r.Ptr(); }
                    if (level == 501) dw.Add(r.U32());
                    if (level is 2 or 502)
                    {
                        dw.Add(r.U32()); dw.Add(r.U32()); dw.Add(r.U32());
                        path = r.Ptr(); pw = r.Ptr();
                    }
                    if (level == 502) { dw.Add(r.U32()); Assert.False(r.Ptr()); }
                    raw.Add((name, type, remark, dw.ToArray(), path, pw));
                }
                foreach (var e in raw)
                {
                    Assert.True(e.name);
                    string name = r.CvString();
                    string? remark = e.remark ? r.CvString() : null;
                    string? path = e.path ? r.CvString() : null;
                    string? pw = e.pw ? r.CvString() : null;
                    entries.Add(new Entry(name, e.type, remark, e.dw, path, pw is null));
                }
            }
            else
            {
                Assert.Equal(0u, read);
            }
        }
        uint total = r.U32();
        uint? resume = r.Ptr() ? r.U32() : null;
        uint status = r.U32();
        Assert.True(r.AtEnd, $"{stub.Length - r.Position} bytes after the status");
        return new EnumReply(level, entries, total, resume, status);
    }

    [Fact]
    public void NetShareEnumAll_level1_as_samba_sends_it_lists_every_share()
    {
        var pipe = BoundPipe();
        // dcerpc_srvsvc_NetShareEnumAll(b, frame, "fileserver", {level 1, ctr1 = {0, NULL}}, 0xffffffff, &total, &resume=0)
        byte[] stub = Hex("""
            00 00 02 00                                       // server_unc: referent
            0b 00 00 00 00 00 00 00 0b 00 00 00               // max 11, offset 0, actual 11
            66 00 69 00 6c 00 65 00 73 00 65 00 72 00 76 00 65 00 72 00 00 00   // "fileserver\0"
            00 00                                             // align 4
            01 00 00 00                                       // info_ctr.level = 1
            01 00 00 00                                       // union switch = 1
            04 00 02 00                                       // ctr1 referent
            00 00 00 00                                       // ctr1.count = 0
            00 00 00 00                                       // ctr1.array = NULL
            ff ff ff ff                                       // max_buffer
            08 00 02 00 00 00 00 00                           // resume_handle: referent, 0
            """);
        Assert.Equal(SambaShareEnumStub(1), stub);

        var reply = DecodeEnum(ResponseStub(pipe.Transceive(Request(2, 15, stub)), 2));

        Assert.Equal(1u, reply.Level);
        Assert.Equal(0u, reply.Status);
        Assert.Equal(3u, reply.TotalEntries);
        Assert.Equal(0u, reply.Resume);
        Assert.Equal(
            [("data", 0u, "Team data"), ("IPC$", 0x80000003u, "Remote IPC"), ("backup", 0u, "")],
            reply.Entries!.Select(e => (e.Name, e.Type, e.Remark!)).ToArray());
    }

    [Fact]
    public void Level1_response_bytes_match_the_ndr_outline()
    {
        var pipe = BoundPipe([new("a", 0, "")]);
        var stub = ResponseStub(pipe.Transceive(Request(2, 15, SambaShareEnumStub(1))), 2);
        byte[] expected = Hex("""
            01 00 00 00  01 00 00 00                          // level, switch
            00 00 02 00                                       // container referent
            01 00 00 00                                       // EntriesRead
            04 00 02 00                                       // Buffer referent
            01 00 00 00                                       // max_count
            08 00 02 00  00 00 00 00  0c 00 02 00             // {netname ptr, type, remark ptr}
            02 00 00 00  00 00 00 00  02 00 00 00  61 00 00 00   // "a\0"
            01 00 00 00  00 00 00 00  01 00 00 00  00 00 00 00   // "\0" + pad
            01 00 00 00                                       // TotalEntries
            10 00 02 00  00 00 00 00                          // ResumeHandle
            00 00 00 00                                       // NERR_Success
            """);
        Assert.Equal(expected, stub);
    }

    [Fact]
    public void Level0_lists_names()
    {
        var reply = DecodeEnum(ResponseStub(BoundPipe().Transceive(Request(2, 15, SambaShareEnumStub(0))), 2));
        Assert.Equal(["data", "IPC$", "backup"], reply.Entries!.Select(e => e.Name));
        Assert.All(reply.Entries!, e => Assert.Null(e.Remark));
    }

    [Theory]
    [InlineData(2u)]
    [InlineData(502u)]
    public void Level2_and_502_carry_path_unlimited_uses_and_no_password(uint level)
    {
        var reply = DecodeEnum(ResponseStub(BoundPipe().Transceive(Request(2, 15, SambaShareEnumStub(level))), 2));
        Assert.Equal(level, reply.Level);
        Assert.Equal(0u, reply.Status);
        var data = reply.Entries![0];
        Assert.Equal(("data", 0u, "Team data"), (data.Name, data.Type, data.Remark));
        Assert.Equal(0u, data.Dwords[0]);              // permissions
        Assert.Equal(0xFFFFFFFFu, data.Dwords[1]);     // max_uses
        Assert.Equal(0u, data.Dwords[2]);              // current_uses
        Assert.Equal("C:\\", data.Path);
        Assert.True(data.PasswordNull);
        if (level == 502) Assert.Equal(0u, data.Dwords[3]);   // security descriptor length
        Assert.Equal("", reply.Entries[1].Path);       // IPC$
    }

    [Fact]
    public void Level501_carries_flags()
    {
        var reply = DecodeEnum(ResponseStub(BoundPipe().Transceive(Request(2, 15, SambaShareEnumStub(501))), 2));
        Assert.Equal(3, reply.Entries!.Count);
        Assert.All(reply.Entries, e => Assert.Equal([0u], e.Dwords));
    }

    [Fact]
    public void Invalid_level_answers_error_invalid_level()
    {
        var reply = DecodeEnum(ResponseStub(BoundPipe().Transceive(Request(2, 15, SambaShareEnumStub(7))), 2));
        Assert.Equal(124u, reply.Status);
        Assert.Equal(0u, reply.TotalEntries);
    }

    [Fact]
    public void Known_but_unsupported_level_has_a_null_container_arm()
    {
        var w = new StubWriter();
        w.U32(0); w.U32(503); w.U32(503); w.U32(0x20000); w.U32(0); w.U32(0); w.U32(0xFFFFFFFF); w.U32(0);
        var stub = ResponseStub(BoundPipe().Transceive(Request(2, 15, w.ToArray())), 2);
        Assert.Equal(Hex("f7010000 f7010000 00000000 00000000 00000000 7c000000"), stub);
    }

    [Fact]
    public void Preferred_maximum_limits_entries_and_resume_handle_continues()
    {
        var shares = Enumerable.Range(0, 10).Select(i => new RpcShareInfo($"share{i}", 0, "")).ToList();
        var pipe = BoundPipe(shares);
        var names = new List<string>();
        uint resume = 0;
        int calls = 0;
        while (true)
        {
            // level 1 entry: 12 + "shareN\0" 14 + "\0" 2 = 28 bytes; 60 bytes → 2 entries per call
            var reply = DecodeEnum(ResponseStub(pipe.Transceive(Request(10, 15, SambaShareEnumStub(1, maxBuffer: 60, resume: resume))), 10));
            calls++;
            Assert.Equal((uint)(10 - names.Count), reply.TotalEntries);
            names.AddRange(reply.Entries!.Select(e => e.Name));
            if (reply.Status == 0)
            {
                Assert.Equal(0u, reply.Resume);
                break;
            }
            Assert.Equal(234u, reply.Status);          // ERROR_MORE_DATA
            Assert.Equal(2, reply.Entries!.Count);
            resume = reply.Resume!.Value;
            Assert.Equal((uint)names.Count, resume);
            Assert.True(calls < 20);
        }
        Assert.Equal(5, calls);
        Assert.Equal(shares.Select(s => s.Name), names);
    }

    [Fact]
    public void Tiny_preferred_maximum_still_returns_one_entry()
    {
        var reply = DecodeEnum(ResponseStub(BoundPipe().Transceive(Request(2, 15, SambaShareEnumStub(1, maxBuffer: 1))), 2));
        Assert.Single(reply.Entries!);
        Assert.Equal(234u, reply.Status);
        Assert.Equal(1u, reply.Resume);
    }

    [Fact]
    public void Resume_past_the_end_returns_nothing_and_null_resume_pointer_stays_null()
    {
        var past = DecodeEnum(ResponseStub(BoundPipe().Transceive(Request(2, 15, SambaShareEnumStub(1, resume: 99))), 2));
        Assert.Empty(past.Entries!);
        Assert.Equal(0u, past.TotalEntries);
        Assert.Equal(0u, past.Status);

        var noResume = DecodeEnum(ResponseStub(BoundPipe().Transceive(Request(2, 15, SambaShareEnumStub(1, resume: null))), 2));
        Assert.Null(noResume.Resume);
        Assert.Equal(3, noResume.Entries!.Count);
    }

    [Fact]
    public void Request_from_impacket_with_random_referents_and_junk_padding_is_understood()
    {
        // impacket 0.10.0 srvs.NetrShareEnum(ServerName='fileserver', level 1, Buffer NULL,
        // PreferedMaximumLength 0xffffffff, ResumeHandle NULL).getData(): random referent ids, 0xabab padding.
        byte[] stub = Convert.FromHexString(
            "addf00000b000000000000000b000000660069006c0065007300650072007600650072000000abab"
            + "0100000001000000504c00000000000000000000ffffffff00000000");
        var reply = DecodeEnum(ResponseStub(BoundPipe().Transceive(Request(2, 15, stub)), 2));
        Assert.Equal(3, reply.Entries!.Count);
        Assert.Null(reply.Resume);
    }

    [Fact]
    public void Container_with_entries_in_the_request_is_skipped_correctly()
    {
        // A client may send a non-null array (IDL allows it); the server must skip it to find max_buffer.
        var w = new StubWriter();
        w.U32(0);                                      // ServerName NULL
        w.U32(2); w.U32(2);                            // level 2
        w.U32(0x20000);                                // container
        w.U32(1); w.U32(0x20004);                      // 1 entry, buffer
        w.U32(1);                                      // max_count
        w.U32(0x20008); w.U32(0); w.U32(0x2000c); w.U32(0); w.U32(0); w.U32(0); w.U32(0x20010); w.U32(0);
        w.String("x"); w.String("remark"); w.String("C:\\x");
        w.U32(1);                                      // PreferedMaximumLength 1 → one entry
        w.U32(0x20014); w.U32(1);                      // resume at 1
        var reply = DecodeEnum(ResponseStub(BoundPipe().Transceive(Request(2, 15, w.ToArray())), 2));
        Assert.Equal("IPC$", Assert.Single(reply.Entries!).Name);
        Assert.Equal(2u, reply.Resume);
    }
}
