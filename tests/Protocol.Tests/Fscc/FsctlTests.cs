using System.Net;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Protocol.Tests.Messages;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Tests.Fscc;

public class FsctlTests
{
    private static readonly byte[] Key = Enumerable.Range(100, 24).Select(i => (byte)i).ToArray();

    private static byte[] CopyChunkInput(uint declaredCount, int actualChunks) =>
        Enumerable.Range(0, actualChunks).Aggregate(new Bytes().Raw(Key).U32(declaredCount).U32(0xFFFFFFFF),
            (b, i) => b.U64((ulong)i * 4096).U64(0x100000 + (ulong)i * 4096).U32(4096).U32(0xDEADBEEF)).ToArray();

    [Fact]
    public void Copychunk_input_parses_and_ignores_reserved()
    {
        Assert.True(SrvCopyChunkCopy.TryParse(CopyChunkInput(2, 2), out var copy));
        Assert.Equal(Key, copy!.SourceKey);
        Assert.Equal(2u, copy.ChunkCount);
        Assert.Equal([new SrvCopyChunk(0, 0x100000, 4096), new SrvCopyChunk(4096, 0x101000, 4096)], copy.Chunks);
        var rewritten = Bytes.Write(copy.WriteTo);
        Assert.Equal(32 + 48, rewritten.Length);
    }

    [Fact]
    public void Copychunk_short_input_is_not_parsed_so_the_handler_sends_limits()
    {
        Assert.False(SrvCopyChunkCopy.TryParse(CopyChunkInput(3, 2), out _));
        Assert.False(SrvCopyChunkCopy.TryParse(CopyChunkInput(0xFFFFFFFF, 1), out _));
        Assert.False(SrvCopyChunkCopy.TryParse(new byte[31], out _));
        Assert.Throws<MalformedMessageException>(() => SrvCopyChunkCopy.Parse(new byte[31]));
        Assert.True(SrvCopyChunkCopy.TryParse(CopyChunkInput(0, 0), out var empty));
        Assert.Empty(empty!.Chunks);
    }

    [Fact]
    public void Copychunk_response_and_limits()
    {
        Assert.Equal(new Bytes().U32(256).U32(1048576).U32(16777216).ToArray(), SrvCopyChunkResponse.Limits(256, 1048576, 16777216).ToBytes());
        Assert.Equal(new SrvCopyChunkResponse(1, 2, 3), SrvCopyChunkResponse.Parse(new Bytes().U32(1).U32(2).U32(3).ToArray()));
    }

    [Fact]
    public void Resume_key_response_is_32_bytes()
    {
        Assert.Equal(new Bytes().Raw(Key).U32(0).U32(0).ToArray(), SrvRequestResumeKeyResponse.ToBytes(Key));
        Assert.Throws<ArgumentException>(() => SrvRequestResumeKeyResponse.ToBytes(new byte[23]));
    }

    [Fact]
    public void Duplicate_extents_plain_and_ex()
    {
        var plain = new Bytes().U64(1).U64(2).I64(0x10000).I64(0x20000).I64(0x30000).ToArray();
        Assert.Equal(new DuplicateExtentsData(new Smb2FileId(1, 2), 0x10000, 0x20000, 0x30000), DuplicateExtentsData.Parse(plain));
        Assert.Throws<MalformedMessageException>(() => DuplicateExtentsData.Parse(plain.AsSpan(0, 39)));

        var ex = new Bytes().U64(0x30).U64(1).U64(2).I64(4096).I64(8192).I64(65536).U32(1).U32(0).ToArray();
        var parsed = DuplicateExtentsDataEx.Parse(ex);
        Assert.True(parsed.HasValidStructureSize);
        Assert.Equal(DuplicateExtentsDataEx.FlagSourceAtomic, parsed.Flags);
        Assert.Equal(ex, Bytes.Write(parsed.WriteTo));
        var wrongSize = (byte[])ex.Clone(); wrongSize[0] = 0x38;
        Assert.False(DuplicateExtentsDataEx.Parse(wrongSize).HasValidStructureSize);
        Assert.Throws<MalformedMessageException>(() => DuplicateExtentsDataEx.Parse(ex.AsSpan(0, 55)));
    }

    [Fact]
    public void Offload_token_fields_are_big_endian()
    {
        var zero = Bytes.Write(StorageOffloadToken.ZeroData().WriteTo);
        Assert.Equal(512, zero.Length);
        Assert.Equal("FFFF0001" + "0000" + "01F8", Convert.ToHexString(zero, 0, 8));
        var token = StorageOffloadToken.Parse(new Bytes().U32BE(0x12345678).U16(0).U16BE(0x1F8).Raw(Enumerable.Repeat((byte)0xAB, 504).ToArray()).ToArray());
        Assert.Equal(0x12345678u, token.TokenType);
        Assert.Equal(0x1F8, token.TokenIdLength);
        Assert.False(token.IsZeroData);
        Assert.True(StorageOffloadToken.ZeroData().IsZeroData);
    }

    [Fact]
    public void Offload_read_and_write_structures()
    {
        var readIn = new Bytes().U32(32).U32(0).U32(1000).U32(0).U64(0x1000).U64(0x100000).ToArray();
        var ri = OffloadReadInput.Parse(readIn);
        Assert.Equal(new OffloadReadInput(32, 0, 1000, 0x1000, 0x100000), ri);
        Assert.Equal(readIn, Bytes.Write(ri.WriteTo));

        var readOut = Bytes.Write(new OffloadReadOutput(1, 0x80000, StorageOffloadToken.ZeroData()).WriteTo);
        Assert.Equal(528, readOut.Length);
        Assert.Equal(new Bytes().U32(528).U32(1).U64(0x80000).ToArray(), readOut[..16]);
        Assert.Equal(0x80000ul, OffloadReadOutput.Parse(readOut).TransferLength);

        var writeIn = new Bytes().U32(544).U32(0).U64(0x2000).U64(0x3000).U64(0x10).Raw(readOut[16..]).ToArray();
        var wi = OffloadWriteInput.Parse(writeIn);
        Assert.Equal(0x10ul, wi.TransferOffset);
        Assert.True(wi.Token.IsZeroData);
        Assert.Equal(writeIn, Bytes.Write(wi.WriteTo));
        Assert.Throws<MalformedMessageException>(() => OffloadWriteInput.Parse(writeIn.AsSpan(0, 543)));

        Assert.Equal(new Bytes().U32(16).U32(0).U64(0x3000).ToArray(), Bytes.Write(new OffloadWriteOutput(0, 0x3000).WriteTo));
    }

    [Fact]
    public void Validate_negotiate_info()
    {
        var guid = new Guid("00112233-4455-6677-8899-aabbccddeeff");
        var input = new Bytes().U32(0x7F).Guid(guid).U16(1).U16(3).U16(0x202).U16(0x210).U16(0x300).ToArray();
        var req = ValidateNegotiateInfoRequest.Parse(input);
        Assert.Equal(new ushort[] { 0x202, 0x210, 0x300 }, req.Dialects);
        Assert.Equal(guid, req.ClientGuid);
        Assert.Equal(input, Bytes.Write(req.WriteTo));
        var lying = (byte[])input.Clone(); lying[22] = 4;
        Assert.Throws<MalformedMessageException>(() => ValidateNegotiateInfoRequest.Parse(lying));
        Assert.Equal(new Bytes().U32(0x44).Guid(guid).U16(1).U16(0x302).ToArray(), Bytes.Write(new ValidateNegotiateInfoResponse(0x44, guid, 1, 0x302).WriteTo));
    }

    [Fact]
    public void Network_interface_entries()
    {
        var bytes = Bytes.Write(w => NetworkInterfaceInfo.WriteList(w, [
            new NetworkInterfaceInfo(2, NetworkInterfaceInfo.CapabilityRss, 10_000_000_000, IPAddress.Parse("192.168.1.10")),
            new NetworkInterfaceInfo(3, 0, 1_000_000_000, IPAddress.Parse("fe80::1")),
        ]));
        Assert.Equal(304, bytes.Length);
        var first = new Bytes().U32(152).U32(2).U32(1).U32(0).U64(10_000_000_000).U16(2).U16(0).Raw(192, 168, 1, 10).Zeros(120).ToArray();
        Assert.Equal(first, bytes[..152]);
        Assert.Equal(0u, BitConverter.ToUInt32(bytes, 152));
        Assert.Equal(0x17, bytes[152 + 24]);
        Assert.Equal(IPAddress.Parse("fe80::1").GetAddressBytes(), bytes[(152 + 24 + 8)..(152 + 24 + 24)]);
    }

    [Fact]
    public void Allocated_ranges_zero_data_and_snapshots()
    {
        Assert.Equal(new FileAllocatedRangeBuffer(0, 4096), FileAllocatedRangeBuffer.Parse(new Bytes().I64(0).I64(4096).ToArray()));
        Assert.Equal(new Bytes().I64(0).I64(10).I64(20).I64(30).ToArray(), Bytes.Write(w => FileAllocatedRangeBuffer.WriteList(w, [new(0, 10), new(20, 30)])));
        Assert.Equal(new FileZeroDataInformation(5, 10), FileZeroDataInformation.Parse(new Bytes().I64(5).I64(10).ToArray()));
        Assert.Throws<MalformedMessageException>(() => FileZeroDataInformation.Parse(new byte[15]));

        Assert.Equal("00000000" + "00000000" + "02000000" + "0000", Convert.ToHexString(Bytes.Write(SrvSnapshotArray.WriteEmpty)));
        var tokens = new[] { "@GMT-2024.01.02-03.04.05" };
        var withTokens = Bytes.Write(w => SrvSnapshotArray.Write(w, tokens, includeTokens: true));
        Assert.Equal(new Bytes().U32(1).U32(1).U32(52).Utf16(tokens[0]).U16(0).U16(0).ToArray(), withTokens);
        Assert.Equal(new Bytes().U32(1).U32(0).U32(52).ToArray(), Bytes.Write(w => SrvSnapshotArray.Write(w, tokens, includeTokens: false)));
    }

    public static TheoryData<string> Parsers => new() { "copychunk", "dupex", "offloadwrite", "vni", "token" };

    [Theory]
    [MemberData(nameof(Parsers))]
    public void Mutations_only_throw_malformed(string which)
    {
        (byte[] valid, Action<ReadOnlyMemory<byte>> parse) = which switch
        {
            "copychunk" => (CopyChunkInput(2, 2), (Action<ReadOnlyMemory<byte>>)(m => SrvCopyChunkCopy.Parse(m.Span))),
            "dupex" => (new Bytes().U64(0x30).U64(1).U64(2).I64(4096).I64(8192).I64(65536).U32(1).U32(0).ToArray(), m => { DuplicateExtentsDataEx.Parse(m.Span); DuplicateExtentsData.Parse(m.Span); }),
            "offloadwrite" => (Bytes.Write(new OffloadWriteInput(544, 0, 1, 2, 3, StorageOffloadToken.ZeroData()).WriteTo), m => { OffloadWriteInput.Parse(m.Span); OffloadReadInput.Parse(m.Span); }),
            "vni" => (new Bytes().U32(0x7F).Guid(Guid.NewGuid()).U16(1).U16(2).U16(0x202).U16(0x300).ToArray(), m => ValidateNegotiateInfoRequest.Parse(m.Span)),
            "token" => (Bytes.Write(StorageOffloadToken.ZeroData().WriteTo), m => StorageOffloadToken.Parse(m.Span)),
            _ => throw new ArgumentException(which),
        };
        Mutation.OnlyMalformed(valid, parse, seed: which.Length * 7919);
    }
}
