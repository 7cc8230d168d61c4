using System.Text;
using SmbCopy.Protocol.Security;

namespace SmbCopy.Protocol.Tests.Security;

/// <summary>
/// MS-NLMP 4.2.4 "NTLMv2 Authentication" example: User "User", UserDom "Domain", Passwd "Password",
/// ServerChallenge 0123456789abcdef, ClientChallenge aaaaaaaaaaaaaaaa, RandomSessionKey 55×16, Time 0,
/// AV pairs {NbDomainName "Domain", NbComputerName "Server"}. Expected values from MS-NLMP 4.2.4.1.x / 4.2.4.2.x / 4.2.4.3
/// (the same bytes are reproduced in several independent implementations' test suites).
/// </summary>
public class NtlmVectorTests
{
    private static readonly byte[] ServerChallenge = Hex.Bytes("0123456789abcdef");

    // 4.2.4.1.3 temp: the NTLMv2_CLIENT_CHALLENGE of the example (bytes 0x94..0xd7 of the AUTHENTICATE_MESSAGE).
    private static readonly byte[] Temp = Hex.Bytes(
        "01 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 aa aa aa aa aa aa aa aa 00 00 00 00" +
        "02 00 0c 00 44 00 6f 00 6d 00 61 00 69 00 6e 00 01 00 0c 00 53 00 65 00 72 00 76 00 65 00 72 00" +
        "00 00 00 00 00 00 00 00");

    // 4.2.4.3 CHALLENGE_MESSAGE and AUTHENTICATE_MESSAGE.
    internal static readonly byte[] SpecChallenge = Hex.Bytes(@"
        4e 54 4c 4d 53 53 50 00 02 00 00 00 0c 00 0c 00 38 00 00 00 33 82 8a e2 01 23 45 67 89 ab cd ef
        00 00 00 00 00 00 00 00 24 00 24 00 44 00 00 00 06 00 70 17 00 00 00 0f 53 00 65 00 72 00 76 00
        65 00 72 00 02 00 0c 00 44 00 6f 00 6d 00 61 00 69 00 6e 00 01 00 0c 00 53 00 65 00 72 00 76 00
        65 00 72 00 00 00 00 00");
    internal static readonly byte[] SpecAuthenticate = Hex.Bytes(@"
        4e 54 4c 4d 53 53 50 00 03 00 00 00 18 00 18 00 6c 00 00 00 54 00 54 00 84 00 00 00 0c 00 0c 00
        48 00 00 00 08 00 08 00 54 00 00 00 10 00 10 00 5c 00 00 00 10 00 10 00 d8 00 00 00 35 82 88 e2
        05 01 28 0a 00 00 00 0f 44 00 6f 00 6d 00 61 00 69 00 6e 00 55 00 73 00 65 00 72 00 43 00 4f 00
        4d 00 50 00 55 00 54 00 45 00 52 00 86 c3 50 97 ac 9c ec 10 25 54 76 4a 57 cc cc 19 aa aa aa aa
        aa aa aa aa 68 cd 0a b8 51 e5 1c 96 aa bc 92 7b eb ef 6a 1c 01 01 00 00 00 00 00 00 00 00 00 00
        00 00 00 00 aa aa aa aa aa aa aa aa 00 00 00 00 02 00 0c 00 44 00 6f 00 6d 00 61 00 69 00 6e 00
        01 00 0c 00 53 00 65 00 72 00 76 00 65 00 72 00 00 00 00 00 00 00 00 00 c5 da d2 54 4f c9 79 90
        94 ce 1c e9 0b c9 d0 3e");

    [Fact]
    public void NtowfV2_MatchesMsNlmp_4_2_4_1_1()
    {
        var key = NtlmCrypto.NtowfV2(NtHash.FromPassword("Password"), "User", "Domain");
        Assert.Equal("0C868A403BFD7A93A3001EF22EF02E3F", Hex.Of(key));
    }

    [Fact]
    public void NtProofStr_And_SessionBaseKey_MatchMsNlmp_4_2_4()
    {
        var key = NtlmCrypto.NtowfV2(NtHash.FromPassword("Password"), "User", "Domain");
        var proof = NtlmCrypto.NtProofStr(key, ServerChallenge, Temp);
        Assert.Equal("68CD0AB851E51C96AABC927BEBEF6A1C", Hex.Of(proof));       // 4.2.4.2.2
        var baseKey = NtlmCrypto.SessionBaseKey(key, proof);
        Assert.Equal("8DE40CCADBC14A82F15CB0AD0DE95CA3", Hex.Of(baseKey));     // 4.2.4.1.2
        var encrypted = NtlmCrypto.Rc4(baseKey, Enumerable.Repeat((byte)0x55, 16).ToArray());
        Assert.Equal("C5DAD2544FC9799094CE1CE90BC9D03E", Hex.Of(encrypted));   // 4.2.4.2.3
    }

    [Fact]
    public void NtowfV2_UppercasesTheUserName_ButNotTheDomain()
    {
        var hash = NtHash.FromPassword("Password");
        Assert.Equal(NtlmCrypto.NtowfV2(hash, "user", "Domain"), NtlmCrypto.NtowfV2(hash, "USER", "Domain"));
        Assert.Equal(NtlmCrypto.NtowfV2(hash, "jürgen", "Domain"), NtlmCrypto.NtowfV2(hash, "JÜRGEN", "Domain"));
        Assert.Equal(NtlmCrypto.NtowfV2(hash, "иван", "Domain"), NtlmCrypto.NtowfV2(hash, "ИВАН", "Domain"));
        Assert.NotEqual(NtlmCrypto.NtowfV2(hash, "User", "domain"), NtlmCrypto.NtowfV2(hash, "User", "Domain"));
    }

    [Fact]
    public void SealAndSignKeys_MatchMsNlmp_4_2_4_4()
    {
        var random = Enumerable.Repeat((byte)0x55, 16).ToArray();
        Assert.Equal("4788DC861B4782F35D43FD98FE1A2D39", Hex.Of(NtlmCrypto.SignKey(random, clientToServer: true)));
        Assert.Equal("59F600973CC4960A25480A7C196E4C58", Hex.Of(NtlmCrypto.SealKey(random, 0xE28A8233, clientToServer: true)));
    }

    [Fact]
    public void NtHash_OfPassword_MatchesPublishedValues()
    {
        // MS-SMB2 blog "SMB 2 and SMB 3 security in Windows 10": NtHash = MD4(UNICODE("Password01!")).
        Assert.Equal("7C4FE5EADA682714A036E39378362BAB", Hex.Of(NtHash.FromPassword("Password01!")));
        // MD4 of the empty string (RFC 1320 A.5).
        Assert.Equal("31D6CFE0D16AE931B73C59D7E0C089C0", Hex.Of(NtHash.FromPassword("")));
    }

    [Theory]
    [InlineData("7C4FE5EADA682714A036E39378362BAB", true)]
    [InlineData(" 7c4fe5eada682714a036e39378362bab ", true)]
    [InlineData("7C4FE5EADA682714A036E39378362BA", false)]
    [InlineData("7C4FE5EADA682714A036E39378362BAZ", false)]
    [InlineData("", false)]
    public void NtHash_TryParseHex(string text, bool ok)
    {
        Assert.Equal(ok, NtHash.TryParseHex(text, out var hash));
        if (ok) Assert.Equal("7C4FE5EADA682714A036E39378362BAB", Hex.Of(hash));
    }

    [Fact]
    public void Acceptor_VerifiesTheMsNlmp_4_2_4_3_AuthenticateMessage()
    {
        string? seenUser = null, seenDomain = null;
        var acceptor = new SpnegoNtlmAcceptor((u, d) => { seenUser = u; seenDomain = d; return u == "User" ? NtHash.FromPassword("Password") : null; },
            "SERVER", "DOMAIN", "server.example");
        acceptor.FixedChallengeMessage = SpecChallenge;
        var negotiate = new TestNtlmClient().BuildNegotiate();
        var first = acceptor.Accept(negotiate);
        Assert.Equal(GssStatus.ContinueNeeded, first.Status);
        Assert.Equal(SpecChallenge, first.OutputToken);

        var done = acceptor.Accept(SpecAuthenticate);
        Assert.Equal(GssStatus.Complete, done.Status);
        Assert.Equal("User", done.UserName);
        Assert.Equal("Domain", done.Domain);
        Assert.Equal(("User", "Domain"), (seenUser, seenDomain));
        Assert.False(done.IsAnonymous);
        Assert.Empty(done.OutputToken); // raw NTLMSSP in, raw out
        Assert.Equal(Enumerable.Repeat((byte)0x55, 16).ToArray(), done.SessionKey); // RandomSessionKey, via KEY_EXCH
    }

    [Fact]
    public void Acceptor_RejectsTheMsNlmp_4_2_4_3_MessageWithAnotherPassword()
    {
        var acceptor = new SpnegoNtlmAcceptor((_, _) => NtHash.FromPassword("password"), "SERVER", "DOMAIN", "server");
        acceptor.FixedChallengeMessage = SpecChallenge;
        acceptor.Accept(new TestNtlmClient().BuildNegotiate());
        var done = acceptor.Accept(SpecAuthenticate);
        Assert.Equal(GssStatus.Failed, done.Status);
        Assert.Null(done.SessionKey);
        Assert.Equal("wrong password", done.FailureReason);
    }
}
