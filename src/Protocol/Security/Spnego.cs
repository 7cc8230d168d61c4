using System.Formats.Asn1;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Security;

/// <summary>SPNEGO negState values (RFC 4178 §4.2.2).</summary>
internal enum NegState
{
    AcceptCompleted = 0,
    AcceptIncomplete = 1,
    Reject = 2,
    RequestMic = 3,
}

/// <summary>A parsed SPNEGO token: either a NegTokenInit (IsInit) or a NegTokenResp.</summary>
internal sealed class SpnegoToken
{
    public bool IsInit { get; init; }
    /// <summary>DER of the client's MechTypeList exactly as received (the mechListMIC input), NegTokenInit only.</summary>
    public byte[]? MechTypesEncoded { get; init; }
    public IReadOnlyList<string> MechTypes { get; init; } = [];
    public byte[]? MechToken { get; init; }
    public byte[]? MechListMic { get; init; }
    public NegState? State { get; init; }
    public string? SupportedMech { get; init; }
}

/// <summary>
/// The SPNEGO encodings of RFC 4178 §4.2 and MS-SPNG 2.2.1. Parsing is BER-tolerant (what clients send);
/// everything written is DER. Parse failures surface as <see cref="MalformedMessageException"/>.
/// </summary>
internal static class Spnego
{
    public const string SpnegoOid = "1.3.6.1.5.5.2";
    public const string NtlmOid = "1.3.6.1.4.1.311.2.2.10";
    public const string HintName = "not_defined_in_RFC4178@please_ignore";

    private static readonly Asn1Tag GssApiTag = new(TagClass.Application, 0, isConstructed: true);
    private static Asn1Tag Ctx(int n) => new(TagClass.ContextSpecific, n, isConstructed: true);

    /// <summary>NegTokenInit2 for the SMB2 NEGOTIATE response: mechTypes {NTLMSSP} plus negHints.hintName (MS-SPNG 2.2.1).</summary>
    public static byte[] BuildNegTokenInit2()
    {
        var w = new AsnWriter(AsnEncodingRules.DER);
        using (w.PushSequence(GssApiTag))
        {
            w.WriteObjectIdentifier(SpnegoOid);
            using (w.PushSequence(Ctx(0)))
            using (w.PushSequence())
            {
                using (w.PushSequence(Ctx(0)))
                using (w.PushSequence())
                    w.WriteObjectIdentifier(NtlmOid);
                using (w.PushSequence(Ctx(3)))
                using (w.PushSequence())
                using (w.PushSequence(Ctx(0)))
                {
                    // GeneralString (universal 27): AsnWriter has no writer for it, so encode the TLV by hand.
                    var hint = System.Text.Encoding.ASCII.GetBytes(HintName);
                    var tlv = new byte[2 + hint.Length];
                    tlv[0] = 0x1B;
                    tlv[1] = (byte)hint.Length;
                    hint.CopyTo(tlv, 2);
                    w.WriteEncodedValue(tlv);
                }
            }
        }
        return w.Encode();
    }

    /// <summary>NegTokenResp (not wrapped in the GSS-API header, as Windows sends it).</summary>
    public static byte[] BuildNegTokenResp(NegState? state, string? supportedMech, ReadOnlySpan<byte> responseToken, ReadOnlySpan<byte> mechListMic)
    {
        var w = new AsnWriter(AsnEncodingRules.DER);
        using (w.PushSequence(Ctx(1)))
        using (w.PushSequence())
        {
            if (state is { } s)
                using (w.PushSequence(Ctx(0)))
                    w.WriteEnumeratedValue(s);
            if (supportedMech is not null)
                using (w.PushSequence(Ctx(1)))
                    w.WriteObjectIdentifier(supportedMech);
            if (!responseToken.IsEmpty)
                using (w.PushSequence(Ctx(2)))
                    w.WriteOctetString(responseToken);
            if (!mechListMic.IsEmpty)
                using (w.PushSequence(Ctx(3)))
                    w.WriteOctetString(mechListMic);
        }
        return w.Encode();
    }

    public static bool LooksLikeSpnego(ReadOnlySpan<byte> token) => !token.IsEmpty && (token[0] == 0x60 || token[0] == 0xA0 || token[0] == 0xA1);

    public static SpnegoToken Parse(ReadOnlySpan<byte> token)
    {
        try
        {
            return ParseCore(token.ToArray());
        }
        catch (AsnContentException ex)
        {
            throw new MalformedMessageException("bad SPNEGO DER: " + ex.Message);
        }
        catch (ArgumentException ex)
        {
            throw new MalformedMessageException("bad SPNEGO DER: " + ex.Message);
        }
    }

    private static SpnegoToken ParseCore(byte[] bytes)
    {
        var outer = new AsnReader(bytes, AsnEncodingRules.BER);
        AsnReader body;
        var tag = outer.PeekTag();
        if (tag.HasSameClassAndValue(GssApiTag))
        {
            var app = outer.ReadSequence(GssApiTag);
            if (app.ReadObjectIdentifier() != SpnegoOid) throw new MalformedMessageException("GSS-API token is not SPNEGO");
            body = app;
        }
        else
        {
            body = outer;
        }
        var choice = body.PeekTag();
        SpnegoToken result;
        if (choice.HasSameClassAndValue(Ctx(0)))
            result = ParseInit(body.ReadSequence(Ctx(0)).ReadSequence());
        else if (choice.HasSameClassAndValue(Ctx(1)))
            result = ParseResp(body.ReadSequence(Ctx(1)).ReadSequence());
        else
            throw new MalformedMessageException("not a NegTokenInit or NegTokenResp");
        return result;
    }

    private static SpnegoToken ParseInit(AsnReader seq)
    {
        byte[]? mechTypesEncoded = null;
        var mechTypes = new List<string>();
        byte[]? mechToken = null, mic = null;
        while (seq.HasData)
        {
            var tag = seq.PeekTag();
            if (tag.TagClass != TagClass.ContextSpecific) throw new MalformedMessageException("unexpected NegTokenInit field");
            var field = seq.ReadSequence(tag);
            switch (tag.TagValue)
            {
                case 0:
                    mechTypesEncoded = field.ReadEncodedValue().ToArray();
                    var list = new AsnReader(mechTypesEncoded, AsnEncodingRules.BER).ReadSequence();
                    while (list.HasData) mechTypes.Add(list.ReadObjectIdentifier());
                    break;
                case 2:
                    mechToken = field.ReadOctetString();
                    break;
                case 3:
                    mic = field.ReadOctetString();
                    break;
                default:
                    break; // reqFlags [1], negHints [3] in Init2, mechListMIC variants: ignored
            }
        }
        if (mechTypesEncoded is null) throw new MalformedMessageException("NegTokenInit without mechTypes");
        return new SpnegoToken { IsInit = true, MechTypesEncoded = mechTypesEncoded, MechTypes = mechTypes, MechToken = mechToken, MechListMic = mic };
    }

    private static SpnegoToken ParseResp(AsnReader seq)
    {
        NegState? state = null;
        string? mech = null;
        byte[]? responseToken = null, mic = null;
        while (seq.HasData)
        {
            var tag = seq.PeekTag();
            if (tag.TagClass != TagClass.ContextSpecific) throw new MalformedMessageException("unexpected NegTokenResp field");
            var field = seq.ReadSequence(tag);
            switch (tag.TagValue)
            {
                case 0:
                    var value = field.ReadEnumeratedBytes();
                    if (value.Length != 1 || value.Span[0] > 3) throw new MalformedMessageException("bad negState");
                    state = (NegState)value.Span[0];
                    break;
                case 1:
                    mech = field.ReadObjectIdentifier();
                    break;
                case 2:
                    responseToken = field.ReadOctetString();
                    break;
                case 3:
                    mic = field.ReadOctetString();
                    break;
                default:
                    break;
            }
        }
        return new SpnegoToken { IsInit = false, State = state, SupportedMech = mech, MechToken = responseToken, MechListMic = mic };
    }
}
