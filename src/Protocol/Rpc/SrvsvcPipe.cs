using System.Buffers.Binary;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Rpc;

/// <summary>
/// The DCE/RPC server end of one open of \PIPE\srvsvc (connection-oriented RPC over a named pipe,
/// C706 ch. 12, MS-RPCE 2.2.2 / 3.3). Bytes the client WRITEs are split into PDUs (a PDU may span
/// writes, a write may hold several PDUs); request fragments are reassembled; responses larger than the
/// client's max_recv_frag go out as several fragments. Nothing the client sends makes it throw: a PDU
/// it cannot parse earns a fault, bytes that are not a PDU at all are dropped.
/// Not thread-safe: the gateway serialises calls per open.
/// </summary>
public sealed class SrvsvcPipe
{
    /// <summary>Fragment size Windows offers on named pipes; also our cap.</summary>
    private const int DefaultMaxFrag = 4280;
    /// <summary>Below this a response fragment would carry no stub (24-byte header + 8).</summary>
    private const int MinFrag = 32;
    private const int MaxRequestStub = 1 << 20;
    private const int MaxPendingOutput = 4 << 20;

    private static int s_assocGroupSeed = 0x5320;

    private readonly Func<IReadOnlyList<RpcShareInfo>> _shares;
    private readonly RpcServerInfo _server;

    private byte[] _in = new byte[256];
    private int _inLength;
    private byte[] _out = new byte[256];
    private int _outStart;
    private int _outEnd;

    private readonly HashSet<ushort> _contexts = [];
    private bool _bound;
    private uint _assocGroup;
    private int _maxSendFrag = DefaultMaxFrag;
    private int _maxRecvFrag = DefaultMaxFrag;

    // Request reassembly (C706 12.6.4.9: fragments of one call arrive in order, same call_id).
    private bool _reassembling;
    private uint _reassemblyCallId;
    private ushort _reassemblyContext;
    private ushort _reassemblyOpnum;
    private byte[] _reassembly = [];
    private int _reassemblyLength;

    public SrvsvcPipe(Func<IReadOnlyList<RpcShareInfo>> shares, RpcServerInfo server)
    {
        ArgumentNullException.ThrowIfNull(shares);
        ArgumentNullException.ThrowIfNull(server);
        _shares = shares;
        _server = server;
    }

    /// <summary>"srvsvc", case-insensitive, optionally prefixed by "\", "PIPE\" or "\PIPE\".</summary>
    public static bool IsPipeName(string name)
    {
        if (name is null) return false;
        ReadOnlySpan<char> n = name;
        if (n.StartsWith("\\")) n = n[1..];
        if (n.StartsWith("PIPE\\", StringComparison.OrdinalIgnoreCase)) n = n[5..];
        return n.Equals("srvsvc", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Response bytes not yet read.</summary>
    public int PendingBytes => _outEnd - _outStart;

    /// <summary>A client WRITE: bytes of one or more PDUs, or part of one.</summary>
    public void Write(ReadOnlySpan<byte> data)
    {
        Append(ref _in, ref _inLength, data);
        int consumed = 0;
        while (_inLength - consumed >= RpcPdu.HeaderLength)
        {
            var header = _in.AsSpan(consumed, _inLength - consumed);
            if (header[0] != 5 || header[1] > 1)
            {
                // Not a CO PDU: there is no way to find the next PDU boundary. Drop what we have.
                consumed = _inLength;
                break;
            }
            bool littleEndian = (header[4] & 0xF0) == 0x10;
            int fragLength = littleEndian ? BinaryPrimitives.ReadUInt16LittleEndian(header[8..]) : BinaryPrimitives.ReadUInt16BigEndian(header[8..]);
            if (fragLength < RpcPdu.HeaderLength)
            {
                consumed = _inLength;
                break;
            }
            if (header.Length < fragLength) break;
            var pdu = header[..fragLength];
            consumed += fragLength;
            if (PendingBytes > MaxPendingOutput) continue;   // client never reads: stop answering
            try
            {
                ProcessPdu(pdu, littleEndian);
            }
            catch (MalformedMessageException)
            {
                uint callId = littleEndian ? BinaryPrimitives.ReadUInt32LittleEndian(pdu[12..]) : BinaryPrimitives.ReadUInt32BigEndian(pdu[12..]);
                QueueFault(callId, 0, RpcPdu.NcaProtoError);
            }
        }
        if (consumed > 0)
        {
            _in.AsSpan(consumed, _inLength - consumed).CopyTo(_in);
            _inLength -= consumed;
        }
    }

    /// <summary>A client READ: copies pending response bytes; returns the count (0 = nothing pending).</summary>
    public int Read(Span<byte> destination)
    {
        int n = Math.Min(destination.Length, PendingBytes);
        _out.AsSpan(_outStart, n).CopyTo(destination);
        _outStart += n;
        if (_outStart == _outEnd) _outStart = _outEnd = 0;
        return n;
    }

    /// <summary>FSCTL_PIPE_TRANSCEIVE: writes the request, returns every pending response byte.</summary>
    public byte[] Transceive(ReadOnlySpan<byte> request)
    {
        Write(request);
        var result = new byte[PendingBytes];
        Read(result);
        return result;
    }

    /// <summary>FSCTL_PIPE_TRANSCEIVE into a bounded buffer: what does not fit stays pending for READs.</summary>
    public int Transceive(ReadOnlySpan<byte> request, Span<byte> destination)
    {
        Write(request);
        return Read(destination);
    }

    // ---- PDU handling ----

    private void ProcessPdu(ReadOnlySpan<byte> pdu, bool littleEndian)
    {
        var r = new WireReader(pdu);
        r.Skip(2);
        byte ptype = r.ReadByte();
        byte flags = r.ReadByte();
        r.Skip(4);                                  // drep
        r.Skip(2);                                  // frag_length, already used
        ushort authLength = r.ReadUInt16();
        uint callId = r.ReadUInt32();
        if (!littleEndian)
        {
            // Every client we serve sends little-endian; refuse the rest without guessing.
            if (ptype is RpcPdu.TypeBind) QueueBindNak(BinaryPrimitives.ReverseEndianness(callId), RpcPdu.NakReasonNotSpecified);
            else QueueFault(BinaryPrimitives.ReverseEndianness(callId), 0, RpcPdu.NcaProtoError);
            return;
        }
        if (authLength != 0 && authLength > pdu.Length - RpcPdu.HeaderLength - 8)
            throw new MalformedMessageException($"auth_length {authLength} does not fit frag_length {pdu.Length}");

        switch (ptype)
        {
            case RpcPdu.TypeBind:
                if (authLength != 0)
                {
                    // We offer no RPC-level security on the pipe (the SMB session already authenticated).
                    QueueBindNak(callId, RpcPdu.NakAuthenticationTypeNotRecognized);
                    return;
                }
                HandleBind(ref r, callId, alter: false);
                break;
            case RpcPdu.TypeAlterContext:
                if (authLength != 0 || !_bound)
                {
                    QueueFault(callId, 0, RpcPdu.NcaProtoError);
                    return;
                }
                HandleBind(ref r, callId, alter: true);
                break;
            case RpcPdu.TypeRequest:
                HandleRequest(ref r, pdu, flags, authLength, callId);
                break;
            case RpcPdu.TypeAuth3:
            case RpcPdu.TypeCoCancel:
            case RpcPdu.TypeOrphaned:
            case RpcPdu.TypeShutdown:
                break;                              // nothing to answer
            default:
                QueueFault(callId, 0, RpcPdu.NcaProtoError);
                break;
        }
    }

    private void HandleBind(ref WireReader r, uint callId, bool alter)
    {
        ushort clientMaxXmit = r.ReadUInt16();
        ushort clientMaxRecv = r.ReadUInt16();
        uint assocGroup = r.ReadUInt32();
        byte contextCount = r.ReadByte();
        r.Skip(3);

        // Read every context before answering, so a truncated bind gets a fault, not half a bind_ack.
        var results = new List<(ushort Context, ushort Result, ushort Reason, bool Ndr)>(contextCount);
        for (int i = 0; i < contextCount; i++)
        {
            ushort contextId = r.ReadUInt16();
            byte transferCount = r.ReadByte();
            r.Skip(1);
            var abstractUuid = r.ReadGuid();
            ushort versionMajor = r.ReadUInt16();
            ushort versionMinor = r.ReadUInt16();
            bool ndr = false, btfn = false;
            for (int t = 0; t < transferCount; t++)
            {
                var uuidBytes = r.ReadBytes(16);
                uint version = r.ReadUInt32();
                if (new Guid(uuidBytes) == RpcPdu.Ndr && version == RpcPdu.NdrVersion) ndr = true;
                else if (RpcPdu.IsBindTimeFeature(uuidBytes)) btfn = true;
            }
            bool knownInterface = abstractUuid == RpcPdu.SrvsvcInterface
                                  && versionMajor == RpcPdu.SrvsvcVersionMajor && versionMinor == RpcPdu.SrvsvcVersionMinor;
            if (btfn && !ndr)
                results.Add((contextId, RpcPdu.ResultNegotiateAck, 0, false));   // no optional features supported
            else if (!knownInterface)
                results.Add((contextId, RpcPdu.ResultProviderRejection, RpcPdu.ReasonAbstractSyntaxNotSupported, false));
            else if (!ndr)
                results.Add((contextId, RpcPdu.ResultProviderRejection, RpcPdu.ReasonTransferSyntaxesNotSupported, false));
            else
                results.Add((contextId, RpcPdu.ResultAcceptance, 0, true));
        }

        if (!alter)
        {
            _contexts.Clear();
            _reassembling = false;
            _assocGroup = assocGroup != 0 ? assocGroup : (uint)Interlocked.Increment(ref s_assocGroupSeed);
            // Our fragments must fit the client's max_recv_frag; theirs may be anything up to 64 KiB.
            _maxSendFrag = Math.Clamp((int)clientMaxRecv, MinFrag, DefaultMaxFrag);
            // What we advertise; we still reassemble anything up to 64 KiB per fragment.
            _maxRecvFrag = Math.Clamp((int)clientMaxXmit, MinFrag, DefaultMaxFrag);
            _bound = true;
        }
        foreach (var res in results)
            if (res.Result == RpcPdu.ResultAcceptance) _contexts.Add(res.Context);

        using var w = new WireWriter(128);
        WriteHeader(w, alter ? RpcPdu.TypeAlterContextResp : RpcPdu.TypeBindAck, RpcPdu.FlagFirstFrag | RpcPdu.FlagLastFrag, callId);
        w.WriteUInt16((ushort)_maxSendFrag);                       // max_xmit_frag
        w.WriteUInt16((ushort)_maxRecvFrag);                       // max_recv_frag
        w.WriteUInt32(_assocGroup);
        if (alter)
        {
            w.WriteUInt16(0);                                      // alter_context_resp: empty sec_addr
        }
        else
        {
            const string secAddr = "\\PIPE\\srvsvc";
            w.WriteUInt16((ushort)(secAddr.Length + 1));
            foreach (char c in secAddr) w.WriteByte((byte)c);
            w.WriteByte(0);
        }
        w.Align(4);
        w.WriteByte((byte)results.Count);
        w.WriteZeros(3);
        foreach (var res in results)
        {
            w.WriteUInt16(res.Result);
            w.WriteUInt16(res.Reason);
            if (res.Ndr)
            {
                w.WriteGuid(RpcPdu.Ndr);
                w.WriteUInt32(RpcPdu.NdrVersion);
            }
            else
            {
                w.WriteZeros(20);
            }
        }
        FinishAndQueue(w);
    }

    private void HandleRequest(ref WireReader r, ReadOnlySpan<byte> pdu, byte flags, ushort authLength, uint callId)
    {
        r.ReadUInt32();                                            // alloc_hint: advisory only
        ushort contextId = r.ReadUInt16();
        ushort opnum = r.ReadUInt16();
        if (!_bound)
        {
            QueueFault(callId, contextId, RpcPdu.NcaProtoError);
            return;
        }
        if (authLength != 0)
        {
            // No security context was negotiated, so a verifier cannot be checked.
            _reassembling = false;
            QueueFault(callId, contextId, RpcPdu.NcaProtoError);
            return;
        }
        if ((flags & RpcPdu.FlagObjectUuid) != 0) r.Skip(16);
        var stub = pdu[r.Position..];

        bool first = (flags & RpcPdu.FlagFirstFrag) != 0;
        bool last = (flags & RpcPdu.FlagLastFrag) != 0;
        if (first && last)
        {
            _reassembling = false;
            Execute(callId, contextId, opnum, stub);
            return;
        }
        if (first)
        {
            _reassembling = true;
            _reassemblyCallId = callId;
            _reassemblyContext = contextId;
            _reassemblyOpnum = opnum;
            _reassemblyLength = 0;
        }
        else if (!_reassembling || callId != _reassemblyCallId)
        {
            _reassembling = false;
            QueueFault(callId, contextId, RpcPdu.NcaProtoError);
            return;
        }
        if (_reassemblyLength + stub.Length > MaxRequestStub)
        {
            _reassembling = false;
            _reassembly = [];
            QueueFault(callId, contextId, RpcPdu.NcaProtoError);
            return;
        }
        Append(ref _reassembly, ref _reassemblyLength, stub);
        if (!last) return;
        _reassembling = false;
        Execute(callId, _reassemblyContext, _reassemblyOpnum, _reassembly.AsSpan(0, _reassemblyLength));
        _reassemblyLength = 0;
    }

    private void Execute(uint callId, ushort contextId, ushort opnum, ReadOnlySpan<byte> stub)
    {
        if (!_contexts.Contains(contextId))
        {
            QueueFault(callId, contextId, RpcPdu.NcaUnknownInterface);
            return;
        }
        var result = SrvsvcService.Dispatch(opnum, stub, _shares, _server);
        if (result.Stub is null)
        {
            QueueFault(callId, contextId, result.FaultStatus);
            return;
        }
        QueueResponse(callId, contextId, result.Stub);
    }

    /// <summary>
    /// Response PDUs of at most the negotiated fragment size; each fragment's stub is a multiple of 8
    /// except the last, alloc_hint counts the stub bytes from this fragment on (C706 12.6.3.7).
    /// </summary>
    private void QueueResponse(uint callId, ushort contextId, byte[] stub)
    {
        int maxStub = (_maxSendFrag - RpcPdu.RequestHeaderLength) & ~7;
        int offset = 0;
        do
        {
            int chunk = Math.Min(maxStub, stub.Length - offset);
            byte flags = 0;
            if (offset == 0) flags |= RpcPdu.FlagFirstFrag;
            if (offset + chunk == stub.Length) flags |= RpcPdu.FlagLastFrag;
            using var w = new WireWriter(RpcPdu.RequestHeaderLength + chunk);
            WriteHeader(w, RpcPdu.TypeResponse, flags, callId);
            w.WriteUInt32((uint)(stub.Length - offset));          // alloc_hint
            w.WriteUInt16(contextId);
            w.WriteByte(0);                                       // cancel_count
            w.WriteByte(0);
            w.WriteBytes(stub.AsSpan(offset, chunk));
            FinishAndQueue(w);
            offset += chunk;
        }
        while (offset < stub.Length);
    }

    private void QueueFault(uint callId, ushort contextId, uint status)
    {
        using var w = new WireWriter(32);
        WriteHeader(w, RpcPdu.TypeFault, RpcPdu.FlagFirstFrag | RpcPdu.FlagLastFrag | RpcPdu.FlagDidNotExecute, callId);
        w.WriteUInt32(0);                                         // alloc_hint
        w.WriteUInt16(contextId);
        w.WriteByte(0);                                           // cancel_count
        w.WriteByte(0);
        w.WriteUInt32(status);
        w.WriteUInt32(0);
        FinishAndQueue(w);
    }

    private void QueueBindNak(uint callId, ushort reason)
    {
        using var w = new WireWriter(24);
        WriteHeader(w, RpcPdu.TypeBindNak, RpcPdu.FlagFirstFrag | RpcPdu.FlagLastFrag, callId);
        w.WriteUInt16(reason);
        w.WriteByte(1);                                           // n_protocols
        w.WriteByte(5);                                           // rpc_vers
        w.WriteByte(0);                                           // rpc_vers_minor
        w.Align(4);
        FinishAndQueue(w);
    }

    private static void WriteHeader(WireWriter w, byte ptype, byte flags, uint callId)
    {
        w.WriteByte(5);
        w.WriteByte(0);
        w.WriteByte(ptype);
        w.WriteByte(flags);
        w.WriteUInt32(0x00000010);                                // drep: little-endian, ASCII, IEEE
        w.WriteUInt16(0);                                         // frag_length, patched
        w.WriteUInt16(0);                                         // auth_length
        w.WriteUInt32(callId);
    }

    private void FinishAndQueue(WireWriter w)
    {
        w.PatchUInt16(8, (ushort)w.Length);
        if (_outStart > 0)
        {
            _out.AsSpan(_outStart, _outEnd - _outStart).CopyTo(_out);
            _outEnd -= _outStart;
            _outStart = 0;
        }
        Append(ref _out, ref _outEnd, w.WrittenSpan);
    }

    private static void Append(ref byte[] buffer, ref int length, ReadOnlySpan<byte> data)
    {
        if (length + data.Length > buffer.Length)
        {
            var bigger = new byte[Math.Max(buffer.Length * 2, length + data.Length)];
            buffer.AsSpan(0, length).CopyTo(bigger);
            buffer = bigger;
        }
        data.CopyTo(buffer.AsSpan(length));
        length += data.Length;
    }
}
