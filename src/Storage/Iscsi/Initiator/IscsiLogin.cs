using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace SmbCopy.Storage.Iscsi.Initiator;

/// <summary>Result of a successful login: the parameters and the sequence numbers to continue with.</summary>
internal sealed record LoginResult(IscsiNegotiatedParameters Parameters, uint ExpStatSN, uint CmdSN, uint ExpCmdSN, uint MaxCmdSN);

/// <summary>The target redirected the login (Status-Class 1) to another portal.</summary>
internal sealed class IscsiRedirectException(string address) : Exception("login redirected to " + address)
{
    public string Address { get; } = address;
}

/// <summary>
/// Login phase of one connection (RFC 7143 §6, §11.12, §11.13): security stage (AuthMethod None or CHAP with MD5,
/// §12.1.3), operational negotiation (§13), transition to full feature phase.
/// </summary>
internal static class IscsiLogin
{
    private const int LoginMaxData = 65536; // RFC: 8192 per login PDU; be lenient in what we accept
    private const uint LoginItt = 0;

    private const byte StageSecurity = 0, StageOperational = 1, StageFullFeature = 3;

    public static async Task<LoginResult> LoginAsync(Stream stream, IscsiInitiatorOptions options, byte[] isid, ushort tsih,
        uint cmdSN, CancellationToken cancellationToken)
    {
        bool chap = options.ChapUser != null;
        uint expStatSN = 0;
        byte csg = StageSecurity;
        var keys = new TextKeys()
            .Add("InitiatorName", options.InitiatorName)
            .Add("SessionType", "Normal")
            .Add("TargetName", options.TargetName)
            .Add("AuthMethod", chap ? "CHAP,None" : "None");
        bool transit = !chap;
        var sent = new HashSet<string>(StringComparer.Ordinal);
        var p = new IscsiNegotiatedParameters { MaxRecvDataSegmentLength = options.MaxRecvDataSegmentLength };
        bool chapDone = false;

        for (int round = 0; round < 16; round++)
        {
            byte nsg = csg == StageSecurity ? StageOperational : StageFullFeature;
            foreach (var kv in keys.Pairs) sent.Add(kv.Key);
            var bhs = new Bhs { Opcode = IscsiOpcode.LoginRequest, Immediate = true };
            bhs.Flags = (byte)((transit ? 0x80 : 0) | (csg << 2) | nsg);
            isid.AsSpan(0, 6).CopyTo(bhs.Span[8..]);
            bhs.SetUInt16(14, tsih);
            bhs.InitiatorTaskTag = LoginItt;
            bhs.SetUInt16(20, 0); // CID
            bhs.SetUInt32(24, cmdSN);
            bhs.SetUInt32(28, expStatSN);
            await WriteAsync(stream, PduCodec.Encode(bhs, default, keys.Encode()), cancellationToken).ConfigureAwait(false);

            var (resp, respKeys) = await ReadResponseAsync(stream, isid, tsih, cmdSN, () => expStatSN, v => expStatSN = v,
                cancellationToken).ConfigureAwait(false);
            tsih = resp.GetUInt16(14);
            byte rflags = resp.Flags;
            bool rTransit = (rflags & 0x80) != 0;
            byte rCsg = (byte)((rflags >> 2) & 3), rNsg = (byte)(rflags & 3);
            if (rCsg != csg) throw new IscsiLoginException($"target answered in stage {rCsg}, expected {csg}");
            uint expCmdSN = resp.GetUInt32(28), maxCmdSN = resp.GetUInt32(32);

            keys = new TextKeys();
            if (csg == StageSecurity)
            {
                string? method = respKeys.Get("AuthMethod");
                if (method is "Reject" or "NotUnderstood")
                    throw new IscsiLoginException($"target rejected AuthMethod ({method})");
                if (method == "CHAP" || respKeys.Contains("CHAP_A"))
                {
                    if (!chap) throw new IscsiLoginException("target requires CHAP and no CHAP credentials are configured");
                    if (respKeys.Contains("CHAP_C"))
                    {
                        keys.Add("CHAP_N", options.ChapUser!).Add("CHAP_R", ChapResponse(respKeys, options.ChapSecret ?? ""));
                        chapDone = true;
                        transit = true;
                    }
                    else if (!chapDone)
                    {
                        keys.Add("CHAP_A", "5");
                        transit = false;
                    }
                }
                else if (method is null or "None")
                {
                    transit = true;
                }
                if (rTransit)
                {
                    if (rNsg == StageFullFeature)
                        return Finish(p, respKeys, tsih, expStatSN, cmdSN, expCmdSN, maxCmdSN);
                    csg = StageOperational;
                    keys = OperationalKeys(options);
                    transit = true;
                }
                continue;
            }

            // operational stage
            p = Apply(p, respKeys);
            foreach (var kv in respKeys.Pairs)
                if (!sent.Contains(kv.Key) && Answer(kv.Key, kv.Value, options) is { } answer)
                    keys.Add(kv.Key, answer);
            transit = true;
            if (rTransit && rNsg == StageFullFeature)
                return Finish(p, new TextKeys(), tsih, expStatSN, cmdSN, expCmdSN, maxCmdSN);
        }
        throw new IscsiLoginException("login did not reach full feature phase after 16 exchanges");
    }

    private static LoginResult Finish(IscsiNegotiatedParameters p, TextKeys extra, ushort tsih, uint expStatSN, uint cmdSN,
        uint expCmdSN, uint maxCmdSN)
    {
        p = Apply(p, extra) with { Tsih = tsih };
        if (p.FirstBurstLength > p.MaxBurstLength) p = p with { FirstBurstLength = p.MaxBurstLength };
        return new LoginResult(p, expStatSN, cmdSN, expCmdSN, maxCmdSN);
    }

    private static async Task<(Bhs, TextKeys)> ReadResponseAsync(Stream stream, byte[] isid, ushort tsih, uint cmdSN,
        Func<uint> getExpStatSN, Action<uint> setExpStatSN, CancellationToken cancellationToken)
    {
        var data = new List<byte>();
        while (true)
        {
            var pdu = await PduStream.ReadPduAsync(stream, LoginMaxData, DigestOptions.None, cancellationToken).ConfigureAwait(false);
            var r = pdu.Header;
            if (r.Opcode == IscsiOpcode.Reject)
                throw new IscsiLoginException($"target rejected the login PDU (reason 0x{r.Span[2]:X2})");
            if (r.Opcode != IscsiOpcode.LoginResponse)
                throw new IscsiProtocolException($"expected a Login Response, got {r.Opcode}");
            setExpStatSN(r.GetUInt32(24) + 1);
            byte cls = r.Span[36], det = r.Span[37];
            data.AddRange(pdu.Data.Span);
            if (cls == 1)
            {
                var k = TextKeys.Parse(data.ToArray());
                throw new IscsiRedirectException(k.Get("TargetAddress") ?? throw new IscsiLoginException(cls, det, "redirect without TargetAddress"));
            }
            if (cls != 0) throw new IscsiLoginException(cls, det, TextKeys.Parse(data.ToArray()).ToString());
            if ((r.Flags & 0x40) == 0) // C bit clear: the text is complete
                return (r, TextKeys.Parse(data.ToArray()));
            // continue: send an empty Login Request with the same stage to get the rest (RFC 7143 §11.12.2)
            var more = new Bhs { Opcode = IscsiOpcode.LoginRequest, Immediate = true, Flags = (byte)(r.Flags & 0x0C) };
            isid.AsSpan(0, 6).CopyTo(more.Span[8..]);
            more.SetUInt16(14, tsih);
            more.InitiatorTaskTag = LoginItt;
            more.SetUInt32(24, cmdSN);
            more.SetUInt32(28, getExpStatSN());
            await WriteAsync(stream, PduCodec.Encode(more, default, default), cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task WriteAsync(Stream stream, byte[] bytes, CancellationToken cancellationToken)
    {
        try
        {
            await stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new IscsiConnectionException("connection lost during login: " + e.Message, e);
        }
    }

    internal static TextKeys OperationalKeys(IscsiInitiatorOptions o) => new TextKeys()
        .Add("HeaderDigest", o.HeaderDigest ? "CRC32C,None" : "None")
        .Add("DataDigest", o.DataDigest ? "CRC32C,None" : "None")
        .Add("MaxRecvDataSegmentLength", Str(o.MaxRecvDataSegmentLength))
        .Add("MaxBurstLength", Str(o.MaxBurstLength))
        .Add("FirstBurstLength", Str(Math.Min(o.FirstBurstLength, o.MaxBurstLength)))
        .Add("ImmediateData", YesNo(o.ImmediateData))
        .Add("InitialR2T", YesNo(o.InitialR2T))
        .Add("MaxOutstandingR2T", "1")
        .Add("DataPDUInOrder", "Yes")
        .Add("DataSequenceInOrder", "Yes")
        .Add("ErrorRecoveryLevel", "0")
        .Add("DefaultTime2Wait", "2")
        .Add("DefaultTime2Retain", "20")
        .Add("MaxConnections", "1");

    /// <summary>Our answer to a key the target proposed first; null when none is due (declarative keys).</summary>
    internal static string? Answer(string key, string value, IscsiInitiatorOptions o) => key switch
    {
        "TargetAlias" or "TargetPortalGroupTag" or "TargetAddress" or "MaxRecvDataSegmentLength" => null,
        "MaxBurstLength" => Str(Math.Min(ParseInt(key, value), o.MaxBurstLength)),
        "FirstBurstLength" => Str(Math.Min(ParseInt(key, value), o.FirstBurstLength)),
        "ImmediateData" => YesNo(value == "Yes" && o.ImmediateData),
        "InitialR2T" => YesNo(value == "Yes" || o.InitialR2T),
        "HeaderDigest" or "DataDigest" => "None",
        "MaxOutstandingR2T" or "MaxConnections" => "1",
        "ErrorRecoveryLevel" => "0",
        "DataPDUInOrder" or "DataSequenceInOrder" => value == "Yes" ? "Yes" : "No",
        "DefaultTime2Wait" or "DefaultTime2Retain" => value,
        "IFMarker" or "OFMarker" => "No",
        _ => value is "NotUnderstood" or "Irrelevant" or "Reject" ? null : "NotUnderstood",
    };

    /// <summary>Applies the target's answers (or declarations) to the negotiated parameters.</summary>
    internal static IscsiNegotiatedParameters Apply(IscsiNegotiatedParameters p, TextKeys keys)
    {
        foreach (var (k, v) in keys.Pairs)
        {
            if (v is "NotUnderstood" or "Irrelevant" or "Reject") continue;
            p = k switch
            {
                "HeaderDigest" => p with { Digests = p.Digests with { Header = v == "CRC32C" } },
                "DataDigest" => p with { Digests = p.Digests with { Data = v == "CRC32C" } },
                "MaxRecvDataSegmentLength" => p with { TargetMaxRecvDataSegmentLength = Clamp(ParseInt(k, v), 512, 0xFFFFFF) },
                "MaxBurstLength" => p with { MaxBurstLength = Clamp(ParseInt(k, v), 512, 0xFFFFFF) },
                "FirstBurstLength" => p with { FirstBurstLength = Clamp(ParseInt(k, v), 512, 0xFFFFFF) },
                "ImmediateData" => p with { ImmediateData = v == "Yes" },
                "InitialR2T" => p with { InitialR2T = v == "Yes" },
                "MaxOutstandingR2T" => p with { MaxOutstandingR2T = Clamp(ParseInt(k, v), 1, 65535) },
                "DataPDUInOrder" => p with { DataPduInOrder = v == "Yes" },
                "DataSequenceInOrder" => p with { DataSequenceInOrder = v == "Yes" },
                "ErrorRecoveryLevel" => p with { ErrorRecoveryLevel = ParseInt(k, v) },
                "DefaultTime2Wait" => p with { DefaultTime2Wait = ParseInt(k, v) },
                "DefaultTime2Retain" => p with { DefaultTime2Retain = ParseInt(k, v) },
                "TargetPortalGroupTag" => p with { TargetPortalGroupTag = (ushort)ParseInt(k, v) },
                "TargetAddress" => p with { TargetAddress = v },
                _ => p,
            };
        }
        if (p.ErrorRecoveryLevel != 0)
            throw new IscsiLoginException($"target insists on ErrorRecoveryLevel={p.ErrorRecoveryLevel}; only 0 is supported");
        return p;
    }

    /// <summary>CHAP_R for a CHAP_I / CHAP_C challenge (RFC 1994, MD5 = CHAP_A 5): MD5(id ‖ secret ‖ challenge).</summary>
    internal static string ChapResponse(TextKeys challenge, string secret)
    {
        if (challenge.Get("CHAP_A") is { } a && a != "5")
            throw new IscsiLoginException($"target chose CHAP_A={a}; only MD5 (5) is supported");
        int id = ParseInt("CHAP_I", challenge.Get("CHAP_I") ?? throw new IscsiLoginException("CHAP_I missing"));
        if (id is < 0 or > 255) throw new IscsiLoginException("CHAP_I out of range");
        byte[] c = DecodeBinary(challenge.Get("CHAP_C") ?? throw new IscsiLoginException("CHAP_C missing"));
        byte[] input = [(byte)id, .. Encoding.UTF8.GetBytes(secret), .. c];
        return "0x" + Convert.ToHexStringLower(MD5.HashData(input));
    }

    /// <summary>Binary values: "0x" hex or "0b" base64 (RFC 7143 §6.1).</summary>
    internal static byte[] DecodeBinary(string value)
    {
        try
        {
            if (value.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            {
                string hex = value[2..];
                if (hex.Length % 2 != 0) hex = "0" + hex;
                return Convert.FromHexString(hex);
            }
            if (value.StartsWith("0b", StringComparison.OrdinalIgnoreCase)) return Convert.FromBase64String(value[2..]);
        }
        catch (FormatException) { }
        throw new IscsiLoginException("malformed binary value in login: " + value);
    }

    private static int ParseInt(string key, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n
            : throw new IscsiLoginException($"bad numeric value {key}={value}");

    private static int Clamp(int v, int lo, int hi) => Math.Clamp(v, lo, hi);
    private static string Str(int v) => v.ToString(CultureInfo.InvariantCulture);
    private static string YesNo(bool b) => b ? "Yes" : "No";
}
