using System.Text;
using Org.BouncyCastle.Crypto.Digests;

namespace SmbCopy.Gateway.Hosting;

/// <summary>The NT one-way function (MS-NLMP 3.3.1 NTOWFv1): MD4 of the UTF-16LE password. The only form a password is kept in.</summary>
public static class NtHash
{
    public const int Length = 16;

    public static byte[] Compute(string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        var bytes = Encoding.Unicode.GetBytes(password);
        var md4 = new MD4Digest();
        md4.BlockUpdate(bytes, 0, bytes.Length);
        var hash = new byte[Length];
        md4.DoFinal(hash, 0);
        Array.Clear(bytes);
        return hash;
    }

    /// <summary>Lower-case hex, as printed by <c>smbcopy hash-password</c> and stored in configuration.</summary>
    public static string ToHex(byte[] hash) => Convert.ToHexStringLower(hash);

    public static bool TryParseHex(string? hex, out byte[] hash)
    {
        hash = [];
        hex = hex?.Trim();
        if (hex is null || hex.Length != Length * 2 || !hex.All(Uri.IsHexDigit))
        {
            return false;
        }
        hash = Convert.FromHexString(hex);
        return true;
    }
}
