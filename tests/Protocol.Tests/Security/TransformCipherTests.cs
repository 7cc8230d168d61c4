using System.Buffers.Binary;
using SmbCopy.Protocol.Security;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Protocol.Tests.Security;

/// <summary>
/// TRANSFORM_HEADER encryption. Published vectors: Microsoft Open Specifications blog "SMB 3.1.1 Encryption in
/// Windows 10", Appendix A.1 (AES-128-GCM, SessionId 0x100000000025) and A.2 (AES-128-CCM, SessionId 0x100000000021):
/// the client's WRITE request (which the server decrypts) and the server's WRITE/READ responses (which the server
/// encrypts, reproduced here with the published nonce).
/// </summary>
public class TransformCipherTests
{
    internal static readonly byte[] GcmSessionKey = Hex.Bytes("419FDDF34C1E001909D362AE7FB6AF79");
    internal static readonly byte[] GcmPreauthHash = Hex.Bytes(
        "B23F3CBFD69487D9832B79B1594A367CDD950909B774C3A4C412B4FCEA9EDDDBA7DB256BA2EA30E977F11F9B113247578E0E915C6D2A513B8F2FCA5707DC8770");
    internal static readonly byte[] CcmSessionKey = Hex.Bytes("07B7F69C1E2581662DF6987E88F9E891");
    internal static readonly byte[] CcmPreauthHash = Hex.Bytes(
        "DECF98A420718718F22090D3580FCC5E484BD310FA1268210C6E86335A8891E767F5BCD99FA5A7859D665AD07A73EA94E1BCDB7CFA69A6962A28A244138340B1");

    private const string GcmWriteRequestPlain = @"
        FE534D4240000100000000000900010008000000000000000500000000000000FFFE000001000000
        25000000001000000000000000000000000000000000000031007000170000000000000000000000
        0600000004000000010000000400000000000000000000007000000000000000536D623320656E63
        72797074696F6E2074657374696E67";
    private const string GcmWriteRequestTransformed = @"
        FD534D42BD73D97D2BC9001BCAFAC0FDFF5FEEBCC7D6822D269CAF48904C664C0000000087000000
        0000010025000000001000006ECDD2A7AFC7B47763057A041B8FD4DAFFE990B70C9E09D36C084E02
        D14EF247F8BDE38ACF6256F8B1D3B56F77FBDEB312FEA5E92CBCC1ED8FB2EBBFAA75E49A4A394BB4
        4576545567C24D4C014D47C9FBDFDAFD2C4F9B72F8D256452620A299F48E29E53D6B61D1C13A19E9
        1AF013F00D17E3ABC2FC3D36C8C1B6B93973253852DBD442E46EE8";
    private const string GcmWriteResponsePlain = @"
        FE534D4240000100000000000900010001000000000000000500000000000000FFFE000001000000
        25000000001000000000000000000000000000000000000011000000170000000000000000000000";
    private const string GcmWriteResponseTransformed = @"
        FD534D42ACBE1CB7ED343ADF1725EF144D90D4B0E06831DD2E8EB7B4000000000000000050000000
        00000100250000000010000026BBBF949983A6C1C796559D0F2C510CB651D1F7B6AC8DED32A2A0B8
        F2D793A815C6F6B848D69767A215841A42D400AE6DDB5F0B44173A014973321FDD7950DA6179159B
        82E03C9E18A050FF0EA1C967";
    private const string GcmReadResponsePlain = @"
        FE534D4240000100000000000800010001000000000000000600000000000000FFFE000001000000
        25000000001000000000000000000000000000000000000011005000170000000000000000000000
        536D623320656E6372797074696F6E2074657374696E67";
    private const string GcmReadResponseTransformed = @"
        FD534D427F714B3B9D8FA1198584E71C2BAA1CB6E16831DD2E8EB7B4000000000000000067000000
        000001002500000000100000FECEDF4D03BB11A6CC5D8A53BE33D6D8701986342B4197D306E16F9C
        BB218E92F7F8281F51CE68BB85A20D87DE90EBBF80538066D1C37513C0A58D70936D537B624F5500
        202A612B6CD30D448A82791A0B2E049ED512AFAEFB06E98AB3D6F931D7D50DB2DBD36A";

    private const string CcmWriteRequestPlain = @"
        FE534D4240000100000000000900010008000000000000000500000000000000FFFE000001000000
        21000000001000000000000000000000000000000000000031007000170000000000000000000000
        0500000004000000010000000400000000000000000000007000000000000000536D623320656E63
        72797074696F6E2074657374696E67";
    private const string CcmWriteRequestTransformed = @"
        FD534D42E89551D666DAB8993488F5A97103116C9F6F1EAAD7E9F24AACD38F000000000087000000
        00000100210000000010000056A74778199A9D2B6E9C3A376FD88D27680694FED253A313BEB07381
        AE8689F973ACDB8D716E4477803BCE53A92E1B81FA3E965AD9AF2C89C08CE66A344664453B8FC881
        18EDC9814CF58E92AA465E6EFB09958A9FDAD96FBD55B36A710C30D5E7C64AD7B9449F9F17EDD024
        FE8BA79154F340A82740D1D5180C69B0A2DE6A4BA893BD55D3210E";
    private const string CcmWriteResponsePlain = @"
        FE534D4240000100000000000900010001000000000000000500000000000000FFFE000001000000
        21000000001000000000000000000000000000000000000011000000170000000000000000000000";
    private const string CcmWriteResponseTransformed = @"
        FD534D42DD33EC41A927DD51476FE887C2D3C136D96831DD2E8EB7B4000000000000000050000000
        000001002100000000100000F783157E0F6F1C055D746753CA16D20C21088E2A67564E056C2F68A7
        F14F226C3BD809B7A2D52E5FE4ECF49821BC6001733430CF174E2764B3CCB213AAD8BB9FBAF6C15E
        13D9120965390E004A96A3F7";

    private static Smb2TransformCipher ServerCipher(CipherId cipher, byte[] sessionKey, byte[] hash)
    {
        var keys = SmbKeyDerivation.Derive(Smb2Dialect.Smb311, sessionKey, hash, cipher);
        return new Smb2TransformCipher(cipher, keys.EncryptionKey, keys.DecryptionKey);
    }

    [Fact]
    public void Gcm_DecryptsThePublishedClientRequest()
    {
        using var cipher = ServerCipher(CipherId.Aes128Gcm, GcmSessionKey, GcmPreauthHash);
        var transformed = Hex.Bytes(GcmWriteRequestTransformed);
        Assert.True(Smb2TransformCipher.TryReadSessionId(transformed, out var sessionId));
        Assert.Equal(0x100000000025UL, sessionId);
        Assert.True(cipher.TryDecrypt(transformed, out var plain));
        Assert.Equal(Hex.Of(Hex.Bytes(GcmWriteRequestPlain)), Hex.Of(plain));
    }

    [Theory]
    [InlineData(GcmWriteResponsePlain, "E06831DD2E8EB7B400000000", GcmWriteResponseTransformed)]
    [InlineData(GcmReadResponsePlain, "E16831DD2E8EB7B400000000", GcmReadResponseTransformed)]
    public void Gcm_EncryptsThePublishedServerResponse(string plain, string nonce, string expected)
    {
        using var cipher = ServerCipher(CipherId.Aes128Gcm, GcmSessionKey, GcmPreauthHash);
        var output = cipher.EncryptWithNonce(Hex.Bytes(plain), 0x100000000025, Hex.Bytes(nonce));
        Assert.Equal(Hex.Of(Hex.Bytes(expected)), Hex.Of(output));
    }

    [Fact]
    public void Ccm_DecryptsThePublishedClientRequest()
    {
        using var cipher = ServerCipher(CipherId.Aes128Ccm, CcmSessionKey, CcmPreauthHash);
        Assert.True(cipher.TryDecrypt(Hex.Bytes(CcmWriteRequestTransformed), out var plain));
        Assert.Equal(Hex.Of(Hex.Bytes(CcmWriteRequestPlain)), Hex.Of(plain));
    }

    [Fact]
    public void Ccm_EncryptsThePublishedServerResponse()
    {
        using var cipher = ServerCipher(CipherId.Aes128Ccm, CcmSessionKey, CcmPreauthHash);
        var output = cipher.EncryptWithNonce(Hex.Bytes(CcmWriteResponsePlain), 0x100000000021, Hex.Bytes("D96831DD2E8EB7B4000000"));
        Assert.Equal(Hex.Of(Hex.Bytes(CcmWriteResponseTransformed)), Hex.Of(output));
    }

    public static TheoryData<CipherId> AllCiphers => new() { CipherId.Aes128Ccm, CipherId.Aes128Gcm, CipherId.Aes256Ccm, CipherId.Aes256Gcm };

    /// <summary>A server and a "client" instance with the keys swapped talk to each other.</summary>
    private static (Smb2TransformCipher server, Smb2TransformCipher client) Pair(CipherId cipherId)
    {
        var sessionKey = Enumerable.Range(0x40, 32).Select(i => (byte)i).ToArray();
        var keys = SmbKeyDerivation.Derive(Smb2Dialect.Smb311, sessionKey, WindowsCaptureTests.SessionPreauthHash, cipherId);
        return (new Smb2TransformCipher(cipherId, keys.EncryptionKey, keys.DecryptionKey),
                new Smb2TransformCipher(cipherId, keys.DecryptionKey, keys.EncryptionKey));
    }

    private static byte[] SampleMessage(int bodyLength)
    {
        var m = new byte[64 + bodyLength];
        new Smb2Header { Command = Smb2Command.Read, MessageId = 7, SessionId = 0x1122334455667788, Flags = Smb2Flags.ServerToRedir }.WriteTo(m);
        for (int i = 64; i < m.Length; i++) m[i] = (byte)(i * 31);
        return m;
    }

    [Theory]
    [MemberData(nameof(AllCiphers))]
    public void RoundTrip_AllCiphers(CipherId cipherId)
    {
        var (server, client) = Pair(cipherId);
        using (server)
        using (client)
        {
            Assert.Equal(cipherId, server.Cipher);
            foreach (int size in new[] { 0, 1, 100, 70000 })
            {
                var message = SampleMessage(size);
                var sealed1 = server.Encrypt(message, 0x1122334455667788);
                Assert.Equal(Smb2TransformCipher.HeaderSize + message.Length, sealed1.Length);
                Assert.Equal(Smb2Header.TransformProtocolId, BinaryPrimitives.ReadUInt32LittleEndian(sealed1));
                Assert.Equal((uint)message.Length, BinaryPrimitives.ReadUInt32LittleEndian(sealed1.AsSpan(36)));
                Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(sealed1.AsSpan(42)));
                Assert.True(Smb2TransformCipher.TryReadSessionId(sealed1, out var sid));
                Assert.Equal(0x1122334455667788UL, sid);
                Assert.NotEqual(message, sealed1.AsSpan(52).ToArray());
                Assert.True(client.TryDecrypt(sealed1, out var plain));
                Assert.Equal(message, plain);
                // The server cannot decrypt its own output: directions use different keys.
                Assert.False(server.TryDecrypt(sealed1, out _));

                var request = client.Encrypt(message, 0x1122334455667788);
                Assert.True(server.TryDecrypt(request, out var plain2));
                Assert.Equal(message, plain2);
            }
        }
    }

    [Theory]
    [MemberData(nameof(AllCiphers))]
    public void Nonces_AreUnique_AndOnlyTheirLengthIsUsed(CipherId cipherId)
    {
        var (server, _) = Pair(cipherId);
        using (server)
        {
            int nonceLength = cipherId is CipherId.Aes128Ccm or CipherId.Aes256Ccm ? 11 : 12;
            var seen = new HashSet<string>();
            var message = SampleMessage(10);
            for (int i = 0; i < 1000; i++)
            {
                var sealed1 = server.Encrypt(message, 1);
                var nonceField = sealed1.AsSpan(20, 16);
                Assert.True(seen.Add(Hex.Of(nonceField)));
                Assert.All(nonceField[nonceLength..].ToArray(), b => Assert.Equal(0, b));
            }
        }
    }

    [Theory]
    [MemberData(nameof(AllCiphers))]
    public void Tampering_IsDetected(CipherId cipherId)
    {
        var (server, client) = Pair(cipherId);
        using (server)
        using (client)
        {
            var good = client.Encrypt(SampleMessage(200), 42);
            Assert.True(server.TryDecrypt(good, out _));
            // Tag, nonce, OriginalMessageSize/flags/SessionId (all AAD) and ciphertext bytes.
            foreach (int index in new[] { 4, 19, 20, 30, 40, 44, 51, 52, 52 + 100, good.Length - 1 })
            {
                var bad = (byte[])good.Clone();
                bad[index] ^= 0x01;
                Assert.False(server.TryDecrypt(bad, out var plain), $"flip at {index}");
                Assert.Empty(plain);
            }
            Assert.False(server.TryDecrypt(good.AsSpan(0, good.Length - 1), out _)); // size mismatch
            Assert.False(server.TryDecrypt(good.AsSpan(0, 52), out _));
            Assert.False(server.TryDecrypt(good.AsSpan(0, 20), out _));
            var wrongId = (byte[])good.Clone();
            wrongId[0] = 0xFE;
            Assert.False(server.TryDecrypt(wrongId, out _));
            Assert.False(Smb2TransformCipher.TryReadSessionId(wrongId, out _));
            var wrongFlags = (byte[])good.Clone();
            wrongFlags[42] = 2;
            Assert.False(server.TryDecrypt(wrongFlags, out _));
        }
    }

    [Fact]
    public void Constructor_ValidatesCipherAndKeys()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Smb2TransformCipher(CipherId.None, new byte[16], new byte[16]));
        Assert.Throws<ArgumentException>(() => new Smb2TransformCipher(CipherId.Aes256Gcm, new byte[16], new byte[16]));
        Assert.Throws<ArgumentException>(() => new Smb2TransformCipher(CipherId.Aes128Ccm, new byte[16], new byte[32]));
    }
}
