using System.Text;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Protocol.Security;

/// <summary>SMB2 signing algorithm ids (MS-SMB2 2.2.3.1.7).</summary>
public enum SigningAlgorithm : ushort { HmacSha256 = 0, AesCmac = 1, AesGmac = 2 }

/// <summary>SMB2 cipher ids (MS-SMB2 2.2.3.1.2).</summary>
public enum CipherId : ushort { None = 0, Aes128Ccm = 1, Aes128Gcm = 2, Aes256Ccm = 3, Aes256Gcm = 4 }

/// <summary>Server-side session keys. EncryptionKey protects server→client traffic, DecryptionKey client→server.</summary>
public sealed record SmbSessionKeys(byte[] SigningKey, byte[] EncryptionKey, byte[] DecryptionKey, byte[] ApplicationKey);

/// <summary>SMB 2.x/3.x key generation (MS-SMB2 3.1.4.2, 3.3.5.5.3), from the server's point of view.</summary>
public static class SmbKeyDerivation
{
    private static readonly byte[] Smb30SigningLabel = Encoding.ASCII.GetBytes("SMB2AESCMAC\0");
    private static readonly byte[] Smb30SigningContext = Encoding.ASCII.GetBytes("SmbSign\0");
    private static readonly byte[] Smb30AppLabel = Encoding.ASCII.GetBytes("SMB2APP\0");
    private static readonly byte[] Smb30AppContext = Encoding.ASCII.GetBytes("SmbRpc\0");
    private static readonly byte[] Smb30CipherLabel = Encoding.ASCII.GetBytes("SMB2AESCCM\0");
    private static readonly byte[] Smb30ServerOut = Encoding.ASCII.GetBytes("ServerOut\0");
    private static readonly byte[] Smb30ServerIn = Encoding.ASCII.GetBytes("ServerIn \0");
    private static readonly byte[] Smb311SigningLabel = Encoding.ASCII.GetBytes("SMBSigningKey\0");
    private static readonly byte[] Smb311AppLabel = Encoding.ASCII.GetBytes("SMBAppKey\0");
    private static readonly byte[] Smb311ServerToClient = Encoding.ASCII.GetBytes("SMBS2CCipherKey\0");
    private static readonly byte[] Smb311ClientToServer = Encoding.ASCII.GetBytes("SMBC2SCipherKey\0");

    /// <param name="sessionKey">The full GSS session key (NTLM: the 16-byte ExportedSessionKey).</param>
    /// <param name="preauthHash">The session's 64-byte preauth integrity hash (3.1.1 only; ignored otherwise).</param>
    /// <param name="cipher">The connection's cipher (3.1.1: AES-256 ciphers get 256-bit keys from the full session key).</param>
    public static SmbSessionKeys Derive(Smb2Dialect dialect, ReadOnlySpan<byte> sessionKey, ReadOnlySpan<byte> preauthHash, CipherId cipher)
    {
        if (sessionKey.IsEmpty) throw new ArgumentException("session key is empty", nameof(sessionKey));
        // Session.SessionKey: the first 16 bytes of the GSS key, zero-padded when shorter (MS-SMB2 3.3.5.5.3).
        var sessionKey16 = new byte[16];
        sessionKey[..Math.Min(16, sessionKey.Length)].CopyTo(sessionKey16);

        switch (dialect)
        {
            case Smb2Dialect.Smb202:
            case Smb2Dialect.Smb210:
                return new SmbSessionKeys(sessionKey16, [], [], (byte[])sessionKey16.Clone());
            case Smb2Dialect.Smb300:
            case Smb2Dialect.Smb302:
                return new SmbSessionKeys(
                    Sp800108.DeriveKey(sessionKey16, Smb30SigningLabel, Smb30SigningContext, 128),
                    Sp800108.DeriveKey(sessionKey16, Smb30CipherLabel, Smb30ServerOut, 128),
                    Sp800108.DeriveKey(sessionKey16, Smb30CipherLabel, Smb30ServerIn, 128),
                    Sp800108.DeriveKey(sessionKey16, Smb30AppLabel, Smb30AppContext, 128));
            case Smb2Dialect.Smb311:
            {
                if (preauthHash.Length != PreauthIntegrityHash.Size)
                    throw new ArgumentException("SMB 3.1.1 needs the 64-byte preauth integrity hash", nameof(preauthHash));
                bool aes256 = cipher is CipherId.Aes256Ccm or CipherId.Aes256Gcm;
                ReadOnlySpan<byte> cipherKi = aes256 ? sessionKey : sessionKey16;
                int cipherBits = aes256 ? 256 : 128;
                return new SmbSessionKeys(
                    Sp800108.DeriveKey(sessionKey16, Smb311SigningLabel, preauthHash, 128),
                    Sp800108.DeriveKey(cipherKi, Smb311ServerToClient, preauthHash, cipherBits),
                    Sp800108.DeriveKey(cipherKi, Smb311ClientToServer, preauthHash, cipherBits),
                    Sp800108.DeriveKey(sessionKey16, Smb311AppLabel, preauthHash, 128));
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(dialect), dialect, "no key derivation for this dialect");
        }
    }
}
