using System.Diagnostics;
using System.Text.Json;
using SmbCopy.Protocol.Rpc;
using Xunit.Abstractions;
using static SmbCopy.Protocol.Tests.Rpc.RpcTestKit;

namespace SmbCopy.Protocol.Tests.Rpc;

/// <summary>
/// Cross-check with a third-party decoder: impacket's DCE/RPC and MS-SRVS structures (python3-impacket,
/// Debian package) parse the byte streams this server produces. Runs only where /usr/bin/python3 can
/// import impacket; elsewhere it reports that and passes.
/// </summary>
public class SrvsvcImpacketTests(ITestOutputHelper output)
{
    private const string Python = "/usr/bin/python3";

    private const string Script = """
        import sys, json
        from impacket.dcerpc.v5 import srvs
        from impacket.dcerpc.v5.rpcrt import MSRPCBindAck, MSRPCRespHeader

        def stub_of(stream):
            out, pos, frags = b'', 0, 0
            while pos < len(stream):
                fl = MSRPCRespHeader(stream[pos:])['frag_len']
                h = MSRPCRespHeader(stream[pos:pos + fl])
                assert h['type'] == 2, h['type']
                out += h['pduData']
                pos += fl
                frags += 1
            return out, frags

        def s(v):
            return None if v is None or v == b'' or isinstance(v, int) else v[:-1] if v.endswith('\x00') else v

        cases = json.load(open(sys.argv[1]))
        res = {}
        ack = MSRPCBindAck(bytes.fromhex(cases['bind_ack']))
        res['bind_ack'] = {'max_tfrag': ack['max_tfrag'], 'max_rfrag': ack['max_rfrag'], 'assoc': ack['assoc_group'],
                           'sec_addr': (lambda a: a.decode() if isinstance(a, bytes) else a)(ack['SecondaryAddr']).rstrip('\x00'),
                           'results': [[c['Result'], c['Reason'], c['TransferSyntax'].hex()] for c in ack.getCtxItems()]}
        for level in ['1', '2', '501', '502']:
            stub, frags = stub_of(bytes.fromhex(cases['enum' + level]))
            r = srvs.NetrShareEnumResponse(stub)
            info = r['InfoStruct']['ShareInfo']['Level' + level]
            p = {'1': 'shi1_', '2': 'shi2_', '501': 'shi501_', '502': 'shi502_'}[level]
            ents = []
            for e in info['Buffer']:
                d = {'name': s(e[p + 'netname']), 'type': e[p + 'type'], 'remark': s(e[p + 'remark'])}
                if level in ('2', '502'):
                    d.update(path=s(e[p + 'path']), max_uses=e[p + 'max_uses'], passwd=s(e[p + 'passwd']))
                if level == '501':
                    d.update(flags=e[p + 'flags'])
                ents.append(d)
            res['enum' + level] = {'frags': frags, 'read': info['EntriesRead'], 'total': r['TotalEntries'],
                                   'status': r['ErrorCode'], 'entries': ents}
        stub, _ = stub_of(bytes.fromhex(cases['getinfo1005']))
        r = srvs.NetrShareGetInfoResponse(stub)
        res['getinfo1005'] = {'tag': r['InfoStruct']['tag'], 'flags': r['InfoStruct']['ShareInfo1005']['shi1005_flags'], 'status': r['ErrorCode']}
        stub, _ = stub_of(bytes.fromhex(cases['getinfo_missing']))
        r = srvs.NetrShareGetInfoResponse(stub)
        res['getinfo_missing'] = {'status': r['ErrorCode']}
        stub, _ = stub_of(bytes.fromhex(cases['srv101']))
        i = srvs.NetrServerGetInfoResponse(stub)['InfoStruct']['ServerInfo101']
        res['srv101'] = {'platform': i['sv101_platform_id'], 'name': s(i['sv101_name']), 'major': i['sv101_version_major'],
                         'minor': i['sv101_version_minor'], 'type': i['sv101_type'], 'comment': s(i['sv101_comment'])}
        stub, _ = stub_of(bytes.fromhex(cases['srv102']))
        i = srvs.NetrServerGetInfoResponse(stub)['InfoStruct']['ServerInfo102']
        res['srv102'] = {'name': s(i['sv102_name']), 'userpath': s(i['sv102_userpath']), 'type': i['sv102_type']}
        print(json.dumps(res))
        """;

    private static bool ImpacketAvailable()
    {
        if (!File.Exists(Python)) return false;
        try
        {
            using var p = Process.Start(new ProcessStartInfo(Python, ["-c", "import impacket.dcerpc.v5.srvs"]) { RedirectStandardError = true });
            p!.WaitForExit(30_000);
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    [Fact]
    public async Task Impacket_decodes_bind_ack_and_every_srvsvc_response()
    {
        // tests/install-deps.sh installs python3-impacket; a missing decoder is a failed check, not a pass.
        Assert.True(ImpacketAvailable(), "python3-impacket is not installed (run tests/install-deps.sh)");
        var shares = new List<RpcShareInfo>
        {
            new("data", 0, "Team data"),
            new("IPC$", 0x80000003, "Remote IPC"),
            new("empty-remark", 0, ""),
        };
        shares.AddRange(Enumerable.Range(0, 57).Select(i => new RpcShareInfo($"proj{i:D2}", 0, $"Project share {i} ünïcödé")));
        var pipe = new SrvsvcPipe(() => shares, new RpcServerInfo("FILESRV", "SmbCopy server"));
        string Hex(byte[] b) => Convert.ToHexString(b);
        var cases = new Dictionary<string, string>
        {
            ["bind_ack"] = Hex(pipe.Transceive(Bind(1, 5840, 1432, SrvsvcNdr(0), new Context(1, SrvsvcUuid, 3, 0, (Ndr64Uuid, 1))))),
            ["enum1"] = Hex(pipe.Transceive(Request(2, 15, SambaShareEnumStub(1)))),
            ["enum2"] = Hex(pipe.Transceive(Request(3, 15, SambaShareEnumStub(2)))),
            ["enum501"] = Hex(pipe.Transceive(Request(4, 15, SambaShareEnumStub(501)))),
            ["enum502"] = Hex(pipe.Transceive(Request(5, 15, SambaShareEnumStub(502)))),
            ["getinfo1005"] = Hex(pipe.Transceive(Request(6, 16, ShareGetInfoStub("data", 1005)))),
            ["getinfo_missing"] = Hex(pipe.Transceive(Request(7, 16, ShareGetInfoStub("nope", 1)))),
            ["srv101"] = Hex(pipe.Transceive(Request(8, 21, ServerGetInfoStub(101)))),
            ["srv102"] = Hex(pipe.Transceive(Request(9, 21, ServerGetInfoStub(102)))),
        };
        var dir = Directory.CreateTempSubdirectory("srvsvc-impacket-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "cases.json"), JsonSerializer.Serialize(cases));
            File.WriteAllText(Path.Combine(dir.FullName, "decode.py"), Script);
            var psi = new ProcessStartInfo(Python, [Path.Combine(dir.FullName, "decode.py"), Path.Combine(dir.FullName, "cases.json")])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await p.WaitForExitAsync(timeout.Token);
            string errors = await stderr;
            output.WriteLine(errors);
            Assert.True(p.ExitCode == 0, "impacket failed to decode:\n" + errors);

            using var json = JsonDocument.Parse(await stdout);
            var root = json.RootElement;

            var ack = root.GetProperty("bind_ack");
            Assert.Equal(1432, ack.GetProperty("max_tfrag").GetInt32());
            Assert.Equal("\\PIPE\\srvsvc", ack.GetProperty("sec_addr").GetString());
            Assert.NotEqual(0, ack.GetProperty("assoc").GetInt64());
            var results = ack.GetProperty("results");
            Assert.Equal(2, results.GetArrayLength());
            Assert.Equal(0, results[0][0].GetInt32());
            Assert.Equal(Convert.ToHexString(NdrUuid) + "02000000", results[0][2].GetString()!.ToUpperInvariant());
            Assert.Equal(2, results[1][0].GetInt32());
            Assert.Equal(2, results[1][1].GetInt32());

            foreach (var level in new[] { "1", "2", "501", "502" })
            {
                var e = root.GetProperty("enum" + level);
                Assert.True(e.GetProperty("frags").GetInt32() > 1, $"level {level} response was not fragmented");
                Assert.Equal(0, e.GetProperty("status").GetInt64());
                Assert.Equal(60, e.GetProperty("read").GetInt32());
                Assert.Equal(60, e.GetProperty("total").GetInt32());
                var entries = e.GetProperty("entries").EnumerateArray().ToList();
                Assert.Equal(shares.Select(x => x.Name), entries.Select(x => x.GetProperty("name").GetString()));
                Assert.Equal(shares.Select(x => (long)x.Type), entries.Select(x => x.GetProperty("type").GetInt64()));
                Assert.Equal(shares.Select(x => x.Remark), entries.Select(x => x.GetProperty("remark").GetString() ?? ""));
                if (level is "2" or "502")
                {
                    Assert.Equal("C:\\", entries[0].GetProperty("path").GetString());
                    Assert.Equal(0xFFFFFFFFL, entries[0].GetProperty("max_uses").GetInt64());
                    Assert.Equal(JsonValueKind.Null, entries[0].GetProperty("passwd").ValueKind);
                }
                if (level == "501") Assert.Equal(0, entries[0].GetProperty("flags").GetInt32());
            }

            var gi = root.GetProperty("getinfo1005");
            Assert.Equal(1005, gi.GetProperty("tag").GetInt32());
            Assert.Equal(0, gi.GetProperty("flags").GetInt32());
            Assert.Equal(0, gi.GetProperty("status").GetInt32());
            Assert.Equal(2310, root.GetProperty("getinfo_missing").GetProperty("status").GetInt32());

            var s101 = root.GetProperty("srv101");
            Assert.Equal(500, s101.GetProperty("platform").GetInt32());
            Assert.Equal("FILESRV", s101.GetProperty("name").GetString());
            Assert.Equal(10, s101.GetProperty("major").GetInt32());
            Assert.Equal(0, s101.GetProperty("minor").GetInt32());
            Assert.Equal(0x9003, s101.GetProperty("type").GetInt32());
            Assert.Equal("SmbCopy server", s101.GetProperty("comment").GetString());
            var s102 = root.GetProperty("srv102");
            Assert.Equal("FILESRV", s102.GetProperty("name").GetString());
            Assert.Equal("C:\\", s102.GetProperty("userpath").GetString());
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
