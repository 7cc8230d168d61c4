namespace SmbCopy.Gateway.Hosting;

/// <summary>The accounts that may log on. Holds NT hashes only; no plaintext password exists anywhere in the gateway.</summary>
public interface IUserDirectory
{
    /// <summary>The 16-byte NT hash (MD4 of the UTF-16LE password) of <paramref name="user"/>, or null when there is no such
    /// user. Names compare case-insensitively. The caller gets its own copy.</summary>
    byte[]? GetNtHash(string user);
}
