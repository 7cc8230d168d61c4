using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Protocol.Wire;
using FileAttributes = SmbCopy.Protocol.Fscc.FileAttributes;

namespace SmbCopy.Protocol.Tests.Messages;

public class FileCommandTests
{
    private static readonly Smb2FileId Fid = new(0x0102030405060708, 0x1112131415161718);

    private static Bytes FileId(Bytes b) => b.U64(Fid.Persistent).U64(Fid.Volatile);

    // ---- CLOSE / FLUSH ----

    internal static byte[] CloseMessage() => Bytes.Message(Smb2Command.Close, FileId(new Bytes().U16(24).U16(1).U32(0)));
    internal static byte[] FlushMessage() => Bytes.Message(Smb2Command.Flush, FileId(new Bytes().U16(24).U16(0).U32(0)));

    [Fact]
    public void Close_request_and_response()
    {
        var req = CloseRequest.Parse(CloseMessage(), 64);
        Assert.True(req.PostQueryAttributes);
        Assert.Equal(Fid, req.FileId);

        var resp = new CloseResponse(1, 1, 2, 3, 4, 8192, 100, FileAttributes.Archive);
        var expected = new Bytes().U16(60).U16(1).U32(0).I64(1).I64(2).I64(3).I64(4).I64(8192).I64(100).U32(0x20).ToArray();
        Assert.Equal(expected, Bytes.Write(resp.WriteTo));
        Assert.Equal(60, Bytes.Write(CloseResponse.Empty.WriteTo).Length);
    }

    [Fact]
    public void Flush_request_and_response()
    {
        Assert.Equal(Fid, FlushRequest.Parse(FlushMessage(), 64).FileId);
        Assert.Equal(new byte[] { 4, 0, 0, 0 }, Bytes.Write(new FlushResponse().WriteTo));
        Assert.Throws<MalformedMessageException>(() => FlushRequest.Parse(FlushMessage().AsMemory(0, 64 + 23), 64));
    }

    // ---- READ ----

    internal static byte[] ReadMessage() => Bytes.Message(Smb2Command.Read,
        new Bytes().U16(49).U8(0x50).U8(0).U32(65536).U64(0x10000).U64(Fid.Persistent).U64(Fid.Volatile)
            .U32(1).U32(0).U32(4096).U16(0).U16(0).U8(0));

    [Fact]
    public void Read_request_parses()
    {
        var req = ReadRequest.Parse(ReadMessage(), 64);
        Assert.Equal(0x50, req.Padding);
        Assert.Equal(65536u, req.Length);
        Assert.Equal(0x10000ul, req.Offset);
        Assert.Equal(Fid, req.FileId);
        Assert.Equal(1u, req.MinimumCount);
        Assert.Equal(4096u, req.RemainingBytes);
        Assert.True(req.ReadChannelInfo.IsEmpty);
    }

    [Fact]
    public void Read_channel_info_past_the_message_is_malformed()
    {
        var m = ReadMessage();
        m[64 + 44] = 0x70; m[64 + 46] = 16;
        Assert.Throws<MalformedMessageException>(() => ReadRequest.Parse(m, 64));
    }

    [Fact]
    public void Read_response_header_part_is_16_bytes_with_data_at_0x50()
    {
        var bytes = Bytes.Write(w => ReadResponse.WriteHeaderPart(w, 5, 7));
        Assert.Equal(new Bytes().U16(17).U8(0x50).U8(0).U32(5).U32(7).U32(0).ToArray(), bytes);
        Assert.Equal(0x50, Smb2Header.Size + ReadResponse.HeaderPartSize);
        var full = Bytes.Write(w => ReadResponse.WriteTo(w, new byte[] { 1, 2, 3, 4, 5 }));
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, full[16..]);
    }

    [Fact]
    public void Read_response_header_part_written_in_place_matches_the_writer()
    {
        var span = new byte[20];
        span.AsSpan().Fill(0xEE);
        ReadResponse.WriteHeaderPart(span.AsSpan(2), 0x01020304, 9);
        Assert.Equal(new Bytes().U16(17).U8(0x50).U8(0).U32(0x01020304).U32(9).U32(0).ToArray(), span[2..18]);
        Assert.Equal(new byte[] { 0xEE, 0xEE }, span[..2]);
        Assert.Equal(new byte[] { 0xEE, 0xEE }, span[18..]);
    }

    // ---- WRITE ----

    internal static byte[] WriteMessage(byte[] data) => Bytes.Message(Smb2Command.Write,
        new Bytes().U16(49).U16(0x70).U32((uint)data.Length).U64(512).U64(Fid.Persistent).U64(Fid.Volatile)
            .U32(0).U32(0).U16(0).U16(0).U32(1).Raw(data));

    [Fact]
    public void Write_request_data_is_the_slice_at_DataOffset()
    {
        var data = Enumerable.Range(0, 100).Select(i => (byte)i).ToArray();
        var m = WriteMessage(data);
        var req = WriteRequest.Parse(m, 64);
        Assert.Equal(0x70, req.DataOffset);
        Assert.Equal(512ul, req.Offset);
        Assert.Equal(WriteRequest.FlagWriteThrough, req.Flags);
        Assert.Equal(data, req.Data.ToArray());
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(req.Data, out var seg));
        Assert.Same(m, seg.Array);
        Assert.Equal(0x70, seg.Offset);
    }

    [Fact]
    public void Write_length_beyond_payload_is_malformed()
    {
        var m = WriteMessage(new byte[10]);
        m[64 + 4] = 11;
        Assert.Throws<MalformedMessageException>(() => WriteRequest.Parse(m, 64));
        var m2 = WriteMessage(new byte[10]);
        m2[64 + 4] = 0xFF; m2[64 + 5] = 0xFF; m2[64 + 6] = 0xFF; m2[64 + 7] = 0xFF;
        Assert.Throws<MalformedMessageException>(() => WriteRequest.Parse(m2, 64));
    }

    [Fact]
    public void Write_response_layout()
    {
        Assert.Equal(new Bytes().U16(17).U16(0).U32(100).U32(0).U16(0).U16(0).ToArray(), Bytes.Write(new WriteResponse(100).WriteTo));
    }

    // ---- LOCK ----

    internal static byte[] LockMessage() => Bytes.Message(Smb2Command.Lock,
        FileId(new Bytes().U16(48).U16(2).U32((5u << 4) | 3))
            .U64(0).U64(100).U32(0x12).U32(0)
            .U64(200).U64(50).U32(0x4).U32(0xDEAD));

    [Fact]
    public void Lock_request_elements()
    {
        var req = LockRequest.Parse(LockMessage(), 64);
        Assert.Equal(3, req.LockSequenceNumber);
        Assert.Equal(5u, req.LockSequenceIndex);
        Assert.Equal(Fid, req.FileId);
        Assert.Equal([new LockElement(0, 100, LockFlags.Exclusive | LockFlags.FailImmediately), new LockElement(200, 50, LockFlags.Unlock)], req.Locks);
        Assert.Equal(new byte[] { 4, 0, 0, 0 }, Bytes.Write(new LockResponse().WriteTo));
    }

    [Fact]
    public void Lock_count_beyond_the_message_is_malformed()
    {
        var m = LockMessage();
        m[64 + 2] = 3;
        Assert.Throws<MalformedMessageException>(() => LockRequest.Parse(m, 64));
        m[64 + 2] = 0xFF; m[64 + 3] = 0xFF;
        Assert.Throws<MalformedMessageException>(() => LockRequest.Parse(m, 64));
    }

    // ---- IOCTL ----

    internal static byte[] IoctlMessage(byte[] input) => Bytes.Message(Smb2Command.Ioctl,
        FileId(new Bytes().U16(57).U16(0).U32(FsctlCodes.SrvCopyChunkWrite))
            .U32(0x78).U32((uint)input.Length).U32(0).U32(0).U32(0).U32(12).U32(1).U32(0).Raw(input));

    [Fact]
    public void Ioctl_request_input_slice()
    {
        var input = Enumerable.Range(1, 56).Select(i => (byte)i).ToArray();
        var req = IoctlRequest.Parse(IoctlMessage(input), 64);
        Assert.Equal(FsctlCodes.SrvCopyChunkWrite, req.CtlCode);
        Assert.Equal(Fid, req.FileId);
        Assert.Equal(0x78u, req.InputOffset);
        Assert.Equal(input, req.Input.ToArray());
        Assert.Equal(12u, req.MaxOutputResponse);
        Assert.True(req.IsFsctl);
        Assert.True(req.Output.IsEmpty);
    }

    [Fact]
    public void Ioctl_lying_input_is_malformed()
    {
        var m = IoctlMessage(new byte[8]);
        m[64 + 28] = 9;
        Assert.Throws<MalformedMessageException>(() => IoctlRequest.Parse(m, 64));
        var m2 = IoctlMessage(new byte[8]);
        m2[64 + 24] = 0xFF; m2[64 + 25] = 0xFF; m2[64 + 26] = 0xFF; m2[64 + 27] = 0x7F;
        Assert.Throws<MalformedMessageException>(() => IoctlRequest.Parse(m2, 64));
    }

    [Fact]
    public void Ioctl_response_puts_output_at_0x70()
    {
        var output = new SrvCopyChunkResponse(1, 0, 4096).ToBytes();
        var bytes = Bytes.Write(new IoctlResponse(FsctlCodes.SrvCopyChunk, Fid, output).WriteTo);
        var expected = FileId(new Bytes().U16(49).U16(0).U32(FsctlCodes.SrvCopyChunk))
            .U32(0x70).U32(0).U32(0x70).U32(12).U32(0).U32(0).U32(1).U32(0).U32(4096).ToArray();
        Assert.Equal(expected, bytes);
    }

    [Fact]
    public void Ioctl_response_with_echoed_input_aligns_output_to_8()
    {
        var bytes = Bytes.Write(new IoctlResponse(0x1234, Fid, new byte[] { 9, 9 }, new byte[] { 1, 2, 3, 4, 5 }).WriteTo);
        Assert.Equal(0x70u, BitConverter.ToUInt32(bytes, 24));
        Assert.Equal(5u, BitConverter.ToUInt32(bytes, 28));
        Assert.Equal(0x78u, BitConverter.ToUInt32(bytes, 32));
        Assert.Equal(2u, BitConverter.ToUInt32(bytes, 36));
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 0, 0, 0, 9, 9 }, bytes[48..]);
    }

    // ---- QUERY_DIRECTORY ----

    internal static byte[] QueryDirectoryMessage(string pattern) => Bytes.Message(Smb2Command.QueryDirectory,
        FileId(new Bytes().U16(33).U8(0x25).U8(0x01).U32(0))
            .U16(0x60).U16(pattern.Length * 2).U32(65536).Utf16(pattern));

    [Fact]
    public void Query_directory_request_and_response()
    {
        var req = QueryDirectoryRequest.Parse(QueryDirectoryMessage("*.txt"), 64);
        Assert.Equal(FileInformationClass.IdBothDirectory, req.FileInformationClass);
        Assert.Equal(QueryDirectoryFlags.RestartScans, req.Flags);
        Assert.Equal("*.txt", req.FileName);
        Assert.Equal(65536u, req.OutputBufferLength);
        Assert.Equal(Fid, req.FileId);

        var bytes = Bytes.Write(new QueryDirectoryResponse(new byte[] { 0xAA, 0xBB }).WriteTo);
        Assert.Equal(new Bytes().U16(9).U16(0x48).U32(2).U8(0xAA).U8(0xBB).ToArray(), bytes);
    }

    [Fact]
    public void Query_directory_name_past_message_is_malformed()
    {
        var m = QueryDirectoryMessage("*");
        m[64 + 26] = 4;
        Assert.Throws<MalformedMessageException>(() => QueryDirectoryRequest.Parse(m, 64));
    }

    // ---- CHANGE_NOTIFY ----

    internal static byte[] ChangeNotifyMessage() => Bytes.Message(Smb2Command.ChangeNotify,
        FileId(new Bytes().U16(32).U16(1).U32(4096)).U32(0x17).U32(0));

    [Fact]
    public void Change_notify_request_and_response()
    {
        var req = ChangeNotifyRequest.Parse(ChangeNotifyMessage(), 64);
        Assert.True(req.WatchTree);
        Assert.Equal(4096u, req.OutputBufferLength);
        Assert.Equal(CompletionFilter.FileName | CompletionFilter.DirName | CompletionFilter.Attributes | CompletionFilter.LastWrite, req.CompletionFilter);
        Assert.Equal(new Bytes().U16(9).U16(0x48).U32(0).ToArray(), Bytes.Write(new ChangeNotifyResponse(ReadOnlyMemory<byte>.Empty).WriteTo));
    }

    // ---- QUERY_INFO / SET_INFO ----

    internal static byte[] QueryInfoMessage() => Bytes.Message(Smb2Command.QueryInfo,
        new Bytes().U16(41).U8(1).U8(15).U32(1024).U16(0x68).U16(0).U32(8).U32(0).U32(0).U64(Fid.Persistent).U64(Fid.Volatile)
            .U32(0).U8(0).U8(3).Ascii("ab").U8(0));

    [Fact]
    public void Query_info_request_input_buffer()
    {
        var req = QueryInfoRequest.Parse(QueryInfoMessage(), 64);
        Assert.Equal(InfoType.File, req.InfoType);
        Assert.Equal(FileInformationClass.FullEa, req.FileInformationClass);
        Assert.Equal(1024u, req.OutputBufferLength);
        Assert.Equal(8, req.InputBuffer.Length);
        Assert.Equal(Fid, req.FileId);
        Assert.Equal(new Bytes().U16(9).U16(0x48).U32(3).U8(1).U8(2).U8(3).ToArray(), Bytes.Write(new QueryInfoResponse(new byte[] { 1, 2, 3 }).WriteTo));
    }

    internal static byte[] SetInfoMessage(byte[] buffer) => Bytes.Message(Smb2Command.SetInfo,
        new Bytes().U16(33).U8(1).U8(10).U32((uint)buffer.Length).U16(0x60).U16(0).U32(0).U64(Fid.Persistent).U64(Fid.Volatile).Raw(buffer));

    [Fact]
    public void Set_info_rename_round()
    {
        var rename = new Bytes().U8(1).Zeros(7).U64(0).U32(22).Utf16("dir\\new.txt").ToArray();
        var req = SetInfoRequest.Parse(SetInfoMessage(rename), 64);
        Assert.Equal(FileInformationClass.Rename, req.FileInformationClass);
        var info = FileRenameInformation.Parse(req.Buffer.Span);
        Assert.True(info.ReplaceIfExists);
        Assert.Equal("dir\\new.txt", info.FileName);
        Assert.Equal(new byte[] { 2, 0 }, Bytes.Write(new SetInfoResponse().WriteTo));

        var m = SetInfoMessage(rename);
        m[64 + 4] = 200;
        Assert.Throws<MalformedMessageException>(() => SetInfoRequest.Parse(m, 64));
    }

    // ---- OPLOCK_BREAK ----

    internal static byte[] OplockBreakMessage() => Bytes.Message(Smb2Command.OplockBreak, FileId(new Bytes().U16(24).U8(1).U8(0).U32(0)));
    internal static byte[] LeaseBreakAckMessage() => Bytes.Message(Smb2Command.OplockBreak,
        new Bytes().U16(36).U16(0).U32(0).Guid(new Guid("01020304-0506-0708-090a-0b0c0d0e0f10")).U32(1).U64(0));

    [Fact]
    public void Oplock_and_lease_break_forms()
    {
        Assert.Equal(24, OplockBreakRequest.PeekStructureSize(OplockBreakMessage(), 64));
        var ack = OplockBreak.Parse(OplockBreakMessage(), 64);
        Assert.Equal(new OplockBreak(OplockLevel.LevelII, Fid), ack);
        Assert.Equal(OplockBreakMessage()[64..], Bytes.Write(ack.WriteTo));
        Assert.Throws<MalformedMessageException>(() => OplockBreak.Parse(LeaseBreakAckMessage(), 64));

        Assert.Equal(36, OplockBreakRequest.PeekStructureSize(LeaseBreakAckMessage(), 64));
        var lease = LeaseBreakAcknowledgment.Parse(LeaseBreakAckMessage(), 64);
        Assert.Equal(1u, lease.LeaseState);
        Assert.Equal(LeaseBreakAckMessage()[64..], Bytes.Write(lease.WriteTo));

        var notify = Bytes.Write(new LeaseBreakNotification(2, 1, lease.LeaseKey, 7, 1).WriteTo);
        Assert.Equal(new Bytes().U16(44).U16(2).U32(1).Guid(lease.LeaseKey).U32(7).U32(1).Zeros(12).ToArray(), notify);
    }

    // ---- mutation over every parser ----

    public static TheoryData<string> Parsers => new() { "close", "flush", "read", "write", "lock", "ioctl", "querydir", "notify", "queryinfo", "setinfo", "oplock", "leaseack" };

    [Theory]
    [MemberData(nameof(Parsers))]
    public void Mutations_only_throw_malformed(string which)
    {
        (byte[] m, Action<ReadOnlyMemory<byte>> parse) = which switch
        {
            "close" => (CloseMessage(), (Action<ReadOnlyMemory<byte>>)(x => CloseRequest.Parse(x, 64))),
            "flush" => (FlushMessage(), x => FlushRequest.Parse(x, 64)),
            "read" => (ReadMessage(), x => ReadRequest.Parse(x, 64)),
            "write" => (WriteMessage(new byte[40]), x => WriteRequest.Parse(x, 64)),
            "lock" => (LockMessage(), x => LockRequest.Parse(x, 64)),
            "ioctl" => (IoctlMessage(new byte[32]), x => IoctlRequest.Parse(x, 64)),
            "querydir" => (QueryDirectoryMessage("*"), x => QueryDirectoryRequest.Parse(x, 64)),
            "notify" => (ChangeNotifyMessage(), x => ChangeNotifyRequest.Parse(x, 64)),
            "queryinfo" => (QueryInfoMessage(), x => QueryInfoRequest.Parse(x, 64)),
            "setinfo" => (SetInfoMessage(new Bytes().U8(1).Zeros(7).U64(0).U32(4).Utf16("ab").ToArray()), x =>
            {
                var req = SetInfoRequest.Parse(x, 64);
                FileRenameInformation.Parse(req.Buffer.Span);
            }),
            "oplock" => (OplockBreakMessage(), x => OplockBreak.Parse(x, 64)),
            "leaseack" => (LeaseBreakAckMessage(), x => LeaseBreakAcknowledgment.Parse(x, 64)),
            _ => throw new ArgumentException(which),
        };
        Mutation.OnlyMalformed(m, parse, protectPrefix: 64, seed: which.Sum(c => c));
    }
}
