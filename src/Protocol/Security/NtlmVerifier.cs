using System.Security.Cryptography;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Security;

internal sealed class NtlmVerifyResult
{
    public bool Success { get; init; }
    public string? Failure { get; init; }
    public byte[]? ExportedSessionKey { get; init; }
    public string User { get; init; } = "";
    public string Domain { get; init; } = "";
    public bool Anonymous { get; init; }
    /// <summary>The AUTHENTICATE carried a MIC (MsvAvFlags 0x2) and it verified.</summary>
    public bool HadMic { get; init; }
    public uint Flags { get; init; }
}

/// <summary>
/// Server-side NTLMv2 verification of an AUTHENTICATE_MESSAGE (MS-NLMP 3.3.2 and 3.2.5.1.2 read from the
/// server's side, facts B.5). Malformed input throws <see cref="MalformedMessageException"/>; a wrong
/// answer returns a failed result. Failure reasons never contain key material.
/// </summary>
internal static class NtlmVerifier
{
    private const int NtProofSize = 16;
    private const int BlobHeaderSize = 28; // RespType, HiRespType, Reserved1/2, TimeStamp, ChallengeFromClient, Reserved3

    public static NtlmVerifyResult Verify(ReadOnlySpan<byte> negotiate, ReadOnlySpan<byte> challenge, ReadOnlySpan<byte> authenticate,
        Func<string, string, byte[]?> ntHashLookup)
    {
        var auth = NtlmAuthenticate.Parse(authenticate);
        var serverChallenge = WireReader.Slice(challenge, 24, 8);

        // Anonymous (MS-NLMP 3.3.2): empty user, empty NT response, LM response empty or Z(1).
        if (auth.User.Length == 0 && auth.NtResponse.IsEmpty &&
            (auth.LmResponse.IsEmpty || (auth.LmResponse.Length == 1 && auth.LmResponse[0] == 0)))
        {
            return new NtlmVerifyResult
            {
                Success = true, Anonymous = true, ExportedSessionKey = new byte[16],
                User = "", Domain = auth.Domain, Flags = auth.Flags,
            };
        }
        if (auth.NtResponse.Length == 24)
            return Fail("NTLMv1 response refused", auth);
        if (auth.NtResponse.Length < NtProofSize + BlobHeaderSize)
            return Fail("NT response too short for NTLMv2", auth);
        if (auth.User.Length == 0)
            return Fail("empty user name with a non-empty response", auth);

        var ntProof = auth.NtResponse[..NtProofSize];
        var blob = auth.NtResponse[NtProofSize..];
        if (blob[0] != 1 || blob[1] != 1)
            return Fail("unknown NTLMv2 blob version", auth);
        // Parse the blob's AV pairs up front: a malformed list is a malformed message whatever the password.
        bool micPresent = NtlmMessages.TryFindAvPair(blob[BlobHeaderSize..], AvId.Flags, out var avFlags)
            && avFlags.Length >= 4 && (System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(avFlags) & 0x2) != 0;

        byte[]? ntHash;
        try
        {
            ntHash = ntHashLookup(auth.User, auth.Domain);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return Fail("user lookup failed: " + ex.GetType().Name, auth);
        }
        if (ntHash is null || ntHash.Length != NtHash.Size)
            return Fail("unknown user", auth);

        byte[]? responseKeyNt = null;
        foreach (var domain in auth.Domain.Length == 0 ? new[] { "" } : new[] { auth.Domain, "" })
        {
            var candidate = NtlmCrypto.NtowfV2(ntHash, auth.User, domain);
            var expected = NtlmCrypto.NtProofStr(candidate, serverChallenge, blob);
            if (CryptographicOperations.FixedTimeEquals(expected, ntProof))
            {
                responseKeyNt = candidate;
                break;
            }
        }
        if (responseKeyNt is null)
            return Fail("wrong password", auth);

        var sessionBaseKey = NtlmCrypto.SessionBaseKey(responseKeyNt, ntProof);
        var keyExchangeKey = sessionBaseKey; // NTLMv2 (MS-NLMP 3.4.5.1)
        byte[] exportedSessionKey;
        if ((auth.Flags & NtlmFlags.KeyExchange) != 0 && (auth.Flags & (NtlmFlags.Sign | NtlmFlags.Seal)) != 0)
        {
            if (auth.EncryptedRandomSessionKey.Length != 16)
                return Fail("KEY_EXCH without a 16-byte EncryptedRandomSessionKey", auth);
            exportedSessionKey = NtlmCrypto.Rc4(keyExchangeKey, auth.EncryptedRandomSessionKey);
        }
        else
        {
            exportedSessionKey = keyExchangeKey;
        }

        if (micPresent)
        {
            if (authenticate.Length < NtlmMessages.MicOffset + NtlmMessages.MicSize)
                throw new MalformedMessageException("MsvAvFlags announces a MIC but the message has no MIC field");
            var zeroed = authenticate.ToArray();
            var mic = zeroed.AsSpan(NtlmMessages.MicOffset, NtlmMessages.MicSize).ToArray();
            zeroed.AsSpan(NtlmMessages.MicOffset, NtlmMessages.MicSize).Clear();
            using var h = IncrementalHash.CreateHMAC(HashAlgorithmName.MD5, exportedSessionKey);
            h.AppendData(negotiate);
            h.AppendData(challenge);
            h.AppendData(zeroed);
            if (!CryptographicOperations.FixedTimeEquals(h.GetHashAndReset(), mic))
                return Fail("AUTHENTICATE MIC mismatch", auth);
        }

        return new NtlmVerifyResult
        {
            Success = true, ExportedSessionKey = exportedSessionKey, User = auth.User, Domain = auth.Domain,
            HadMic = micPresent, Flags = auth.Flags,
        };
    }

    private static NtlmVerifyResult Fail(string reason, NtlmAuthenticate auth) =>
        new() { Success = false, Failure = reason, User = auth.User, Domain = auth.Domain, Flags = auth.Flags };
}
