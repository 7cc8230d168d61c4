using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Protocol.Wire;
using FileAttributes = SmbCopy.Protocol.Fscc.FileAttributes;

namespace SmbCopy.Protocol.Tests.Messages;

public class CreateTests
{
    private static readonly Guid LeaseKey = new("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
    private static readonly Guid ParentKey = new("11111111-2222-3333-4444-555555555555");
    private static readonly Guid CreateGuid = new("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");

    /// <summary>Request laid out from MS-SMB2 2.2.13: name at 0x78, three contexts at 0x90.</summary>
    internal static byte[] ValidRequest(string name = "dir\\file.txt")
    {
        int nameBytes = name.Length * 2;
        int ctxOffset = (0x78 + nameBytes + 7) & ~7;
        var contexts = new Bytes()
            // MxAc, empty data
            .U32(24).U16(16).U16(4).U16(0).U16(0).U32(0).Ascii("MxAc").Zeros(4)
            // RqLs v2, data 52 at 24
            .U32(80).U16(16).U16(4).U16(0).U16(24).U32(52).Ascii("RqLs").Zeros(4)
            .Guid(LeaseKey).U32(7).U32(4).U64(0).Guid(ParentKey).U16(3).U16(0).Zeros(4)
            // DH2Q, data 32 at 24, last
            .U32(0).U16(16).U16(4).U16(0).U16(24).U32(32).Ascii("DH2Q").Zeros(4)
            .U32(60000).U32(2).U64(0).Guid(CreateGuid);
        var body = new Bytes()
            .U16(57).U8(0).U8(9).U32(2).U64(0).U64(0)
            .U32(0x0012019F).U32(0x80).U32(7).U32(3).U32(0x40)
            .U16(0x78).U16(nameBytes).U32((uint)ctxOffset).U32((uint)contexts.Length)
            .Utf16(name);
        while (body.Length + 64 < ctxOffset) body.U8(0);
        body.Raw(contexts.ToArray());
        return Bytes.Message(Smb2Command.Create, body);
    }

    [Fact]
    public void Parses_fields_name_and_context_chain()
    {
        var message = ValidRequest();
        var req = CreateRequest.Parse(message, 64);
        Assert.Equal(OplockLevel.Batch, req.RequestedOplockLevel);
        Assert.Equal(2u, req.ImpersonationLevel);
        Assert.Equal((AccessMask)0x0012019F, req.DesiredAccess);
        Assert.Equal(FileAttributes.Normal, req.FileAttributes);
        Assert.Equal(ShareAccess.Read | ShareAccess.Write | ShareAccess.Delete, req.ShareAccess);
        Assert.Equal(CreateDisposition.OpenIf, req.CreateDisposition);
        Assert.Equal(CreateOptions.NonDirectoryFile, req.CreateOptions);
        Assert.Equal("dir\\file.txt", req.Name);
        Assert.Equal(["MxAc", "RqLs", "DH2Q"], req.CreateContexts.Select(c => c.Name));
        Assert.True(req.CreateContexts[0].Data.IsEmpty);
        Assert.Null(CreateContextData.ParseMaximalAccessRequest(req.CreateContexts[0].Data.Span));

        var lease = LeaseContext.Parse(req.FindContext("RqLs")!.Value.Data.Span);
        Assert.True(lease.IsVersion2);
        Assert.Equal(LeaseKey, lease.LeaseKey);
        Assert.Equal(7u, lease.LeaseState);
        Assert.Equal(ParentKey, lease.ParentLeaseKey);
        Assert.Equal(3, lease.Epoch);

        var dh2q = CreateContextData.ParseDurableHandleRequestV2(req.FindContext("DH2Q")!.Value.Data.Span);
        Assert.Equal(new DurableHandleRequestV2(60000, 2, CreateGuid), dh2q);
    }

    [Fact]
    public void Context_data_is_a_slice_of_the_message_not_a_copy()
    {
        var message = ValidRequest();
        var req = CreateRequest.Parse(message, 64);
        var data = req.FindContext("DH2Q")!.Value.Data;
        message[^1] ^= 0xFF;
        Assert.Equal(message[^1], data.Span[^1]);
    }

    [Fact]
    public void Empty_name_and_no_contexts()
    {
        var body = new Bytes().U16(57).U8(0).U8(0).U32(2).U64(0).U64(0).U32(0x1).U32(0).U32(1).U32(1).U32(1)
            .U16(0x78).U16(0).U32(0).U32(0).U8(0);
        var req = CreateRequest.Parse(Bytes.Message(Smb2Command.Create, body), 64);
        Assert.Equal("", req.Name);
        Assert.Empty(req.CreateContexts);
    }

    [Fact]
    public void Lease_v1_and_small_payload_parsers()
    {
        var v1 = new Bytes().Guid(LeaseKey).U32(3).U32(0).U64(0).ToArray();
        var lease = LeaseContext.Parse(v1);
        Assert.False(lease.IsVersion2);
        Assert.Equal(3u, lease.LeaseState);
        Assert.Throws<MalformedMessageException>(() => LeaseContext.Parse(v1.AsSpan(0, 31)));
        Assert.Equal(4096, CreateContextData.ParseAllocationSize(new Bytes().I64(4096).ToArray()));
        Assert.Equal(0x01D0000000000000, CreateContextData.ParseTimewarp(new Bytes().I64(0x01D0000000000000).ToArray()));
        Assert.Throws<MalformedMessageException>(() => CreateContextData.ParseAllocationSize(new byte[7]));
        Assert.Throws<MalformedMessageException>(() => CreateContextData.ParseDurableHandleRequest(new byte[15]));
        CreateContextData.ParseDurableHandleRequest(new byte[16]);
        var dh2c = new Bytes().U64(1).U64(2).Guid(CreateGuid).U32(2).ToArray();
        Assert.Equal(new DurableHandleReconnectV2(new Smb2FileId(1, 2), CreateGuid, 2), CreateContextData.ParseDurableHandleReconnectV2(dh2c));
    }

    private static byte[] WithContextChain(Bytes chain)
    {
        var body = new Bytes().U16(57).U8(0).U8(0).U32(2).U64(0).U64(0).U32(0x1).U32(0).U32(1).U32(1).U32(0)
            .U16(0x78).U16(0).U32(0x78).U32((uint)chain.Length).Raw(chain.ToArray());
        return Bytes.Message(Smb2Command.Create, body);
    }

    public static TheoryData<string, byte[]> BadChains => new()
    {
        { "name length 3", WithContextChain(new Bytes().U32(0).U16(16).U16(3).U16(0).U16(0).U32(0).Ascii("MxA").Zeros(5)) },
        { "next not 8-aligned", WithContextChain(new Bytes().U32(20).U16(16).U16(4).U16(0).U16(0).U32(0).Ascii("MxAc").Zeros(4)
            .U32(0).U16(16).U16(4).U16(0).U16(0).U32(0).Ascii("QFid").Zeros(4)) },
        { "next past chain", WithContextChain(new Bytes().U32(64).U16(16).U16(4).U16(0).U16(0).U32(0).Ascii("MxAc").Zeros(4)) },
        { "data offset misaligned", WithContextChain(new Bytes().U32(0).U16(16).U16(4).U16(0).U16(20).U32(4).Ascii("AlSi").U32(1).Zeros(4)) },
        { "data past context", WithContextChain(new Bytes().U32(0).U16(16).U16(4).U16(0).U16(24).U32(9).Ascii("AlSi").Zeros(4).I64(1)) },
        { "data overlaps header", WithContextChain(new Bytes().U32(0).U16(16).U16(4).U16(0).U16(0).U32(8).Ascii("AlSi").Zeros(4)) },
        { "name past context", WithContextChain(new Bytes().U32(0).U16(16).U16(16).U16(0).U16(0).U32(0).Ascii("AlSi").Zeros(4)) },
        { "name offset inside header", WithContextChain(new Bytes().U32(0).U16(8).U16(4).U16(0).U16(0).U32(0).Ascii("AlSi").Zeros(4)) },
        { "chain shorter than a context header", WithContextChain(new Bytes().U32(0).U16(16).U16(4).U16(0)) },
        { "huge data length", WithContextChain(new Bytes().U32(0).U16(16).U16(4).U16(0).U16(24).U32(0xFFFFFFF8).Ascii("AlSi").Zeros(4).I64(1)) },
    };

    [Theory]
    [MemberData(nameof(BadChains))]
    public void Bad_context_chains_are_malformed(string why, byte[] message)
    {
        Assert.False(string.IsNullOrEmpty(why));
        Assert.Throws<MalformedMessageException>(() => CreateRequest.Parse(message, 64));
    }

    [Fact]
    public void Good_chain_variant_parses()
    {
        var message = WithContextChain(new Bytes().U32(0).U16(16).U16(4).U16(0).U16(24).U32(8).Ascii("AlSi").Zeros(4).I64(1));
        var req = CreateRequest.Parse(message, 64);
        Assert.Equal(1, CreateContextData.ParseAllocationSize(req.CreateContexts.Single().Data.Span));
    }

    [Fact]
    public void Lying_offsets_are_malformed()
    {
        var message = ValidRequest();
        // CreateContextsOffset misaligned (body offset 48)
        var m1 = (byte[])message.Clone(); m1[64 + 48] += 4;
        Assert.Throws<MalformedMessageException>(() => CreateRequest.Parse(m1, 64));
        // CreateContextsLength beyond the message
        var m2 = (byte[])message.Clone(); m2[64 + 52] += 8;
        Assert.Throws<MalformedMessageException>(() => CreateRequest.Parse(m2, 64));
        // NameLength odd
        var m3 = (byte[])message.Clone(); m3[64 + 46] = 3;
        Assert.Throws<MalformedMessageException>(() => CreateRequest.Parse(m3, 64));
        // NameOffset beyond the message
        var m4 = (byte[])message.Clone(); m4[64 + 44] = 0xF0; m4[64 + 45] = 0xFF;
        Assert.Throws<MalformedMessageException>(() => CreateRequest.Parse(m4, 64));
        // StructureSize wrong
        var m5 = (byte[])message.Clone(); m5[64] = 56;
        Assert.Throws<MalformedMessageException>(() => CreateRequest.Parse(m5, 64));
        // truncated fixed part
        Assert.Throws<MalformedMessageException>(() => CreateRequest.Parse(message.AsMemory(0, 64 + 40), 64));
        // body offset beyond the message
        Assert.Throws<MalformedMessageException>(() => CreateRequest.Parse(message, message.Length + 1));
    }

    [Fact]
    public void Mutations_only_throw_malformed() =>
        Mutation.OnlyMalformed(ValidRequest(), m =>
        {
            var req = CreateRequest.Parse(m, 64);
            foreach (var c in req.CreateContexts)
            {
                if (c.Name == "RqLs") LeaseContext.Parse(c.Data.Span);
                if (c.Name == "DH2Q") CreateContextData.ParseDurableHandleRequestV2(c.Data.Span);
            }
        }, protectPrefix: 64);

    [Fact]
    public void Response_with_MxAc_and_QFid_matches_the_documented_layout()
    {
        var response = new CreateResponse
        {
            OplockLevel = OplockLevel.None,
            CreateAction = CreateAction.Opened,
            CreationTime = 0x01D9000000000001,
            LastAccessTime = 0x01D9000000000002,
            LastWriteTime = 0x01D9000000000003,
            ChangeTime = 0x01D9000000000004,
            AllocationSize = 4096,
            EndOfFile = 1234,
            FileAttributes = FileAttributes.Archive,
            FileId = new Smb2FileId(0x1111, 0x2222),
            Contexts =
            [
                CreateResponseContext.MaximalAccess(NtStatus.Success, AccessMask.FileAllAccess),
                CreateResponseContext.QueryOnDiskId(0xABCDEF, 0x99),
            ],
        };
        var expected = new Bytes()
            .U16(89).U8(0).U8(0).U32(1)
            .I64(0x01D9000000000001).I64(0x01D9000000000002).I64(0x01D9000000000003).I64(0x01D9000000000004)
            .I64(4096).I64(1234).U32(0x20).U32(0).U64(0x1111).U64(0x2222)
            .U32(0x98).U32(88)
            .U32(32).U16(16).U16(4).U16(0).U16(24).U32(8).Ascii("MxAc").Zeros(4).U32(0).U32(0x1F01FF)
            .U32(0).U16(16).U16(4).U16(0).U16(24).U32(32).Ascii("QFid").Zeros(4).U64(0xABCDEF).U64(0x99).Zeros(16)
            .ToArray();
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(Bytes.Write(response.WriteTo)));
    }

    [Fact]
    public void Response_without_contexts_has_zero_offset_and_88_bytes()
    {
        var bytes = Bytes.Write(new CreateResponse { FileId = new Smb2FileId(1, 2) }.WriteTo);
        Assert.Equal(88, bytes.Length);
        Assert.Equal(0u, BitConverter.ToUInt32(bytes, 80));
        Assert.Equal(0u, BitConverter.ToUInt32(bytes, 84));
    }

    [Fact]
    public void Response_context_chain_round_trips_through_the_request_parser_with_odd_sizes()
    {
        var contexts = new List<CreateResponseContext>
        {
            new("RqLs", Bytes.Write(w => new LeaseContext(LeaseKey, 5, 0, 0, ParentKey, 9, true).WriteTo(w, true))),
            new("DHnQ", new byte[8]),
            new("Odd1", new byte[3] { 1, 2, 3 }),
            new("NoDt", ReadOnlyMemory<byte>.Empty),
        };
        var chain = Bytes.Write(w => CreateResponse.WriteContextChain(w, contexts));
        var parsed = CreateRequest.ParseContextChain(chain);
        Assert.Equal(contexts.Select(c => c.Name), parsed.Select(c => c.Name));
        for (int i = 0; i < contexts.Count; i++) Assert.Equal(contexts[i].Data.ToArray(), parsed[i].Data.ToArray());
        // every context begins 8-aligned; lease v2 data is 52 bytes
        Assert.Equal(0, BitConverter.ToInt32(chain, 0) % 8);
        Assert.Equal(52, parsed[0].Data.Length);
        var lease = LeaseContext.Parse(parsed[0].Data.Span);
        Assert.Equal(9, lease.Epoch);
    }

    [Fact]
    public void Binary_context_names_stay_lossless()
    {
        var name = CreateContextNames.AppInstanceId;
        Assert.Equal(16, name.Length);
        var chain = Bytes.Write(w => CreateResponse.WriteContextChain(w, [new CreateResponseContext(name, new byte[20])]));
        var parsed = CreateRequest.ParseContextChain(chain).Single();
        Assert.Equal(name, parsed.Name);
        Assert.Equal(0x45, parsed.NameBytes.Span[0]);
        Assert.Equal(0x74, parsed.NameBytes.Span[15]);
    }
}
