using System.Buffers.Binary;
using System.Security.Cryptography;

namespace SmbCopy.Protocol.Security;

/// <summary>
/// NIST SP 800-108 KDF in counter mode with HMAC-SHA256, r = 32, as used by SMB 3.x (MS-SMB2 3.1.4.2):
/// K(i) = HMAC-SHA256(KI, [i]₃₂ ‖ Label ‖ 0x00 ‖ Context ‖ [L]₃₂), output truncated to L bits.
/// SMB labels and contexts are passed including their own terminating NUL; the 0x00 separator is added here.
/// </summary>
public static class Sp800108
{
    public static byte[] DeriveKey(ReadOnlySpan<byte> ki, ReadOnlySpan<byte> label, ReadOnlySpan<byte> context, int lengthBits)
    {
        if (lengthBits <= 0 || lengthBits % 8 != 0) throw new ArgumentOutOfRangeException(nameof(lengthBits), "must be a positive multiple of 8");
        int length = lengthBits / 8;
        var output = new byte[length];
        Span<byte> counter = stackalloc byte[4];
        Span<byte> lengthField = stackalloc byte[4];
        Span<byte> block = stackalloc byte[32];
        BinaryPrimitives.WriteUInt32BigEndian(lengthField, (uint)lengthBits);
        ReadOnlySpan<byte> separator = [0];
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, ki);
        int written = 0;
        for (uint i = 1; written < length; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(counter, i);
            hmac.AppendData(counter);
            hmac.AppendData(label);
            hmac.AppendData(separator);
            hmac.AppendData(context);
            hmac.AppendData(lengthField);
            hmac.GetHashAndReset(block);
            int take = Math.Min(block.Length, length - written);
            block[..take].CopyTo(output.AsSpan(written));
            written += take;
        }
        CryptographicOperations.ZeroMemory(block);
        return output;
    }
}
