using SmbCopy.Protocol.Security;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Protocol.Tests.Security;

/// <summary>
/// Replays the SMB 3.1.1 session published in Microsoft's Open Specifications blog "SMB 2 and SMB 3 security in
/// Windows 10: the anatomy of signing and cryptographic keys", appendix "Key derivation example for SMB 3.1.1
/// multichannel" (master session) and "NTLMv2 SessionKey calculation example": user administrator, domain SUT311,
/// password "Password01!", dialect 0x0311, AES-CMAC signing. Every expected value below is quoted from that page.
/// </summary>
public class WindowsCaptureTests
{
    internal static readonly byte[] NegotiateRequest = Hex.Bytes(@"
        FE534D4240000100000000000000800000000000000000000100000000000000FFFE000000000000
        00000000000000000000000000000000000000000000000024000500000000003F000000ECD86F32
        6276024F9F7752B89BB33F3A70000000020000000202100200030203110300000100260000000000
        010020000100FA49E6578F1F3A9F4CD3E9CC14A67AA884B3D05844E0E5A118225C15887F32FF0000
        0200060000000000020002000100");

    internal static readonly byte[] NegotiateResponse = Hex.Bytes(@"
        FE534D4240000100000000000000010001000000000000000100000000000000FFFE000000000000
        000000000000000000000000000000000000000000000000410001001103020039CBCAF329714942
        BDCE5D60F09AB3FB2F000000000080000000800000008000D8DAE5ADCBAED00109094AB095AED001
        80004001C00100006082013C06062B0601050502A08201303082012CA01A3018060A2B0601040182
        3702021E060A2B06010401823702020AA282010C048201084E45474F455854530100000000000000
        60000000700000007C7CC0FD06D6362D02DDE1CF343BFE292900F49750B4AA97934D9C4296B26E51
        FD370471B235E15A50DAE15BD5489C87000000000000000060000000010000000000000000000000
        5C33530DEAF90D4DB2EC4AE3786EC3084E45474F4558545303000000010000004000000098000000
        7C7CC0FD06D6362D02DDE1CF343BFE295C33530DEAF90D4DB2EC4AE3786EC3084000000058000000
        3056A05430523027802530233121301F06035504031318546F6B656E205369676E696E6720507562
        6C6963204B65793027802530233121301F06035504031318546F6B656E205369676E696E67205075
        626C6963204B6579010026000000000001002000010060A3C3B95C3C7CCD51EC536648D9B3AC74C4
        83CA5B65385A251117BEB30712E50000020004000000000001000200");

    internal static readonly byte[] SessionSetupRequest1 = Hex.Bytes(@"
        FE534D4240000100000000000100800000000000000000000200000000000000FFFE000000000000
        00000000000000000000000000000000000000000000000019000001010000000000000058004A00
        0000000000000000604806062B0601050502A03E303CA00E300C060A2B06010401823702020AA22A
        04284E544C4D5353500001000000978208E200000000000000000000000000000000060380250000
        000F");

    internal static readonly byte[] SessionSetupResponse1 = Hex.Bytes(@"
        FE534D4240000100160000C00100010001000000000000000200000000000000FFFE000000000000
        190000000010000000000000000000000000000000000000090000004800B300A181B03081ADA003
        0A0101A10C060A2B06010401823702020AA281970481944E544C4D53535000020000000C000C0038
        00000015828AE20D1D8BA31179D008000000000000000050005000440000000A0092270000000F53
        005500540033003100310002000C0053005500540033003100310001000C00530055005400330031
        00310004000C0053005500540033003100310003000C0053005500540033003100310007000800A1
        A1F5ADCBAED00100000000");

    internal static readonly byte[] SessionSetupRequest2 = Hex.Bytes(@"
        FE534D4240000100000000000100800000000000000000000300000000000000FFFE000000000000
        1900000000100000000000000000000000000000000000001900000101000000000000005800CF01
        0000000000000000A18201CB308201C7A0030A0101A28201AA048201A64E544C4D53535000030000
        001800180090000000EE00EE00A80000000C000C00580000001A001A0064000000120012007E0000
        001000100096010000158288E2060380250000000FECAC77A5F385A8BF9C38C706EEEDDCD3530055
        005400330031003100610064006D0069006E006900730074007200610074006F0072004400520049
        0056004500520033003100310000000000000000000000000000000000000000000000000063078E
        B639FE03E20A231C3AE3BF23080101000000000000A1A1F5ADCBAED001BC4AD05F223CC90F000000
        0002000C0053005500540033003100310001000C0053005500540033003100310004000C00530055
        00540033003100310003000C0053005500540033003100310007000800A1A1F5ADCBAED001060004
        00020000000800300030000000000000000000000000300000B61FEFCAA857EA57BF1EDCEBF8974B
        8E0EBA5A6DFD9D07A31D11B548F8C9D0CC0A00100000000000000000000000000000000000090016
        0063006900660073002F005300550054003300310031000000000000000000000000003B9BDFF38F
        5EE8F9663F11A0F4C03A78A31204100100000063775A9A5FD97F0600000000");

    internal static readonly byte[] SessionSetupResponse2 = Hex.Bytes(@"
        FE534D4240000100000000000100800009000000000000000300000000000000FFFE000000000000
        1900000000100000EBE146DA120BA25FC3376A49DFE31BC10900000048001D00A11B3019A0030A01
        00A3120410010000003B453CDC3524164200000000");

    internal static readonly byte[] SessionKey = Hex.Bytes("270E1BA896585EEB7AF3472D3B4C75A7");
    internal static readonly byte[] SessionPreauthHash = Hex.Bytes(
        "0DD13628CC3ED218EF9DF9772D436D0887AB9814BFAE63A80AA845F36909DB7928622DDDAD522D97" +
        "51640A459762C5A9D6BB084CBB3CE6BDADEF5D5BCE3C6C01");

    private static byte[] RequestToken(byte[] m) => Slice(m, BitConverter.ToUInt16(m, 64 + 12), BitConverter.ToUInt16(m, 64 + 14));
    private static byte[] ResponseToken(byte[] m) => Slice(m, BitConverter.ToUInt16(m, 64 + 4), BitConverter.ToUInt16(m, 64 + 6));
    private static byte[] Slice(byte[] m, int offset, int length) => m.AsSpan(offset, length).ToArray();

    [Fact]
    public void PreauthIntegrityHash_FollowsThePublishedChain()
    {
        var connection = new PreauthIntegrityHash();
        Assert.Equal(new byte[64], connection.Value);
        connection.Update(NegotiateRequest);
        Assert.Equal("DD94EFC5321BB618A2E208BA8920D2F422992526947A409B5037DE1E0FE8C7362B8C47122594CDE0" +
                     "CE26AA9DFC8BCDBDE0621957672623351A7540F1E54A0426", Hex.Of(connection.Value));
        connection.Update(NegotiateResponse);
        Assert.Equal("324BFA92A4F3A190E466EBEA08D9C110DC88BFED758D9846ECC6F541CC1D02AE3C94A79F36011E99" +
                     "7E13F841B91B50957AD07B19C8E2539C0B23FDAE09D2C513", Hex.Of(connection.Value));

        var session = connection.Clone();
        session.Update(SessionSetupRequest1);
        Assert.Equal("AC0B0F2B9986257700365E416D142A6EDC96DF03594A19E52A15F6BD0D041CD5D432F8ED42C55E33" +
                     "197A50C9EC00F1462B50C592211B1471A04B56088FDFD5F9", Hex.Of(session.Value));
        session.Update(SessionSetupResponse1);
        Assert.Equal("2729E3440DFDDD839E37193F6E8F20C20CEFB3469E453A70CD980EEC06B8835740A7376008563336" +
                     "4C8989895ECE81BF102DEEB14D4B7D48AFA76901A7A38387", Hex.Of(session.Value));
        session.Update(SessionSetupRequest2);
        Assert.Equal(SessionPreauthHash, session.Value);

        // The clone is independent of the connection's value.
        Assert.Equal("324BFA92A4F3A190E466EBEA08D9C110DC88BFED758D9846ECC6F541CC1D02AE3C94A79F36011E99" +
                     "7E13F841B91B50957AD07B19C8E2539C0B23FDAE09D2C513", Hex.Of(connection.Value));
    }

    [Fact]
    public void Acceptor_ReproducesTheWindowsServerSide_OfTheCapturedExchange()
    {
        var challengeToken = ResponseToken(SessionSetupResponse1);
        var challenge = TestNtlmClient.ResponseToken(challengeToken)!;
        var acceptor = new SpnegoNtlmAcceptor(
            (user, domain) => user == "administrator" && domain == "SUT311" ? NtHash.FromPassword("Password01!") : null,
            "SUT311", "SUT311", "SUT311") { FixedChallengeMessage = challenge };

        var first = acceptor.Accept(RequestToken(SessionSetupRequest1));
        Assert.Equal(GssStatus.ContinueNeeded, first.Status);
        Assert.Equal(Hex.Of(challengeToken), Hex.Of(first.OutputToken)); // byte-identical NegTokenResp

        var done = acceptor.Accept(RequestToken(SessionSetupRequest2));
        Assert.Equal(GssStatus.Complete, done.Status);
        Assert.Null(done.FailureReason);
        Assert.Equal("administrator", done.UserName);
        Assert.Equal("SUT311", done.Domain);
        Assert.False(done.IsAnonymous);
        Assert.Equal(SessionKey, done.SessionKey);
        // The AUTHENTICATE carried a MIC and the client a mechListMIC; both were checked, and the final token
        // (accept-completed + server mechListMIC) is byte-identical to what Windows sent.
        Assert.Equal(Hex.Of(ResponseToken(SessionSetupResponse2)), Hex.Of(done.OutputToken));
    }

    [Fact]
    public void Acceptor_RejectsTheCapturedExchange_WhenTheMicIsTampered()
    {
        var challenge = TestNtlmClient.ResponseToken(ResponseToken(SessionSetupResponse1))!;
        var acceptor = new SpnegoNtlmAcceptor((_, _) => NtHash.FromPassword("Password01!"), "SUT311", "SUT311", "SUT311")
            { FixedChallengeMessage = challenge };
        acceptor.Accept(RequestToken(SessionSetupRequest1));
        var token = RequestToken(SessionSetupRequest2);
        // The MIC field is at offset 72 of the NTLM AUTHENTICATE carried in the token.
        int ntlm = token.AsSpan().IndexOf("NTLMSSP\0"u8);
        Assert.Equal(21, ntlm);
        token[ntlm + 72] ^= 1;
        var done = acceptor.Accept(token);
        Assert.Equal(GssStatus.Failed, done.Status);
        Assert.Equal("AUTHENTICATE MIC mismatch", done.FailureReason);
        Assert.Equal(2, TestNtlmClient.NegStateOf(done.OutputToken)); // reject
    }

    [Fact]
    public void Acceptor_RejectsTheCapturedExchange_WhenTheMechListMicIsTampered()
    {
        var challenge = TestNtlmClient.ResponseToken(ResponseToken(SessionSetupResponse1))!;
        var acceptor = new SpnegoNtlmAcceptor((_, _) => NtHash.FromPassword("Password01!"), "SUT311", "SUT311", "SUT311")
            { FixedChallengeMessage = challenge };
        acceptor.Accept(RequestToken(SessionSetupRequest1));
        var token = RequestToken(SessionSetupRequest2);
        token[^5] ^= 0x80; // inside the mechListMIC checksum
        var done = acceptor.Accept(token);
        Assert.Equal(GssStatus.Failed, done.Status);
        Assert.Equal("mechListMIC mismatch", done.FailureReason);
    }

    [Fact]
    public void KeyDerivation_Smb311_MatchesThePublishedKeys()
    {
        var keys = SmbKeyDerivation.Derive(Smb2Dialect.Smb311, SessionKey, SessionPreauthHash, CipherId.Aes128Gcm);
        Assert.Equal("73FE7A9A77BEF0BDE49C650D8CCB5F76", Hex.Of(keys.SigningKey));
        Assert.Equal("6D7AD7954E9EC61E907B4D473DC178FF", Hex.Of(keys.ApplicationKey));
        // The blog lists the client's keys: its EncryptionKey (client→server, "SMBC2SCipherKey") is the server's
        // DecryptionKey, and vice versa.
        Assert.Equal("629BCBC54422A0F572B97F45989B6073", Hex.Of(keys.DecryptionKey));
        Assert.Equal("E2AF0DCEFAC68DA71A0DFBD0D1350D74", Hex.Of(keys.EncryptionKey));
    }

    [Fact]
    public void Signer_AesCmac_ReproducesTheSignatureOfTheFinalSessionSetupResponse()
    {
        var keys = SmbKeyDerivation.Derive(Smb2Dialect.Smb311, SessionKey, SessionPreauthHash, CipherId.Aes128Gcm);
        using var signer = new Smb2Signer(SigningAlgorithm.AesCmac, keys.SigningKey);
        Assert.True(signer.Verify(SessionSetupResponse2));

        var unsigned = (byte[])SessionSetupResponse2.Clone();
        unsigned.AsSpan(48, 16).Clear();
        unsigned[16] &= unchecked((byte)~0x08); // clear SMB2_FLAGS_SIGNED; Sign must set it again
        signer.Sign(unsigned);
        Assert.Equal(Hex.Of(SessionSetupResponse2), Hex.Of(unsigned));
        Assert.Equal("EBE146DA120BA25FC3376A49DFE31BC1", Hex.Of(unsigned.AsSpan(48, 16)));
    }
}
