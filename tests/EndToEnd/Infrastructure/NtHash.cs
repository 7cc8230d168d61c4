using System.Text;
using Org.BouncyCastle.Crypto.Digests;

namespace SmbCopy.EndToEnd.Tests.Infrastructure;

/// <summary>The NT hash (MD4 of the UTF-16LE password) the gateway is configured with.</summary>
public static class NtHash
{
    public static string Hex(string password)
    {
        var input = Encoding.Unicode.GetBytes(password);
        var md4 = new MD4Digest();
        md4.BlockUpdate(input, 0, input.Length);
        var hash = new byte[md4.GetDigestSize()];
        md4.DoFinal(hash, 0);
        return Convert.ToHexStringLower(hash);
    }
}
