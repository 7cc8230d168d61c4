using SmbCopy.Protocol.Rpc;
using System.Buffers.Binary;
using System.Text;

namespace SmbCopy.Protocol.Tests.Rpc;

/// <summary>
/// Client-side helpers written independently of the server code: PDU builders that follow C706 12.6
/// byte by byte, a PDU splitter, and a small NDR decoder (4-byte alignment from the stub start,
/// referent ids, conformant varying strings).
/// </summary>
internal static class RpcTestKit
{
    // GUIDs in NDR wire order (Data1..3 little-endian).
    public static readonly byte[] SrvsvcUuid = Convert.FromHexString("c84f324b7016d30112785a47bf6ee188");
    public static readonly byte[] NdrUuid = Convert.FromHexString("045d888aeb1cc9119fe808002b104860");
    public static readonly byte[] Ndr64Uuid = Convert.FromHexString("33057171babe37498319b5dbef9ccc36");
    public static readonly byte[] BtfnUuid = Convert.FromHexString("2c1cb76c12984045" + "0300000000000000");

    public static byte[] Hex(string text)
    {
        var sb = new StringBuilder();
        foreach (var line in text.Split('\n'))
        {
            var code = line.Split("//")[0];
            foreach (char c in code) if (Uri.IsHexDigit(c)) sb.Append(c);
        }
        return Convert.FromHexString(sb.ToString());
    }

    public static RpcShareInfoList DefaultShares() =>
    [
        new("data", 0, "Team data"),
        new("IPC$", 0x80000003, "Remote IPC"),
        new("backup", 0, ""),
    ];

    public sealed record Context(ushort Id, byte[] Abstract, ushort Major, ushort Minor, params (byte[] Uuid, uint Version)[] Transfers);

    public static Context SrvsvcNdr(ushort id = 0) => new(id, SrvsvcUuid, 3, 0, (NdrUuid, 2));

    public static byte[] Bind(uint callId, ushort maxXmit, ushort maxRecv, params Context[] contexts) =>
        BindLike(11, callId, maxXmit, maxRecv, 0, contexts);

    public static byte[] BindLike(byte ptype, uint callId, ushort maxXmit, ushort maxRecv, uint assoc, Context[] contexts, byte[]? auth = null)
    {
        var body = new List<byte>();
        void U16(ushort v) { body.Add((byte)v); body.Add((byte)(v >> 8)); }
        void U32(uint v) { U16((ushort)v); U16((ushort)(v >> 16)); }
        U16(maxXmit);
        U16(maxRecv);
        U32(assoc);
        body.Add((byte)contexts.Length);
        body.AddRange(new byte[3]);
        foreach (var c in contexts)
        {
            U16(c.Id);
            body.Add((byte)c.Transfers.Length);
            body.Add(0);
            body.AddRange(c.Abstract);
            U16(c.Major);
            U16(c.Minor);
            foreach (var t in c.Transfers)
            {
                body.AddRange(t.Uuid);
                U32(t.Version);
            }
        }
        if (auth is not null)
        {
            // sec_trailer: auth_type 10 (NTLMSSP), level 2 (connect), pad 0, reserved, context id
            body.AddRange([10, 2, 0, 0, 0, 0, 0, 0]);
            body.AddRange(auth);
        }
        return Pdu(ptype, 3, callId, body.ToArray(), (ushort)(auth?.Length ?? 0));
    }

    public static byte[] Request(uint callId, ushort opnum, byte[] stub, ushort contextId = 0, byte flags = 3, uint? allocHint = null)
    {
        var body = new byte[8 + stub.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(body, allocHint ?? (uint)stub.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(4), contextId);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(6), opnum);
        stub.CopyTo(body, 8);
        return Pdu(0, flags, callId, body, 0);
    }

    public static byte[] Pdu(byte ptype, byte flags, uint callId, byte[] body, ushort authLength)
    {
        var pdu = new byte[16 + body.Length];
        pdu[0] = 5;
        pdu[1] = 0;
        pdu[2] = ptype;
        pdu[3] = flags;
        pdu[4] = 0x10;
        BinaryPrimitives.WriteUInt16LittleEndian(pdu.AsSpan(8), (ushort)pdu.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(pdu.AsSpan(10), authLength);
        BinaryPrimitives.WriteUInt32LittleEndian(pdu.AsSpan(12), callId);
        body.CopyTo(pdu, 16);
        return pdu;
    }

    public sealed record PduView(byte Type, byte Flags, uint CallId, byte[] Bytes)
    {
        public uint U32(int offset) => BinaryPrimitives.ReadUInt32LittleEndian(Bytes.AsSpan(offset));
        public ushort U16(int offset) => BinaryPrimitives.ReadUInt16LittleEndian(Bytes.AsSpan(offset));
    }

    /// <summary>Splits a byte stream into PDUs by frag_length, checking the common header of each.</summary>
    public static List<PduView> Split(byte[] stream)
    {
        var list = new List<PduView>();
        int pos = 0;
        while (pos < stream.Length)
        {
            Assert.True(stream.Length - pos >= 16, "truncated PDU header");
            Assert.Equal(5, stream[pos]);
            Assert.Equal(0, stream[pos + 1]);
            Assert.Equal(new byte[] { 0x10, 0, 0, 0 }, stream[(pos + 4)..(pos + 8)]);
            int len = BinaryPrimitives.ReadUInt16LittleEndian(stream.AsSpan(pos + 8));
            Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(stream.AsSpan(pos + 10)));
            Assert.True(len >= 16 && pos + len <= stream.Length, $"bad frag_length {len}");
            var bytes = stream[pos..(pos + len)];
            list.Add(new PduView(bytes[2], bytes[3], BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(12)), bytes));
            pos += len;
        }
        return list;
    }

    /// <summary>Joins the stubs of a response's fragments, checking FIRST/LAST flags, call id and alloc_hint.</summary>
    public static byte[] ResponseStub(byte[] stream, uint callId, int maxFrag = 4280)
    {
        var pdus = Split(stream);
        Assert.NotEmpty(pdus);
        var stub = new List<byte>();
        int total = pdus.Sum(p => p.Bytes.Length - 24);
        for (int i = 0; i < pdus.Count; i++)
        {
            var p = pdus[i];
            Assert.Equal(2, p.Type);
            Assert.Equal(callId, p.CallId);
            Assert.True(p.Bytes.Length <= maxFrag, $"fragment {i} is {p.Bytes.Length} > {maxFrag}");
            Assert.Equal(i == 0, (p.Flags & 1) != 0);
            Assert.Equal(i == pdus.Count - 1, (p.Flags & 2) != 0);
            Assert.Equal((uint)(total - stub.Count), p.U32(16));    // alloc_hint = stub bytes left
            Assert.Equal(0, p.Bytes[22]);
            stub.AddRange(p.Bytes[24..]);
        }
        return stub.ToArray();
    }

    public static (uint Status, ushort Context, byte Flags) Fault(byte[] stream, uint callId)
    {
        var pdus = Split(stream);
        var p = Assert.Single(pdus);
        Assert.Equal(3, p.Type);
        Assert.Equal(callId, p.CallId);
        Assert.Equal(32, p.Bytes.Length);
        return (p.U32(24), p.U16(20), p.Flags);
    }

    public static SrvsvcPipe BoundPipe(IReadOnlyList<RpcShareInfo>? shares = null, ushort maxRecv = 5840)
    {
        var list = shares ?? DefaultShares();
        var pipe = new SrvsvcPipe(() => list, new RpcServerInfo("FILESRV", "SmbCopy server"));
        var ack = Split(pipe.Transceive(Bind(1, 5840, maxRecv, SrvsvcNdr())));
        Assert.Equal(12, Assert.Single(ack).Type);
        return pipe;
    }

    /// <summary>NetShareEnumAll request stub exactly as Samba's pidl client pushes it (see test for layout).</summary>
    public static byte[] SambaShareEnumStub(uint level, string server = "fileserver", uint maxBuffer = 0xFFFFFFFF, uint? resume = 0)
    {
        var w = new StubWriter();
        w.U32(0x00020000);                  // server_unc referent
        w.String(server);
        w.U32(level);                       // info_ctr.level
        w.U32(level);                       // union switch
        w.U32(0x00020004);                  // ctr referent
        w.U32(0);                           // ctr.count
        w.U32(0);                           // ctr.array = NULL
        w.U32(maxBuffer);
        if (resume is null) w.U32(0);
        else { w.U32(0x00020008); w.U32(resume.Value); }
        return w.ToArray();
    }

    public static byte[] ShareGetInfoStub(string share, uint level)
    {
        var w = new StubWriter();
        w.U32(0x00020000);
        w.String("fileserver");
        w.String(share);                    // [in] [string] share_name[]: no pointer
        w.U32(level);
        return w.ToArray();
    }

    public static byte[] ServerGetInfoStub(uint level)
    {
        var w = new StubWriter();
        w.U32(0x00020000);
        w.String("\\\\fileserver");
        w.U32(level);
        return w.ToArray();
    }
}

/// <summary>Alias so collection expressions in tests read well.</summary>
internal sealed class RpcShareInfoList : List<RpcShareInfo>;

internal sealed class StubWriter
{
    private readonly List<byte> _b = [];

    public void U32(uint v)
    {
        while (_b.Count % 4 != 0) _b.Add(0);
        _b.Add((byte)v); _b.Add((byte)(v >> 8)); _b.Add((byte)(v >> 16)); _b.Add((byte)(v >> 24));
    }

    public void String(string s)
    {
        uint n = (uint)s.Length + 1;
        U32(n); U32(0); U32(n);
        _b.AddRange(Encoding.Unicode.GetBytes(s + "\0"));
    }

    public byte[] ToArray() => _b.ToArray();
}

/// <summary>Independent NDR decoder for the responses under test.</summary>
internal sealed class StubReader(byte[] stub)
{
    private int _pos;
    private readonly HashSet<uint> _referents = [];

    public int Position => _pos;
    public bool AtEnd => _pos == stub.Length;

    public uint U32()
    {
        while (_pos % 4 != 0)
        {
            Assert.Equal(0, stub[_pos]);   // our padding is zeros
            _pos++;
        }
        Assert.True(_pos + 4 <= stub.Length, $"read past stub end at {_pos}");
        uint v = BinaryPrimitives.ReadUInt32LittleEndian(stub.AsSpan(_pos));
        _pos += 4;
        return v;
    }

    /// <summary>A unique pointer: 0 or a referent id not used before in this stub.</summary>
    public bool Ptr()
    {
        uint r = U32();
        if (r == 0) return false;
        Assert.True(_referents.Add(r), $"referent id {r:X8} reused");
        return true;
    }

    public string CvString()
    {
        uint max = U32();
        uint offset = U32();
        uint actual = U32();
        Assert.Equal(0u, offset);
        Assert.Equal(max, actual);
        Assert.True(actual >= 1);
        string s = Encoding.Unicode.GetString(stub, _pos, (int)actual * 2);
        _pos += (int)actual * 2;
        Assert.EndsWith("\0", s);
        return s[..^1];
    }
}
