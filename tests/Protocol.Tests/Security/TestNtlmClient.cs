using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Org.BouncyCastle.Crypto.Digests;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Parameters;

namespace SmbCopy.Protocol.Tests.Security;

/// <summary>
/// A deliberately separate, minimal NTLMv2 + SPNEGO initiator (MS-NLMP 3.1.5, 3.4.4; RFC 4178), written in the
/// test project with hand-built DER so that the acceptor is checked against independent code.
/// </summary>
internal sealed class TestNtlmClient
{
    public const uint NegotiateFlags = 0xE2088297; // what Windows sends (MS-SMB2 blog capture)
    public static readonly byte[] NtlmOidDer = Hex.Bytes("060A2B06010401823702020A");
    public static readonly byte[] MsKrb5OidDer = Hex.Bytes("06092A864882F712010202");

    public string User { get; init; } = "alice";
    public string Domain { get; init; } = "WORKGROUP";
    public string Password { get; init; } = "Secret-1";
    public bool SendMic { get; init; } = true;
    public bool SendMechListMic { get; init; } = true;
    public bool KerberosFirst { get; init; }
    /// <summary>Domain used in NTOWFv2 when it differs from the one sent (some clients hash with an empty domain).</summary>
    public string? HashDomain { get; init; }

    public byte[] Negotiate { get; private set; } = [];
    public byte[] Challenge { get; private set; } = [];
    public byte[] Authenticate { get; private set; } = [];
    public byte[] ExportedSessionKey { get; private set; } = [];
    public uint Flags { get; private set; }

    public byte[] MechTypesDer => KerberosFirst ? Der(0x30, [.. MsKrb5OidDer, .. NtlmOidDer]) : Der(0x30, NtlmOidDer);

    public byte[] BuildNegotiate()
    {
        var m = new byte[40];
        "NTLMSSP\0"u8.CopyTo(m);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(8), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(12), NegotiateFlags);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(20), 40);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(28), 40);
        m[32] = 10; m[33] = 0; BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(34), 19041); m[39] = 15;
        Negotiate = m;
        return m;
    }

    /// <summary>GSS-API wrapped NegTokenInit {mechTypes, mechToken = NEGOTIATE}.</summary>
    public byte[] BuildSpnegoInit()
    {
        var fields = new List<byte>();
        fields.AddRange(Der(0xA0, MechTypesDer));
        if (!KerberosFirst) fields.AddRange(Der(0xA2, Der(0x04, BuildNegotiate())));
        var init = Der(0xA0, Der(0x30, [.. fields]));
        return Der(0x60, [.. Hex.Bytes("06062B0601050502"), .. init]);
    }

    public byte[] BuildSpnegoNegotiateResp() => Der(0xA1, Der(0x30, Der(0xA2, Der(0x04, BuildNegotiate()))));

    public byte[] BuildAuthenticate(byte[] challenge)
    {
        Challenge = challenge;
        Flags = BinaryPrimitives.ReadUInt32LittleEndian(challenge.AsSpan(20));
        var serverChallenge = challenge.AsSpan(24, 8).ToArray();
        int infoLen = BinaryPrimitives.ReadUInt16LittleEndian(challenge.AsSpan(40));
        int infoOff = (int)BinaryPrimitives.ReadUInt32LittleEndian(challenge.AsSpan(44));
        var targetInfo = challenge.AsSpan(infoOff, infoLen);

        // Copy the server's AV pairs (minus EOL), add MsvAvFlags = MIC present, then EOL.
        var pairs = new List<byte>();
        long timestamp = 0;
        for (int i = 0; i + 4 <= targetInfo.Length;)
        {
            ushort id = BinaryPrimitives.ReadUInt16LittleEndian(targetInfo[i..]);
            ushort len = BinaryPrimitives.ReadUInt16LittleEndian(targetInfo[(i + 2)..]);
            if (id == 0) break;
            if (id == 7) timestamp = BinaryPrimitives.ReadInt64LittleEndian(targetInfo[(i + 4)..]);
            pairs.AddRange(targetInfo.Slice(i, 4 + len).ToArray());
            i += 4 + len;
        }
        if (SendMic) pairs.AddRange(Hex.Bytes("0600040002000000"));
        pairs.AddRange(new byte[4]);

        var blob = new List<byte> { 1, 1, 0, 0, 0, 0, 0, 0 };
        blob.AddRange(BitConverter.GetBytes(timestamp));
        blob.AddRange(RandomNumberGenerator.GetBytes(8));
        blob.AddRange(new byte[4]);
        blob.AddRange(pairs);
        blob.AddRange(new byte[4]);

        var ntHash = Md4(Encoding.Unicode.GetBytes(Password));
        var responseKey = HMACMD5.HashData(ntHash, Encoding.Unicode.GetBytes(User.ToUpperInvariant() + (HashDomain ?? Domain)));
        var ntProof = HMACMD5.HashData(responseKey, (byte[])[.. serverChallenge, .. blob]);
        var ntResponse = ntProof.Concat(blob).ToArray();
        var sessionBaseKey = HMACMD5.HashData(responseKey, ntProof);
        ExportedSessionKey = RandomNumberGenerator.GetBytes(16);
        var encryptedKey = Rc4(sessionBaseKey, ExportedSessionKey);

        var domain = Encoding.Unicode.GetBytes(Domain);
        var user = Encoding.Unicode.GetBytes(User);
        var workstation = Encoding.Unicode.GetBytes("TESTPC");
        var lm = new byte[24];
        const int header = 88;
        var payload = new List<byte>();
        var m = new byte[header];
        "NTLMSSP\0"u8.CopyTo(m);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(8), 3);
        void Field(int at, byte[] data)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(at), (ushort)data.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(at + 2), (ushort)data.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(at + 4), (uint)(header + payload.Count));
            payload.AddRange(data);
        }
        Field(28, domain);
        Field(36, user);
        Field(44, workstation);
        Field(12, lm);
        Field(20, ntResponse);
        Field(52, encryptedKey);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(60), Flags);
        m[64] = 10; BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(66), 19041); m[71] = 15;
        var auth = m.Concat(payload).ToArray();
        if (SendMic)
        {
            var mic = HMACMD5.HashData(ExportedSessionKey, (byte[])[.. Negotiate, .. challenge, .. auth]);
            mic.CopyTo(auth, 72);
        }
        Authenticate = auth;
        return auth;
    }

    /// <summary>NegTokenResp {responseToken = AUTHENTICATE, mechListMIC}.</summary>
    public byte[] BuildSpnegoAuthenticate(byte[] challenge)
    {
        var auth = BuildAuthenticate(challenge);
        var fields = new List<byte>(Der(0xA2, Der(0x04, auth)));
        if (SendMechListMic) fields.AddRange(Der(0xA3, Der(0x04, MechListMic(clientToServer: true))));
        return Der(0xA1, Der(0x30, [.. fields]));
    }

    public byte[] MechListMic(bool clientToServer)
    {
        string direction = clientToServer ? "client-to-server" : "server-to-client";
        var signKey = MD5.HashData((byte[])[.. ExportedSessionKey, .. Encoding.ASCII.GetBytes($"session key to {direction} signing key magic constant\0")]);
        var sealKey = MD5.HashData((byte[])[.. ExportedSessionKey, .. Encoding.ASCII.GetBytes($"session key to {direction} sealing key magic constant\0")]);
        var mac = HMACMD5.HashData(signKey, (byte[])[0, 0, 0, 0, .. MechTypesDer]);
        var checksum = Rc4(sealKey, mac.AsSpan(0, 8).ToArray());
        return [1, 0, 0, 0, .. checksum, 0, 0, 0, 0];
    }

    /// <summary>Extracts the responseToken [2] of a NegTokenResp produced by the acceptor (DER, short or long lengths).</summary>
    public static byte[]? ResponseToken(byte[] negTokenResp) => RespField(negTokenResp, 0xA2);
    public static byte[]? MechListMicOf(byte[] negTokenResp) => RespField(negTokenResp, 0xA3);

    public static int? NegStateOf(byte[] negTokenResp)
    {
        var field = RespField(negTokenResp, 0xA0, raw: true);
        return field is null ? null : field[^1];
    }

    private static byte[]? RespField(byte[] token, byte tag, bool raw = false)
    {
        int pos = 0;
        Expect(token, ref pos, 0xA1);
        Expect(token, ref pos, 0x30);
        while (pos < token.Length)
        {
            byte t = token[pos];
            int len = ReadTlvHeader(token, ref pos);
            if (t == tag)
            {
                var inner = token.AsSpan(pos, len).ToArray();
                if (raw) return inner;
                int p = 0;
                int innerLen = ReadTlvHeader(inner, ref p);
                return inner.AsSpan(p, innerLen).ToArray();
            }
            pos += len;
        }
        return null;
    }

    private static void Expect(byte[] b, ref int pos, byte tag)
    {
        if (b[pos] != tag) throw new InvalidOperationException($"expected tag {tag:X2} at {pos}, got {b[pos]:X2}");
        ReadTlvHeader(b, ref pos);
    }

    private static int ReadTlvHeader(byte[] b, ref int pos)
    {
        pos++; // tag
        int first = b[pos++];
        if (first < 0x80) return first;
        int n = first & 0x7F, len = 0;
        for (int i = 0; i < n; i++) len = (len << 8) | b[pos++];
        return len;
    }

    public static byte[] Der(byte tag, byte[] content)
    {
        var result = new List<byte> { tag };
        int n = content.Length;
        if (n < 0x80) result.Add((byte)n);
        else if (n < 0x100) { result.Add(0x81); result.Add((byte)n); }
        else { result.Add(0x82); result.Add((byte)(n >> 8)); result.Add((byte)n); }
        result.AddRange(content);
        return [.. result];
    }

    public static byte[] Md4(byte[] data)
    {
        var d = new MD4Digest();
        d.BlockUpdate(data, 0, data.Length);
        var o = new byte[16];
        d.DoFinal(o, 0);
        return o;
    }

    public static byte[] Rc4(byte[] key, byte[] data)
    {
        var e = new RC4Engine();
        e.Init(true, new KeyParameter(key));
        var o = new byte[data.Length];
        e.ProcessBytes(data, 0, data.Length, o, 0);
        return o;
    }
}
