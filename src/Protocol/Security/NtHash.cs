using System.Text;

namespace SmbCopy.Protocol.Security;

/// <summary>The NT one-way function: MD4 of the UTF-16LE password (MS-NLMP 3.3.1).</summary>
public static class NtHash
{
    public const int Size = 16;

    public static byte[] FromPassword(string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        return NtlmCrypto.Md4(Encoding.Unicode.GetBytes(password));
    }

    /// <summary>Parses 32 hex digits (as stored by the user database / smbpasswd) into the 16-byte hash.</summary>
    public static bool TryParseHex(string? hex, out byte[] hash)
    {
        hash = [];
        if (hex is null) return false;
        var trimmed = hex.Trim();
        if (trimmed.Length != Size * 2) return false;
        foreach (char c in trimmed)
            if (!char.IsAsciiHexDigit(c)) return false;
        hash = Convert.FromHexString(trimmed);
        return true;
    }
}
