using System.Text;
using SmbCopy.Protocol.Security;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Protocol.Tests.Security;

/// <summary>
/// SP 800-108 / MS-SMB2 3.1.4.2 key generation against Microsoft's published examples. The blogs list the
/// *client's* keys; the server's EncryptionKey (server→client) is the client's DecryptionKey and vice versa.
/// </summary>
public class KeyDerivationTests
{
    [Fact]
    public void Smb30_MatchesBlogExample()
    {
        // "SMB 2 and SMB 3 security in Windows 10", appendix "Key derivation example for SMB 3.0 multichannel".
        var keys = SmbKeyDerivation.Derive(Smb2Dialect.Smb300, Hex.Bytes("7CD451825D0450D235424E44BA6E78CC"), default, CipherId.Aes128Ccm);
        Assert.Equal("0B7E9C5CAC36C0F6EA9AB275298CEDCE", Hex.Of(keys.SigningKey));
        Assert.Equal("BB23A4575AA26C721AF525AF15A87B4F", Hex.Of(keys.ApplicationKey));
        Assert.Equal("FAD27796665B313EBB578F388632B4F7", Hex.Of(keys.DecryptionKey)); // client EncryptionKey ("ServerIn ")
        Assert.Equal("B0F0427F7CEB416D1D9DCC0CD4F99447", Hex.Of(keys.EncryptionKey)); // client DecryptionKey ("ServerOut")

        // Second channel of the same example: only the signing key is new.
        var channel2 = SmbKeyDerivation.Derive(Smb2Dialect.Smb302, Hex.Bytes("4E01A2B313BCF660CC250BEF021AEDE6"), default, CipherId.Aes128Ccm);
        Assert.Equal("BA1A17DBBFEC349BCA105563D598952F", Hex.Of(channel2.SigningKey));
    }

    [Fact]
    public void Smb311_SecondChannel_MatchesBlogExample()
    {
        var hash = Hex.Bytes("EA3BF912B11CBFEC5B1889E8209614218687F82FA5294521AD3063425E49E88A10BD022124CE2512" +
                             "3BC9111F52D9566BA88BF46344E6063DC5E3FF0389026F6C");
        var keys = SmbKeyDerivation.Derive(Smb2Dialect.Smb311, Hex.Bytes("84B9DBB730116A8FA6E9889555C265F9"), hash, CipherId.Aes128Gcm);
        Assert.Equal("C962BCA1A9DD1697B030644199705431", Hex.Of(keys.SigningKey));
    }

    [Fact]
    public void Smb311_Gcm_MatchesEncryptionBlogExample()
    {
        // "SMB 3.1.1 Encryption in Windows 10", Appendix A.1 (AES-128-GCM).
        var keys = SmbKeyDerivation.Derive(Smb2Dialect.Smb311, TransformCipherTests.GcmSessionKey, TransformCipherTests.GcmPreauthHash, CipherId.Aes128Gcm);
        Assert.Equal("8765949DFEAEE105CE9118B45BE988F0", Hex.Of(keys.SigningKey));
        Assert.Equal("099D610789FBE82055B313601C3E8CC4", Hex.Of(keys.ApplicationKey));
        Assert.Equal("A2F5E80E5D59103034F32E52F698E5EC", Hex.Of(keys.DecryptionKey));
        Assert.Equal("748C50868C90F302962A5C35F5F9A8BF", Hex.Of(keys.EncryptionKey));
    }

    [Fact]
    public void Smb311_Ccm_MatchesEncryptionBlogExample()
    {
        // "SMB 3.1.1 Encryption in Windows 10", Appendix A.2 (AES-128-CCM).
        var keys = SmbKeyDerivation.Derive(Smb2Dialect.Smb311, TransformCipherTests.CcmSessionKey, TransformCipherTests.CcmPreauthHash, CipherId.Aes128Ccm);
        Assert.Equal("3DCC82C5795AE27F383242761078C59B", Hex.Of(keys.SigningKey));
        Assert.Equal("7A2F0F73EC2D530879B2913BBFCE242F", Hex.Of(keys.ApplicationKey));
        Assert.Equal("DFAAA31AAE40A2485D47AC4DF09FDA1D", Hex.Of(keys.DecryptionKey));
        Assert.Equal("95C544AEF6072680DA1CE49A68A97FA6", Hex.Of(keys.EncryptionKey));
    }

    [Fact]
    public void Sp800108_DirectCall_MatchesSmb30SigningExample()
    {
        var key = Sp800108.DeriveKey(Hex.Bytes("7CD451825D0450D235424E44BA6E78CC"),
            Encoding.ASCII.GetBytes("SMB2AESCMAC\0"), Encoding.ASCII.GetBytes("SmbSign\0"), 128);
        Assert.Equal("0B7E9C5CAC36C0F6EA9AB275298CEDCE", Hex.Of(key));
    }

    [Fact]
    public void Sp800108_256BitOutput_MatchesIndependentImplementation()
    {
        // Cross-implementation vector (unofficial): KDF(270E…, "SMBC2SCipherKey\0", bytes 0..63, L = 256).
        var key = Sp800108.DeriveKey(WindowsCaptureTests.SessionKey, Encoding.ASCII.GetBytes("SMBC2SCipherKey\0"),
            Enumerable.Range(0, 64).Select(i => (byte)i).ToArray(), 256);
        Assert.Equal("C273F0DE35671E766EF5106B605054D70385F9237F1327662763DE8AC2444317", Hex.Of(key));
    }

    [Fact]
    public void Sp800108_LengthIsPartOfTheInput()
    {
        var ki = WindowsCaptureTests.SessionKey;
        var k128 = Sp800108.DeriveKey(ki, "L\0"u8, "C\0"u8, 128);
        var k256 = Sp800108.DeriveKey(ki, "L\0"u8, "C\0"u8, 256);
        var k512 = Sp800108.DeriveKey(ki, "L\0"u8, "C\0"u8, 512);
        Assert.Equal(16, k128.Length);
        Assert.Equal(32, k256.Length);
        Assert.Equal(64, k512.Length);
        Assert.NotEqual(k128, k256[..16]);
        Assert.NotEqual(k512[..32], k512[32..]); // counter advances
        Assert.Throws<ArgumentOutOfRangeException>(() => Sp800108.DeriveKey(ki, default, default, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Sp800108.DeriveKey(ki, default, default, 12));
    }

    [Theory]
    [InlineData(Smb2Dialect.Smb202)]
    [InlineData(Smb2Dialect.Smb210)]
    public void Smb2x_SigningKeyIsTheSessionKey_NoEncryptionKeys(Smb2Dialect dialect)
    {
        var keys = SmbKeyDerivation.Derive(dialect, WindowsCaptureTests.SessionKey, default, CipherId.None);
        Assert.Equal(WindowsCaptureTests.SessionKey, keys.SigningKey);
        Assert.Empty(keys.EncryptionKey);
        Assert.Empty(keys.DecryptionKey);
        Assert.Equal(WindowsCaptureTests.SessionKey, keys.ApplicationKey);
    }

    [Fact]
    public void Smb311_Aes256_Uses256BitCipherKeysFromTheFullSessionKey()
    {
        var fullKey = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
        var hash = WindowsCaptureTests.SessionPreauthHash;
        var keys = SmbKeyDerivation.Derive(Smb2Dialect.Smb311, fullKey, hash, CipherId.Aes256Gcm);
        Assert.Equal(32, keys.EncryptionKey.Length);
        Assert.Equal(32, keys.DecryptionKey.Length);
        Assert.Equal(16, keys.SigningKey.Length);
        Assert.Equal(Sp800108.DeriveKey(fullKey, "SMBS2CCipherKey\0"u8, hash, 256), keys.EncryptionKey);
        Assert.Equal(Sp800108.DeriveKey(fullKey, "SMBC2SCipherKey\0"u8, hash, 256), keys.DecryptionKey);
        // Signing still uses Session.SessionKey = the first 16 bytes.
        Assert.Equal(Sp800108.DeriveKey(fullKey.AsSpan(0, 16), "SMBSigningKey\0"u8, hash, 128), keys.SigningKey);

        var k128 = SmbKeyDerivation.Derive(Smb2Dialect.Smb311, fullKey, hash, CipherId.Aes128Gcm);
        Assert.Equal(16, k128.EncryptionKey.Length);
        Assert.Equal(keys.SigningKey, k128.SigningKey);
    }

    [Fact]
    public void Smb311_RequiresA64BytePreauthHash()
    {
        Assert.Throws<ArgumentException>(() => SmbKeyDerivation.Derive(Smb2Dialect.Smb311, WindowsCaptureTests.SessionKey, new byte[32], CipherId.Aes128Gcm));
        Assert.Throws<ArgumentException>(() => SmbKeyDerivation.Derive(Smb2Dialect.Smb311, default, new byte[64], CipherId.Aes128Gcm));
    }
}
