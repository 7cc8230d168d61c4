using System.Buffers.Binary;
using System.Text;
using SmbCopy.Storage.Iscsi.Initiator;
using SmbCopy.Storage.Iscsi.Scsi;

namespace SmbCopy.Storage.Tests.Iscsi;

/// <summary>Wire formats without a target: PDU framing, digests, text keys, sense data, EXTENDED COPY lists.</summary>
public sealed class IscsiCodecTests
{
    [Fact]
    public void Crc32c_matches_the_rfc3720_test_vectors()
    {
        // RFC 3720 appendix B.4 (the digest is sent as a little-endian 32-bit value)
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32]));
        Assert.Equal(0x62A8AB43u, Crc32C.Compute(Enumerable.Repeat((byte)0xFF, 32).ToArray()));
        Assert.Equal(0x46DD794Eu, Crc32C.Compute(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray()));
        Assert.Equal(0x113FDB5Cu, Crc32C.Compute(Enumerable.Range(0, 32).Select(i => (byte)(31 - i)).ToArray()));
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        // byte-at-a-time and bulk paths agree at odd lengths
        var b = Enumerable.Range(0, 1001).Select(i => (byte)(i * 7)).ToArray();
        Assert.Equal(Crc32C.Compute(b), ~Crc32C.Append(Crc32C.Append(0xFFFFFFFF, b.AsSpan(0, 3)), b.AsSpan(3)));
    }

    [Theory]
    [InlineData(0, false, false)]
    [InlineData(1, false, false)]
    [InlineData(5, true, true)]
    [InlineData(8192, true, false)]
    [InlineData(3, false, true)]
    public void Pdu_round_trips_with_padding_and_digests(int dataLength, bool headerDigest, bool dataDigest)
    {
        var digests = new DigestOptions(headerDigest, dataDigest);
        var bhs = new Bhs { Opcode = IscsiOpcode.ScsiCommand, Final = true, InitiatorTaskTag = 0x01020304 };
        bhs.LunField = Bhs.EncodeLun(1);
        var ahs = new byte[8];
        ahs[1] = 5;
        var data = Enumerable.Range(0, dataLength).Select(i => (byte)(i + 1)).ToArray();
        var wire = PduCodec.Encode(bhs, ahs, data, digests);
        Assert.Equal(0, wire.Length % 4);
        Assert.Equal(PduCodec.WireLength(8, dataLength, digests), wire.Length);
        Assert.True(PduCodec.TryDecode(wire, 1 << 20, digests, out var pdu, out int consumed));
        Assert.Equal(wire.Length, consumed);
        Assert.Equal(IscsiOpcode.ScsiCommand, pdu!.Opcode);
        Assert.Equal(0x01020304u, pdu.Header.InitiatorTaskTag);
        Assert.Equal(2, pdu.Header.TotalAhsLength);
        Assert.Equal(dataLength, pdu.Header.DataSegmentLength);
        Assert.Equal(data, pdu.Data.ToArray());
        Assert.Equal(ahs, pdu.Ahs.ToArray());
        Assert.Equal(1UL << 48, pdu.Header.LunField);
        // every truncation is "need more", never an exception or a short PDU
        for (int cut = 0; cut < wire.Length; cut++)
            Assert.False(PduCodec.TryDecode(wire.AsSpan(0, cut), 1 << 20, digests, out _, out _));
    }

    [Fact]
    public void Lying_data_segment_length_is_rejected()
    {
        var bhs = new Bhs { Opcode = IscsiOpcode.DataIn };
        var wire = PduCodec.Encode(bhs, default, new byte[100]);
        Assert.Throws<IscsiProtocolException>(() => PduCodec.TryDecode(wire, 64, default, out _, out _));
        // a 16 MiB − 1 claim is refused from the header alone, before anything is allocated
        wire[5] = 0xFF; wire[6] = 0xFF; wire[7] = 0xFF;
        var e = Assert.Throws<IscsiProtocolException>(() => PduCodec.TryDecode(wire.AsSpan(0, 48), 262144, default, out _, out _));
        Assert.Contains("exceeds", e.Message);
    }

    [Fact]
    public void Corrupted_digests_are_rejected()
    {
        var digests = new DigestOptions(true, true);
        var wire = PduCodec.Encode(new Bhs { Opcode = IscsiOpcode.NopIn }, default, "ping"u8, digests);
        var badHeader = (byte[])wire.Clone();
        badHeader[20] ^= 1;
        Assert.Contains("header digest", Assert.Throws<IscsiProtocolException>(() => PduCodec.TryDecode(badHeader, 8192, digests, out _, out _)).Message);
        var badData = (byte[])wire.Clone();
        badData[53] ^= 1;
        Assert.Contains("data digest", Assert.Throws<IscsiProtocolException>(() => PduCodec.TryDecode(badData, 8192, digests, out _, out _)).Message);
    }

    [Fact]
    public void Bhs_fields_are_where_rfc7143_puts_them()
    {
        var bhs = new Bhs { Opcode = IscsiOpcode.LoginRequest, Immediate = true, Flags = 0x87, DataSegmentLength = 0x012345 };
        Assert.Equal(0x43, bhs.Span[0]);
        Assert.Equal(0x87, bhs.Span[1]);
        Assert.Equal([0x01, 0x23, 0x45], bhs.Span[5..8].ToArray());
        Assert.Equal(0x0000_0000_0000_0000UL | (0x40UL << 56) | (300UL << 48), Bhs.EncodeLun(300)); // flat space above 255
        Assert.Throws<ArgumentOutOfRangeException>(() => bhs.DataSegmentLength = 1 << 24);
        Assert.Throws<IscsiProtocolException>(() => Bhs.Parse(new byte[47]));
    }

    [Fact]
    public void Text_keys_parse_and_encode()
    {
        var keys = TextKeys.Parse("TargetAlias=x y\0MaxRecvDataSegmentLength=262144\0\0HeaderDigest=None"u8);
        Assert.Equal("x y", keys.Get("TargetAlias"));
        Assert.Equal("262144", keys.Get("MaxRecvDataSegmentLength"));
        Assert.Equal("None", keys.Get("HeaderDigest"));
        Assert.Equal("a=b\0c=\0"u8.ToArray(), new TextKeys().Add("a", "b").Add("c", "").Encode());
        Assert.Throws<IscsiProtocolException>(() => TextKeys.Parse("novalue\0"u8));
        Assert.Throws<IscsiProtocolException>(() => TextKeys.Parse("=x\0"u8));
        Assert.Throws<IscsiProtocolException>(() => TextKeys.Parse(Encoding.UTF8.GetBytes(new string('k', 64) + "=1\0")));
        Assert.DoesNotContain("secret", new TextKeys().Add("CHAP_R", "secret").ToString());
    }

    [Fact]
    public void Login_negotiation_applies_the_targets_answers()
    {
        var p = IscsiLogin.Apply(new IscsiNegotiatedParameters(), TextKeys.Parse(
            "HeaderDigest=CRC32C\0DataDigest=None\0MaxRecvDataSegmentLength=65536\0MaxBurstLength=262144\0FirstBurstLength=65536\0ImmediateData=Yes\0InitialR2T=Yes\0TargetPortalGroupTag=1\0OFMarker=NotUnderstood\0"u8));
        Assert.True(p.Digests.Header);
        Assert.False(p.Digests.Data);
        Assert.Equal(65536, p.TargetMaxRecvDataSegmentLength);
        Assert.Equal(262144, p.MaxBurstLength);
        Assert.True(p.InitialR2T);
        Assert.Equal(1, p.TargetPortalGroupTag);
        Assert.Throws<IscsiLoginException>(() => IscsiLogin.Apply(p, TextKeys.Parse("ErrorRecoveryLevel=2\0"u8)));
        Assert.Throws<IscsiLoginException>(() => IscsiLogin.Apply(p, TextKeys.Parse("MaxBurstLength=lots\0"u8)));
        var o = new IscsiInitiatorOptions { Host = "h", TargetName = "t" };
        Assert.Equal("65536", IscsiLogin.Answer("MaxBurstLength", "65536", o));   // min
        Assert.Equal("Yes", IscsiLogin.Answer("InitialR2T", "Yes", o));          // OR
        Assert.Equal("No", IscsiLogin.Answer("ImmediateData", "No", o));         // AND
        Assert.Null(IscsiLogin.Answer("TargetAlias", "disk", o));                // declarative
        Assert.Equal("NotUnderstood", IscsiLogin.Answer("X-com.example.Frob", "1", o));
    }

    [Fact]
    public void Chap_response_is_md5_of_id_secret_challenge()
    {
        // MD5(0x01 || "secret" || 0x0102030405) computed independently with python hashlib
        var challenge = TextKeys.Parse("CHAP_A=5\0CHAP_I=1\0CHAP_C=0x0102030405\0"u8);
        string expected = "0x" + Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(
            [0x01, .. "secret"u8.ToArray(), 0x01, 0x02, 0x03, 0x04, 0x05]));
        Assert.Equal(expected, IscsiLogin.ChapResponse(challenge, "secret"));
        Assert.Equal([1, 2, 3], IscsiLogin.DecodeBinary("0b" + Convert.ToBase64String([1, 2, 3])));
        Assert.Throws<IscsiLoginException>(() => IscsiLogin.ChapResponse(TextKeys.Parse("CHAP_A=7\0CHAP_I=1\0CHAP_C=0x01\0"u8), "s"));
        Assert.Throws<IscsiLoginException>(() => IscsiLogin.DecodeBinary("0xZZ"));
    }

    [Fact]
    public void Serial_number_arithmetic_wraps()
    {
        Assert.True(IscsiConnection.SerialLt(0xFFFFFFFF, 0));
        Assert.True(IscsiConnection.SerialLe(5, 5));
        Assert.False(IscsiConnection.SerialLt(10, 3));
        Assert.True(IscsiConnection.SerialLe(0xFFFFFFF0, 0x10));
        Assert.Equal(("10.0.0.1", 3261), IscsiConnection.ParseAddress("10.0.0.1:3261,1", 3260));
        Assert.Equal(("fe80::1", 3260), IscsiConnection.ParseAddress("[fe80::1],2", 3260));
        Assert.Equal(("host", 3260), IscsiConnection.ParseAddress("host", 3260));
    }

    [Fact]
    public void Fixed_and_descriptor_sense_data_decode_with_names()
    {
        byte[] fixedSense = new byte[18];
        fixedSense[0] = 0xF0; // valid + current, fixed
        fixedSense[2] = 0x05;
        BinaryPrimitives.WriteUInt32BigEndian(fixedSense.AsSpan(3), 0x1234);
        fixedSense[7] = 10;
        fixedSense[12] = 0x21;
        var s = SenseData.Decode(fixedSense)!;
        Assert.Equal(SenseKey.IllegalRequest, s.Key);
        Assert.Equal(0x1234UL, s.Information);
        Assert.Equal("ILLEGAL REQUEST (0x5), LOGICAL BLOCK ADDRESS OUT OF RANGE (ASC 0x21 ASCQ 0x00), information 0x1234", s.ToString());

        byte[] desc = [0x72, 0x06, 0x29, 0x07, 0, 0, 0, 12, 0x00, 0x0A, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0x42];
        var d = SenseData.Decode(desc)!;
        Assert.Equal(SenseKey.UnitAttention, d.Key);
        Assert.Equal("I_T NEXUS LOSS OCCURRED", d.AscName);
        Assert.Equal(0x42UL, d.Information);

        Assert.Null(SenseData.Decode([0x70]));
        Assert.Null(SenseData.Decode([0x00, 0x00, 0x00, 0x00]));
        // a descriptor claiming more than is there is ignored, not read past the end
        Assert.NotNull(SenseData.Decode([0x72, 0x05, 0x24, 0x00, 0, 0, 0, 200, 0x00, 0xFF]));

        var busy = new ScsiCommandException("WRITE(16)", ScsiStatus.Busy, null);
        Assert.True(busy.IsTransient);
        Assert.Equal(StorageError.Busy, busy.ToStorageError());
        Assert.True(new ScsiCommandException("READ(16)", ScsiStatus.CheckCondition, d).IsTransient);
        var invalidOp = new ScsiCommandException("EXTENDED COPY", ScsiStatus.CheckCondition,
            SenseData.Decode([0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x20, 0x00]));
        Assert.True(invalidOp.IsNotSupported);
        Assert.Equal(StorageError.NotSupported, invalidOp.ToStorageError());
        Assert.Contains("INVALID COMMAND OPERATION CODE", invalidOp.Message);
    }

    [Fact]
    public void Extended_copy_parameter_list_has_the_spc4_layout()
    {
        byte[] naa = [0x01, 0x03, 0x00, 0x10, .. Enumerable.Range(0x60, 16).Select(i => (byte)i)];
        var list = ExtendedCopyParameters.Build(
            [new CopyTarget(naa, 512), new CopyTarget(naa, 512)],
            [new CopySegment(0, 1, 65535, 0x0102030405060708, 0x1112131415161718)]);
        Assert.Equal(16 + 64 + 28, list.Length);
        Assert.Equal(0x18, list[1]);                                               // no list id
        Assert.Equal(64, BinaryPrimitives.ReadUInt16BigEndian(list.AsSpan(2)));     // target descriptor list length
        Assert.Equal(28u, BinaryPrimitives.ReadUInt32BigEndian(list.AsSpan(8)));    // segment descriptor list length
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(list.AsSpan(12)));    // inline data
        Assert.Equal(0xE4, list[16]);
        Assert.Equal(naa, list.AsSpan(20, 20).ToArray());
        Assert.Equal([0x00, 0x02, 0x00], list.AsSpan(16 + 29, 3).ToArray());       // block length 512
        var seg = list.AsSpan(80);
        Assert.Equal(0x02, seg[0]);
        Assert.Equal(0x0018, BinaryPrimitives.ReadUInt16BigEndian(seg[2..]));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(seg[6..]));
        Assert.Equal(65535, BinaryPrimitives.ReadUInt16BigEndian(seg[10..]));
        Assert.Equal(0x0102030405060708UL, BinaryPrimitives.ReadUInt64BigEndian(seg[12..]));
        Assert.Equal(0x1112131415161718UL, BinaryPrimitives.ReadUInt64BigEndian(seg[20..]));
        Assert.Throws<ArgumentException>(() => ExtendedCopyParameters.Build([new CopyTarget(naa, 512)], [new CopySegment(0, 1, 1, 0, 0)]));
    }

    [Fact]
    public void Operating_parameters_and_block_limits_parse()
    {
        var op = new byte[46];
        BinaryPrimitives.WriteUInt32BigEndian(op, 42);
        BinaryPrimitives.WriteUInt16BigEndian(op.AsSpan(8), 2);
        BinaryPrimitives.WriteUInt16BigEndian(op.AsSpan(10), 1);
        BinaryPrimitives.WriteUInt32BigEndian(op.AsSpan(12), 1024);
        BinaryPrimitives.WriteUInt32BigEndian(op.AsSpan(16), 256 << 20);
        op[43] = 2; op[44] = 0x02; op[45] = 0xE4;
        var p = CopyOperatingParameters.Parse(op);
        Assert.Equal(2, p.MaxTargetDescriptors);
        Assert.Equal(1, p.MaxSegmentDescriptors);
        Assert.True(p.Implements(0xE4) && p.Implements(0x02));
        op[43] = 200; // claims more type codes than were returned: clipped
        Assert.Equal(2, CopyOperatingParameters.Parse(op).ImplementedDescriptorTypes.Length);
        Assert.Throws<ScsiDataException>(() => CopyOperatingParameters.Parse(op.AsSpan(0, 20)));

        var bl = new byte[64];
        bl[1] = 0xB0; bl[3] = 0x3C;
        BinaryPrimitives.WriteUInt32BigEndian(bl.AsSpan(8), 2048);
        BinaryPrimitives.WriteUInt32BigEndian(bl.AsSpan(20), 4194303);
        var limits = BlockLimits.Parse(bl);
        Assert.Equal(2048u, limits.MaxTransferBlocks);
        Assert.Equal(4194303u, limits.MaxUnmapLbaCount);
        // a short page reads as "not reported", not past its end
        Assert.Equal(0u, BlockLimits.Parse(bl.AsSpan(0, 10)).MaxTransferBlocks);
        Assert.Throws<ScsiDataException>(() => BlockLimits.Parse([0, 0x83, 0, 0]));
        Assert.Throws<ScsiDataException>(() => Capacity.Parse(new byte[32])); // block length 0
    }

    [Fact]
    public void Device_identification_keeps_whole_descriptors_only()
    {
        byte[] page = [0x00, 0x83, 0x00, 0x20,
            0x01, 0x03, 0x00, 0x10, .. Enumerable.Repeat((byte)0x60, 16),
            0x02, 0x01, 0x00, 0x20, 0x41, 0x42, 0x43, 0x44]; // second descriptor claims 32 bytes, has 4
        var list = VpdPages.ParseDeviceIdentification(page);
        var naa = Assert.Single(list);
        Assert.Equal(Designator.TypeNaa, naa.Type);
        Assert.Equal(20, naa.RawDescriptor.Length);
    }
}
