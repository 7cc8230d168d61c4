using System.Security.Cryptography;
using System.Text;
using Org.BouncyCastle.Crypto.Digests;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Parameters;

namespace SmbCopy.Protocol.Security;

/// <summary>The NTLM primitives of MS-NLMP section 6 and 3.3.2 / 3.4.5. Legacy algorithms (MD4, RC4) come from BouncyCastle.</summary>
internal static class NtlmCrypto
{
    public static byte[] Md4(ReadOnlySpan<byte> data)
    {
        var digest = new MD4Digest();
        digest.BlockUpdate(data);
        var output = new byte[digest.GetDigestSize()];
        digest.DoFinal(output);
        return output;
    }

    public static byte[] HmacMd5(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data) => HMACMD5.HashData(key, data);

    public static byte[] HmacMd5(ReadOnlySpan<byte> key, ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        using var h = IncrementalHash.CreateHMAC(HashAlgorithmName.MD5, key);
        h.AppendData(a);
        h.AppendData(b);
        return h.GetHashAndReset();
    }

    /// <summary>A fresh RC4 keystream (MS-NLMP RC4Init); each call to <see cref="Rc4Stream.Apply"/> continues it.</summary>
    public sealed class Rc4Stream
    {
        private readonly RC4Engine _engine = new();
        public Rc4Stream(ReadOnlySpan<byte> key) => _engine.Init(true, new KeyParameter(key));
        public void Apply(Span<byte> data)
        {
            if (data.IsEmpty) return;
            var input = data.ToArray();
            _engine.ProcessBytes(input, 0, input.Length, input, 0);
            input.CopyTo(data);
        }
    }

    /// <summary>RC4K(key, data): one-shot RC4 with a fresh key schedule.</summary>
    public static byte[] Rc4(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data)
    {
        var engine = new RC4Engine();
        engine.Init(true, new KeyParameter(key));
        var input = data.ToArray();
        var output = new byte[input.Length];
        if (input.Length > 0) engine.ProcessBytes(input, 0, input.Length, output, 0);
        return output;
    }

    /// <summary>NTOWFv2 = HMAC_MD5(NT hash, UTF16LE(UPPER(user) ‖ domain)) (MS-NLMP 3.3.2).</summary>
    public static byte[] NtowfV2(ReadOnlySpan<byte> ntHash, string user, string domain) =>
        HmacMd5(ntHash, Encoding.Unicode.GetBytes(user.ToUpperInvariant() + domain));

    /// <summary>NTProofStr = HMAC_MD5(ResponseKeyNT, ServerChallenge ‖ temp).</summary>
    public static byte[] NtProofStr(ReadOnlySpan<byte> responseKeyNt, ReadOnlySpan<byte> serverChallenge, ReadOnlySpan<byte> temp) =>
        HmacMd5(responseKeyNt, serverChallenge, temp);

    /// <summary>SessionBaseKey = HMAC_MD5(ResponseKeyNT, NTProofStr).</summary>
    public static byte[] SessionBaseKey(ReadOnlySpan<byte> responseKeyNt, ReadOnlySpan<byte> ntProofStr) => HmacMd5(responseKeyNt, ntProofStr);

    private static readonly byte[] ClientSignMagic = Encoding.ASCII.GetBytes("session key to client-to-server signing key magic constant\0");
    private static readonly byte[] ServerSignMagic = Encoding.ASCII.GetBytes("session key to server-to-client signing key magic constant\0");
    private static readonly byte[] ClientSealMagic = Encoding.ASCII.GetBytes("session key to client-to-server sealing key magic constant\0");
    private static readonly byte[] ServerSealMagic = Encoding.ASCII.GetBytes("session key to server-to-client sealing key magic constant\0");

    /// <summary>SIGNKEY (MS-NLMP 3.4.5.2), extended session security.</summary>
    public static byte[] SignKey(ReadOnlySpan<byte> exportedSessionKey, bool clientToServer)
    {
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        md5.AppendData(exportedSessionKey);
        md5.AppendData(clientToServer ? ClientSignMagic : ServerSignMagic);
        return md5.GetHashAndReset();
    }

    /// <summary>SEALKEY (MS-NLMP 3.4.5.3), extended session security: the key is cut to 5/7/16 bytes by the 56/128 flags.</summary>
    public static byte[] SealKey(ReadOnlySpan<byte> exportedSessionKey, uint negotiateFlags, bool clientToServer)
    {
        int keyLength = (negotiateFlags & NtlmFlags.Negotiate128) != 0 ? 16
            : (negotiateFlags & NtlmFlags.Negotiate56) != 0 ? 7 : 5;
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        md5.AppendData(exportedSessionKey[..Math.Min(keyLength, exportedSessionKey.Length)]);
        md5.AppendData(clientToServer ? ClientSealMagic : ServerSealMagic);
        return md5.GetHashAndReset();
    }

    /// <summary>
    /// NTLMSSP_MESSAGE_SIGNATURE with extended session security (MS-NLMP 2.2.2.9.2, 3.4.4.2):
    /// Version(4)=1 ‖ Checksum(8) ‖ SeqNum(4); the checksum is RC4-encrypted with the sealing stream when KEY_EXCH.
    /// </summary>
    public static byte[] MakeSignature(ReadOnlySpan<byte> signKey, Rc4Stream? sealStream, uint seqNum, ReadOnlySpan<byte> message)
    {
        Span<byte> seq = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(seq, seqNum);
        var mac = HmacMd5(signKey, seq, message);
        var signature = new byte[16];
        signature[0] = 1;
        mac.AsSpan(0, 8).CopyTo(signature.AsSpan(4));
        if (sealStream is not null) sealStream.Apply(signature.AsSpan(4, 8));
        seq.CopyTo(signature.AsSpan(12));
        return signature;
    }
}
