using System.Formats.Asn1;
using System.Security.Cryptography;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Security;

public enum GssStatus { ContinueNeeded, Complete, Failed }

public sealed class GssAcceptResult
{
    public GssStatus Status { get; init; }
    /// <summary>SPNEGO token to put in the SESSION_SETUP response (may be empty).</summary>
    public byte[] OutputToken { get; init; } = [];
    /// <summary>16-byte ExportedSessionKey on Complete.</summary>
    public byte[]? SessionKey { get; init; }
    public string? UserName { get; init; }
    public string? Domain { get; init; }
    public bool IsAnonymous { get; init; }
    /// <summary>For logs; never contains secrets.</summary>
    public string? FailureReason { get; init; }
    /// <summary>The token could not be parsed (Windows answers STATUS_INVALID_PARAMETER rather than a log-on failure).</summary>
    public bool Malformed { get; init; }
}

/// <summary>
/// Server side of SPNEGO (RFC 4178, MS-SPNG) carrying NTLMv2 (MS-NLMP), one instance per authentication
/// exchange. Also accepts bare NTLMSSP tokens, answered in kind. Never throws on wire input: anything
/// malformed ends the exchange with <see cref="GssStatus.Failed"/>. Not thread-safe (one SESSION_SETUP at a time).
/// </summary>
public sealed class SpnegoNtlmAcceptor
{
    private enum Stage { Initial, AwaitNegotiate, AwaitAuthenticate, Done }

    private readonly Func<string, string, byte[]?> _ntHashLookup;
    private readonly string _nbComputer;
    private readonly string _nbDomain;
    private readonly string _dnsComputer;
    private readonly TimeProvider _time;

    private Stage _stage = Stage.Initial;
    private bool _spnego;
    private bool _mechListMicRequired;
    private byte[]? _mechTypes;
    private byte[]? _negotiate;
    private byte[]? _challenge;

    public SpnegoNtlmAcceptor(Func<string, string, byte[]?> ntHashLookup, string netbiosComputerName, string netbiosDomainName,
        string dnsComputerName, TimeProvider? time = null)
    {
        _ntHashLookup = ntHashLookup ?? throw new ArgumentNullException(nameof(ntHashLookup));
        _nbComputer = netbiosComputerName ?? throw new ArgumentNullException(nameof(netbiosComputerName));
        _nbDomain = netbiosDomainName ?? throw new ArgumentNullException(nameof(netbiosDomainName));
        _dnsComputer = dnsComputerName ?? throw new ArgumentNullException(nameof(dnsComputerName));
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Test hook: when set, this exact CHALLENGE_MESSAGE is sent instead of a freshly generated one.</summary>
    internal byte[]? FixedChallengeMessage { get; set; }

    /// <summary>NegTokenInit2 for the SMB2 NEGOTIATE response buffer: NTLMSSP only, plus negHints.</summary>
    public static byte[] CreateNegotiateToken() => Spnego.BuildNegTokenInit2();

    public GssAcceptResult Accept(ReadOnlySpan<byte> token)
    {
        try
        {
            return AcceptCore(token);
        }
        catch (MalformedMessageException ex)
        {
            return Fail("malformed token: " + ex.Message, malformed: true);
        }
        catch (AsnContentException ex)
        {
            return Fail("malformed token: " + ex.Message, malformed: true);
        }
        catch (CryptographicException)
        {
            return Fail("cryptographic failure");
        }
        catch (ArgumentException ex)
        {
            return Fail("malformed token: " + ex.Message, malformed: true);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Last line of defence for a network-facing parser (and a throwing lookup callback): fail the
            // exchange, name the exception type only (messages could echo user data).
            return Fail("internal error: " + ex.GetType().Name);
        }
    }

    private GssAcceptResult AcceptCore(ReadOnlySpan<byte> token)
    {
        if (_stage == Stage.Done) return Fail("authentication exchange already finished");
        if (token.IsEmpty) return Fail("empty security token");

        if (NtlmMessages.IsNtlmssp(token))
        {
            if (_stage == Stage.Initial)
            {
                _spnego = false;
                var challenge = StartNtlm(token);
                _stage = Stage.AwaitAuthenticate;
                return new GssAcceptResult { Status = GssStatus.ContinueNeeded, OutputToken = challenge };
            }
            if (_stage == Stage.AwaitAuthenticate && !_spnego)
                return FinishNtlm(token, clientMechListMic: null);
            return Fail("unexpected raw NTLMSSP token");
        }

        if (!Spnego.LooksLikeSpnego(token)) return Fail("neither SPNEGO nor NTLMSSP");
        if (_stage == Stage.Initial) _spnego = true;
        var spnego = Spnego.Parse(token);
        switch (_stage)
        {
            case Stage.Initial:
            {
                if (!spnego.IsInit) return Fail("expected NegTokenInit");
                _spnego = true;
                if (!spnego.MechTypes.Contains(Spnego.NtlmOid)) return Fail("client offers no NTLMSSP mechanism");
                _mechTypes = spnego.MechTypesEncoded;
                if (spnego.MechTypes[0] == Spnego.NtlmOid && spnego.MechToken is { Length: > 0 } mechToken)
                {
                    var challenge = StartNtlm(mechToken);
                    _stage = Stage.AwaitAuthenticate;
                    return Continue(Spnego.BuildNegTokenResp(NegState.AcceptIncomplete, Spnego.NtlmOid, challenge, default));
                }
                // No usable optimistic token: select NTLMSSP and wait for its NEGOTIATE. When NTLMSSP was not the
                // client's first choice, RFC 4178 §5 requires the mechListMIC exchange: ask for it (request-mic).
                bool preferred = spnego.MechTypes[0] == Spnego.NtlmOid;
                _mechListMicRequired = !preferred;
                _stage = Stage.AwaitNegotiate;
                return Continue(Spnego.BuildNegTokenResp(preferred ? NegState.AcceptIncomplete : NegState.RequestMic, Spnego.NtlmOid, default, default));
            }
            case Stage.AwaitNegotiate:
            {
                if (spnego.IsInit || spnego.MechToken is not { Length: > 0 } negotiate) return Fail("expected NegTokenResp with an NTLM NEGOTIATE");
                var challenge = StartNtlm(negotiate);
                _stage = Stage.AwaitAuthenticate;
                return Continue(Spnego.BuildNegTokenResp(NegState.AcceptIncomplete, null, challenge, default));
            }
            case Stage.AwaitAuthenticate:
            {
                if (!_spnego) return Fail("SPNEGO token in a raw NTLMSSP exchange");
                if (spnego.IsInit || spnego.MechToken is not { Length: > 0 } authenticate) return Fail("expected NegTokenResp with an NTLM AUTHENTICATE");
                return FinishNtlm(authenticate, spnego.MechListMic);
            }
            default:
                return Fail("unexpected state");
        }
    }

    private static GssAcceptResult Continue(byte[] output) => new() { Status = GssStatus.ContinueNeeded, OutputToken = output };

    private byte[] StartNtlm(ReadOnlySpan<byte> negotiate)
    {
        uint clientFlags = NtlmMessages.ParseNegotiateFlags(negotiate);
        _negotiate = negotiate.ToArray();
        if (FixedChallengeMessage is { } fixedChallenge)
        {
            _challenge = fixedChallenge;
            return fixedChallenge;
        }

        // Always: NTLM, REQUEST_TARGET, ALWAYS_SIGN, TARGET_TYPE_SERVER (stand-alone server), TARGET_INFO, VERSION.
        // Echoed only when the client asked: UNICODE (else OEM), SIGN, SEAL, ESS, 128, 56, KEY_EXCH.
        uint flags = NtlmFlags.Ntlm | NtlmFlags.RequestTarget | NtlmFlags.AlwaysSign | NtlmFlags.TargetTypeServer
                     | NtlmFlags.TargetInfo | NtlmFlags.Version;
        flags |= (clientFlags & NtlmFlags.Unicode) != 0 ? NtlmFlags.Unicode : NtlmFlags.Oem;
        flags |= clientFlags & (NtlmFlags.Sign | NtlmFlags.Seal | NtlmFlags.ExtendedSessionSecurity
                                | NtlmFlags.Negotiate128 | NtlmFlags.Negotiate56 | NtlmFlags.KeyExchange);

        Span<byte> serverChallenge = stackalloc byte[8];
        RandomNumberGenerator.Fill(serverChallenge);
        string dnsDomain = _dnsComputer.Contains('.', StringComparison.Ordinal) ? _dnsComputer[(_dnsComputer.IndexOf('.', StringComparison.Ordinal) + 1)..] : _dnsComputer;
        long fileTime = _time.GetUtcNow().ToFileTime();
        _challenge = NtlmMessages.BuildChallenge(flags, serverChallenge, _nbComputer, _nbComputer, _nbDomain, _dnsComputer, dnsDomain, fileTime);
        return _challenge;
    }

    private GssAcceptResult FinishNtlm(ReadOnlySpan<byte> authenticate, byte[]? clientMechListMic)
    {
        var result = NtlmVerifier.Verify(_negotiate, _challenge, authenticate, _ntHashLookup);
        if (!result.Success) return Fail(result.Failure ?? "authentication failed", result.User, result.Domain);
        var key = result.ExportedSessionKey!;

        byte[] serverMic = [];
        if (_spnego && !result.Anonymous)
        {
            bool required = _mechListMicRequired || result.HadMic;
            if (clientMechListMic is not null)
            {
                if ((result.Flags & NtlmFlags.ExtendedSessionSecurity) == 0)
                    return Fail("mechListMIC without extended session security", result.User, result.Domain);
                var expected = MechListMic(key, result.Flags, clientToServer: true);
                if (!CryptographicOperations.FixedTimeEquals(expected, clientMechListMic))
                    return Fail("mechListMIC mismatch", result.User, result.Domain);
            }
            else if (required)
            {
                return Fail("mechListMIC missing", result.User, result.Domain);
            }
            // RFC 4178 §5: answer with our own mechListMIC whenever the MIC exchange happened (or was required);
            // when the client's first choice was taken and it sent none, the MIC is optional and left out, so a
            // peer that cannot check one (no NTLM signing) is not confronted with it.
            if (clientMechListMic is not null || required)
            {
                if ((result.Flags & NtlmFlags.ExtendedSessionSecurity) == 0)
                    return Fail("mechListMIC needs extended session security", result.User, result.Domain);
                serverMic = MechListMic(key, result.Flags, clientToServer: false);
            }
        }

        _stage = Stage.Done;
        return new GssAcceptResult
        {
            Status = GssStatus.Complete,
            OutputToken = _spnego ? Spnego.BuildNegTokenResp(NegState.AcceptCompleted, null, default, serverMic) : [],
            SessionKey = key,
            UserName = result.User,
            Domain = result.Domain,
            IsAnonymous = result.Anonymous,
        };
    }

    /// <summary>GSS_GetMIC over the client's MechTypeList DER with sequence number 0 (MS-SPNG 3.2.5.1, MS-NLMP 3.4.4.2).</summary>
    private byte[] MechListMic(byte[] exportedSessionKey, uint flags, bool clientToServer)
    {
        var signKey = NtlmCrypto.SignKey(exportedSessionKey, clientToServer);
        NtlmCrypto.Rc4Stream? seal = (flags & NtlmFlags.KeyExchange) != 0
            ? new NtlmCrypto.Rc4Stream(NtlmCrypto.SealKey(exportedSessionKey, flags, clientToServer))
            : null;
        return NtlmCrypto.MakeSignature(signKey, seal, 0, _mechTypes);
    }

    private GssAcceptResult Fail(string reason, string? user = null, string? domain = null, bool malformed = false)
    {
        _stage = Stage.Done;
        return new GssAcceptResult
        {
            Status = GssStatus.Failed,
            OutputToken = _spnego ? Spnego.BuildNegTokenResp(NegState.Reject, null, default, default) : [],
            FailureReason = reason,
            Malformed = malformed,
            UserName = user,
            Domain = domain,
        };
    }
}
