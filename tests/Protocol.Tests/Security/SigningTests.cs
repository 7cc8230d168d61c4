using System.Buffers.Binary;
using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Modes;
using Org.BouncyCastle.Crypto.Parameters;
using SmbCopy.Protocol.Security;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Protocol.Tests.Security;

public class SigningTests
{
    private static readonly byte[] Key = Hex.Bytes("73FE7A9A77BEF0BDE49C650D8CCB5F76");

    public static TheoryData<SigningAlgorithm> AllAlgorithms => new() { SigningAlgorithm.HmacSha256, SigningAlgorithm.AesCmac, SigningAlgorithm.AesGmac };

    private static byte[] Message(Smb2Command command = Smb2Command.Write, Smb2Flags flags = Smb2Flags.ServerToRedir, ulong messageId = 0x0102030405060708, int body = 100)
    {
        var m = new byte[64 + body];
        new Smb2Header { Command = command, Flags = flags, MessageId = messageId, SessionId = 0x100000000019, TreeId = 5 }.WriteTo(m);
        for (int i = 64; i < m.Length; i++) m[i] = (byte)i;
        return m;
    }

    [Theory]
    [MemberData(nameof(AllAlgorithms))]
    public void SignThenVerify_RoundTrips_AndTamperingFails(SigningAlgorithm algorithm)
    {
        using var signer = new Smb2Signer(algorithm, Key);
        Assert.Equal(algorithm, signer.Algorithm);
        var m = Message();
        signer.Sign(m);
        Assert.True((BinaryPrimitives.ReadUInt32LittleEndian(m.AsSpan(16)) & (uint)Smb2Flags.Signed) != 0);
        Assert.NotEqual(new byte[16], m.AsSpan(48, 16).ToArray());
        var copy = (byte[])m.Clone();
        Assert.True(signer.Verify(m));
        Assert.Equal(copy, m); // Verify does not modify its input

        foreach (int index in new[] { 0, 12, 16, 24, 40, 47, 48, 55, 63, 64, m.Length - 1 })
        {
            var bad = (byte[])m.Clone();
            bad[index] ^= 0x20;
            Assert.False(signer.Verify(bad), $"flip at {index}");
        }
        Assert.False(signer.Verify(m.AsSpan(0, m.Length - 1)));
        Assert.False(signer.Verify(m.AsSpan(0, 63)));
        using var other = new Smb2Signer(algorithm, Hex.Bytes("00112233445566778899AABBCCDDEEFF"));
        Assert.False(other.Verify(m));
    }

    [Theory]
    [MemberData(nameof(AllAlgorithms))]
    public void VerifyInPlace_AgreesWithVerify_AndLeavesTheMessageAsItWas(SigningAlgorithm algorithm)
    {
        using var signer = new Smb2Signer(algorithm, Key);
        var m = Message(body: 70000);
        signer.Sign(m);
        var copy = (byte[])m.Clone();
        Assert.True(signer.VerifyInPlace(m));
        Assert.Equal(copy, m);
        foreach (int index in new[] { 0, 20, 48, 63, 64, m.Length - 1 })
        {
            var bad = (byte[])m.Clone();
            bad[index] ^= 0x01;
            var badCopy = (byte[])bad.Clone();
            Assert.False(signer.VerifyInPlace(bad), $"flip at {index}");
            Assert.Equal(badCopy, bad); // the received signature is restored even when it does not match
        }
    }

    [Theory]
    [MemberData(nameof(AllAlgorithms))]
    public void Sign_IgnoresWhateverWasInTheSignatureField(SigningAlgorithm algorithm)
    {
        using var signer = new Smb2Signer(algorithm, Key);
        var a = Message();
        var b = Message();
        b[16] |= 0x08;
        RandomNumberGenerator.Fill(b.AsSpan(48, 16));
        signer.Sign(a);
        signer.Sign(b);
        Assert.Equal(a, b);
    }

    [Fact]
    public void HmacSha256_IsTheFirst16BytesOfHmacOverTheZeroedMessage()
    {
        using var signer = new Smb2Signer(SigningAlgorithm.HmacSha256, Key);
        var m = Message();
        signer.Sign(m);
        var zeroed = (byte[])m.Clone();
        zeroed.AsSpan(48, 16).Clear();
        Assert.Equal(HMACSHA256.HashData(Key, zeroed).AsSpan(0, 16).ToArray(), m.AsSpan(48, 16).ToArray());
    }

    [Theory]
    [InlineData(Smb2Command.Write, Smb2Flags.ServerToRedir, 1u)]
    [InlineData(Smb2Command.Write, Smb2Flags.None, 0u)]
    [InlineData(Smb2Command.Cancel, Smb2Flags.None, 2u)]
    [InlineData(Smb2Command.Cancel, Smb2Flags.ServerToRedir, 3u)]
    public void AesGmac_UsesMessageIdAndRoleBitsAsNonce(Smb2Command command, Smb2Flags flags, uint roleBits)
    {
        using var signer = new Smb2Signer(SigningAlgorithm.AesGmac, Key);
        var m = Message(command, flags, messageId: 0x1122334455667788);
        signer.Sign(m);

        // Independent GMAC: BouncyCastle GCM, empty plaintext, AAD = message with zero signature.
        var nonce = new byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(nonce, 0x1122334455667788);
        BinaryPrimitives.WriteUInt32LittleEndian(nonce.AsSpan(8), roleBits);
        var zeroed = (byte[])m.Clone();
        zeroed.AsSpan(48, 16).Clear();
        var gcm = new GcmBlockCipher(new AesEngine());
        gcm.Init(true, new AeadParameters(new KeyParameter(Key), 128, nonce, zeroed));
        var tag = new byte[16];
        gcm.DoFinal(tag, 0);
        Assert.Equal(Hex.Of(tag), Hex.Of(m.AsSpan(48, 16)));
    }

    [Fact]
    public void AesGmac_SignatureDependsOnDirectionAndMessageId()
    {
        using var signer = new Smb2Signer(SigningAlgorithm.AesGmac, Key);
        var response = Message(flags: Smb2Flags.ServerToRedir);
        var request = Message(flags: Smb2Flags.None);
        signer.Sign(response);
        signer.Sign(request);
        Assert.NotEqual(response.AsSpan(48, 16).ToArray(), request.AsSpan(48, 16).ToArray());
        var other = Message(messageId: 9);
        signer.Sign(other);
        Assert.NotEqual(response.AsSpan(48, 16).ToArray(), other.AsSpan(48, 16).ToArray());
    }

    [Theory]
    [MemberData(nameof(AllAlgorithms))]
    public void Signer_IsSafeToShareAcrossThreads(SigningAlgorithm algorithm)
    {
        using var signer = new Smb2Signer(algorithm, Key);
        var failures = 0;
        Parallel.For(0, 2000, i =>
        {
            var m = Message(messageId: (ulong)i, body: i % 300);
            signer.Sign(m);
            if (!signer.Verify(m)) Interlocked.Increment(ref failures);
        });
        Assert.Equal(0, failures);
    }

    [Fact]
    public void Constructor_And_Sign_ValidateArguments()
    {
        Assert.Throws<ArgumentException>(() => new Smb2Signer(SigningAlgorithm.AesCmac, new byte[32]));
        Assert.Throws<ArgumentException>(() => new Smb2Signer(SigningAlgorithm.HmacSha256, []));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Smb2Signer((SigningAlgorithm)7, Key));
        using var signer = new Smb2Signer(SigningAlgorithm.AesCmac, Key);
        Assert.Throws<ArgumentException>(() => signer.Sign(new byte[63]));
    }
}
