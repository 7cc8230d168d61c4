using System.Buffers.Binary;
using System.Text;
using SmbCopy.Protocol.Security;

namespace SmbCopy.Protocol.Tests.Security;

public class AcceptorTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    private static SpnegoNtlmAcceptor NewAcceptor(string password = "Secret-1") =>
        new((user, _) => user.Equals("alice", StringComparison.OrdinalIgnoreCase) ? NtHash.FromPassword(password) : null,
            "FILESRV", "WORKGROUP", "filesrv.example.org", new FixedTimeProvider(Now));

    [Fact]
    public void CreateNegotiateToken_IsNegTokenInit2_WithOnlyNtlmssp_AndTheHint()
    {
        var expected = Hex.Bytes("6048 0606 2B0601050502 A03E 303C A00E 300C 060A 2B06010401823702020A A32A 3028 A026 1B24")
            .Concat(Encoding.ASCII.GetBytes("not_defined_in_RFC4178@please_ignore")).ToArray();
        Assert.Equal(Hex.Of(expected), Hex.Of(SpnegoNtlmAcceptor.CreateNegotiateToken()));
    }

    [Fact]
    public void SpnegoRoundTrip_WithMicAndMechListMic_Succeeds()
    {
        var acceptor = NewAcceptor();
        var client = new TestNtlmClient();
        var first = acceptor.Accept(client.BuildSpnegoInit());
        Assert.Equal(GssStatus.ContinueNeeded, first.Status);
        Assert.Equal(1, TestNtlmClient.NegStateOf(first.OutputToken));
        var challenge = TestNtlmClient.ResponseToken(first.OutputToken)!;

        var done = acceptor.Accept(client.BuildSpnegoAuthenticate(challenge));
        Assert.Equal(GssStatus.Complete, done.Status);
        Assert.Null(done.FailureReason);
        Assert.Equal("alice", done.UserName);
        Assert.Equal("WORKGROUP", done.Domain);
        Assert.False(done.IsAnonymous);
        Assert.Equal(client.ExportedSessionKey, done.SessionKey);
        Assert.Equal(0, TestNtlmClient.NegStateOf(done.OutputToken));
        Assert.Equal(Hex.Of(client.MechListMic(clientToServer: false)), Hex.Of(TestNtlmClient.MechListMicOf(done.OutputToken)));

        // The exchange is over: anything more fails.
        Assert.Equal(GssStatus.Failed, acceptor.Accept(client.BuildSpnegoAuthenticate(challenge)).Status);
    }

    [Fact]
    public void SpnegoRoundTrip_WrongPassword_FailsWithReject()
    {
        var acceptor = NewAcceptor("Other-password");
        var client = new TestNtlmClient();
        var challenge = TestNtlmClient.ResponseToken(acceptor.Accept(client.BuildSpnegoInit()).OutputToken)!;
        var done = acceptor.Accept(client.BuildSpnegoAuthenticate(challenge));
        Assert.Equal(GssStatus.Failed, done.Status);
        Assert.Null(done.SessionKey);
        Assert.Equal("wrong password", done.FailureReason);
        Assert.Equal(2, TestNtlmClient.NegStateOf(done.OutputToken));
        Assert.Equal("A1073005A0030A0102", Hex.Of(done.OutputToken));
    }

    [Fact]
    public void UnknownUser_Fails()
    {
        var acceptor = NewAcceptor();
        var client = new TestNtlmClient { User = "mallory" };
        var challenge = TestNtlmClient.ResponseToken(acceptor.Accept(client.BuildSpnegoInit()).OutputToken)!;
        var done = acceptor.Accept(client.BuildSpnegoAuthenticate(challenge));
        Assert.Equal(GssStatus.Failed, done.Status);
        Assert.Equal("unknown user", done.FailureReason);
    }

    [Fact]
    public void ClientHashingWithAnEmptyDomain_IsAcceptedOnRetry()
    {
        var acceptor = NewAcceptor();
        var client = new TestNtlmClient { Domain = "SOMEWHERE", HashDomain = "" };
        var challenge = TestNtlmClient.ResponseToken(acceptor.Accept(client.BuildSpnegoInit()).OutputToken)!;
        var done = acceptor.Accept(client.BuildSpnegoAuthenticate(challenge));
        Assert.Equal(GssStatus.Complete, done.Status);
        Assert.Equal("SOMEWHERE", done.Domain);
        Assert.Equal(client.ExportedSessionKey, done.SessionKey);
    }

    [Fact]
    public void UserNameCase_DoesNotMatter()
    {
        var acceptor = NewAcceptor();
        var client = new TestNtlmClient { User = "ALICE" };
        var challenge = TestNtlmClient.ResponseToken(acceptor.Accept(client.BuildSpnegoInit()).OutputToken)!;
        Assert.Equal(GssStatus.Complete, acceptor.Accept(client.BuildSpnegoAuthenticate(challenge)).Status);
    }

    [Fact]
    public void RawNtlmssp_RoundTrip_Succeeds_WithRawTokensOut()
    {
        var acceptor = NewAcceptor();
        var client = new TestNtlmClient();
        var first = acceptor.Accept(client.BuildNegotiate());
        Assert.Equal(GssStatus.ContinueNeeded, first.Status);
        Assert.Equal("NTLMSSP\0"u8.ToArray(), first.OutputToken[..8]);
        var done = acceptor.Accept(client.BuildAuthenticate(first.OutputToken));
        Assert.Equal(GssStatus.Complete, done.Status);
        Assert.Empty(done.OutputToken);
        Assert.Equal(client.ExportedSessionKey, done.SessionKey);
    }

    [Fact]
    public void MicInAuthenticate_WithoutMechListMic_Fails()
    {
        var acceptor = NewAcceptor();
        var client = new TestNtlmClient { SendMechListMic = false };
        var challenge = TestNtlmClient.ResponseToken(acceptor.Accept(client.BuildSpnegoInit()).OutputToken)!;
        var done = acceptor.Accept(client.BuildSpnegoAuthenticate(challenge));
        Assert.Equal(GssStatus.Failed, done.Status);
        Assert.Equal("mechListMIC missing", done.FailureReason);
    }

    [Fact]
    public void NoMicAndNoMechListMic_IsAccepted_AndTheServerSendsNoMechListMic()
    {
        var acceptor = NewAcceptor();
        var client = new TestNtlmClient { SendMic = false, SendMechListMic = false };
        var challenge = TestNtlmClient.ResponseToken(acceptor.Accept(client.BuildSpnegoInit()).OutputToken)!;
        var done = acceptor.Accept(client.BuildSpnegoAuthenticate(challenge));
        Assert.Equal(GssStatus.Complete, done.Status);
        Assert.Equal("A1073005A0030A0100", Hex.Of(done.OutputToken));
    }

    [Fact]
    public void MechListMicWithoutNtlmMic_IsVerified_AndAnswered()
    {
        var acceptor = NewAcceptor();
        var client = new TestNtlmClient { SendMic = false };
        var challenge = TestNtlmClient.ResponseToken(acceptor.Accept(client.BuildSpnegoInit()).OutputToken)!;
        var done = acceptor.Accept(client.BuildSpnegoAuthenticate(challenge));
        Assert.Equal(GssStatus.Complete, done.Status);
        Assert.Equal(Hex.Of(client.MechListMic(clientToServer: false)), Hex.Of(TestNtlmClient.MechListMicOf(done.OutputToken)));
    }

    [Fact]
    public void ThrowingLookup_FailsWithoutLeakingTheMessage()
    {
        var acceptor = new SpnegoNtlmAcceptor((_, _) => throw new InvalidOperationException("db password is hunter2"), "A", "B", "c");
        var client = new TestNtlmClient();
        var challenge = TestNtlmClient.ResponseToken(acceptor.Accept(client.BuildSpnegoInit()).OutputToken)!;
        var done = acceptor.Accept(client.BuildSpnegoAuthenticate(challenge));
        Assert.Equal(GssStatus.Failed, done.Status);
        Assert.Equal("user lookup failed: InvalidOperationException", done.FailureReason);
    }

    [Fact]
    public void KerberosFirst_WithoutOptimisticToken_SelectsNtlm_AndRequiresTheMechListMic()
    {
        var acceptor = NewAcceptor();
        var client = new TestNtlmClient { KerberosFirst = true };
        var first = acceptor.Accept(client.BuildSpnegoInit());
        Assert.Equal(GssStatus.ContinueNeeded, first.Status);
        Assert.Equal(3, TestNtlmClient.NegStateOf(first.OutputToken)); // request-mic
        Assert.Null(TestNtlmClient.ResponseToken(first.OutputToken));
        var second = acceptor.Accept(client.BuildSpnegoNegotiateResp());
        Assert.Equal(GssStatus.ContinueNeeded, second.Status);
        var challenge = TestNtlmClient.ResponseToken(second.OutputToken)!;
        var done = acceptor.Accept(client.BuildSpnegoAuthenticate(challenge));
        Assert.Equal(GssStatus.Complete, done.Status);
        Assert.Equal(client.ExportedSessionKey, done.SessionKey);
    }

    [Fact]
    public void NtlmFirst_WithoutOptimisticToken_AsksForTheNegotiate_WithoutRequiringAMic()
    {
        var acceptor = NewAcceptor();
        var client = new TestNtlmClient { SendMic = false, SendMechListMic = false };
        var init = TestNtlmClient.Der(0x60, [.. Hex.Bytes("06062B0601050502"),
            .. TestNtlmClient.Der(0xA0, TestNtlmClient.Der(0x30, TestNtlmClient.Der(0xA0, client.MechTypesDer)))]);
        var first = acceptor.Accept(init);
        Assert.Equal(GssStatus.ContinueNeeded, first.Status);
        Assert.Equal(1, TestNtlmClient.NegStateOf(first.OutputToken));
        var challenge = TestNtlmClient.ResponseToken(acceptor.Accept(client.BuildSpnegoNegotiateResp()).OutputToken)!;
        var done = acceptor.Accept(client.BuildSpnegoAuthenticate(challenge));
        Assert.Equal(GssStatus.Complete, done.Status);
        Assert.Equal(client.ExportedSessionKey, done.SessionKey);
    }

    [Fact]
    public void KerberosFirst_WithoutMechListMic_Fails()
    {
        var acceptor = NewAcceptor();
        var client = new TestNtlmClient { KerberosFirst = true, SendMic = false, SendMechListMic = false };
        acceptor.Accept(client.BuildSpnegoInit());
        var challenge = TestNtlmClient.ResponseToken(acceptor.Accept(client.BuildSpnegoNegotiateResp()).OutputToken)!;
        var done = acceptor.Accept(client.BuildSpnegoAuthenticate(challenge));
        Assert.Equal(GssStatus.Failed, done.Status);
        Assert.Equal("mechListMIC missing", done.FailureReason);
    }

    [Fact]
    public void MechTypesWithoutNtlm_Fail()
    {
        var acceptor = NewAcceptor();
        var init = TestNtlmClient.Der(0x60, [.. Hex.Bytes("06062B0601050502"),
            .. TestNtlmClient.Der(0xA0, TestNtlmClient.Der(0x30, TestNtlmClient.Der(0xA0, TestNtlmClient.Der(0x30, TestNtlmClient.MsKrb5OidDer))))]);
        var result = acceptor.Accept(init);
        Assert.Equal(GssStatus.Failed, result.Status);
        Assert.Equal(2, TestNtlmClient.NegStateOf(result.OutputToken));
    }

    [Fact]
    public void ChallengeMessage_HasTheAdvertisedFlags_AvPairs_AndTimestamp()
    {
        var acceptor = NewAcceptor();
        var challenge = acceptor.Accept(new TestNtlmClient().BuildNegotiate()).OutputToken;
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(challenge.AsSpan(8)));
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(challenge.AsSpan(20));
        // UNICODE, REQUEST_TARGET, SIGN, NTLM, ALWAYS_SIGN, TARGET_TYPE_SERVER, ESS, TARGET_INFO, VERSION, 128, KEY_EXCH, 56
        Assert.Equal(0xE28A8215u, flags);
        Assert.Equal("FILESRV", Encoding.Unicode.GetString(Field(challenge, 12)));

        var info = Field(challenge, 40);
        var pairs = new List<(ushort id, byte[] value)>();
        for (int i = 0; i < info.Length;)
        {
            ushort id = BinaryPrimitives.ReadUInt16LittleEndian(info.AsSpan(i));
            ushort len = BinaryPrimitives.ReadUInt16LittleEndian(info.AsSpan(i + 2));
            pairs.Add((id, info.AsSpan(i + 4, len).ToArray()));
            i += 4 + len;
        }
        Assert.Equal(new ushort[] { 2, 1, 4, 3, 7, 0 }, pairs.Select(p => p.id).ToArray());
        Assert.Equal("WORKGROUP", Encoding.Unicode.GetString(pairs[0].value));
        Assert.Equal("FILESRV", Encoding.Unicode.GetString(pairs[1].value));
        Assert.Equal("example.org", Encoding.Unicode.GetString(pairs[2].value));
        Assert.Equal("filesrv.example.org", Encoding.Unicode.GetString(pairs[3].value));
        Assert.Equal(Now.ToFileTime(), BinaryPrimitives.ReadInt64LittleEndian(pairs[4].value));
        Assert.Empty(pairs[5].value);

        // The server challenge is random per exchange.
        var other = NewAcceptor().Accept(new TestNtlmClient().BuildNegotiate()).OutputToken;
        Assert.NotEqual(challenge.AsSpan(24, 8).ToArray(), other.AsSpan(24, 8).ToArray());
    }

    private static byte[] Field(byte[] message, int at)
    {
        int len = BinaryPrimitives.ReadUInt16LittleEndian(message.AsSpan(at));
        int off = (int)BinaryPrimitives.ReadUInt32LittleEndian(message.AsSpan(at + 4));
        return message.AsSpan(off, len).ToArray();
    }

    /// <summary>A bare AUTHENTICATE_MESSAGE (no Version, no MIC) with the given responses and user.</summary>
    private static byte[] RawAuthenticate(string user, byte[] lm, byte[] nt, uint flags = 0xE2088215)
    {
        var userBytes = Encoding.Unicode.GetBytes(user);
        var m = new byte[64 + lm.Length + nt.Length + userBytes.Length];
        "NTLMSSP\0"u8.CopyTo(m);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(8), 3);
        int offset = 64;
        void Field(int at, byte[] data)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(at), (ushort)data.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(at + 2), (ushort)data.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(at + 4), (uint)offset);
            data.CopyTo(m, offset);
            offset += data.Length;
        }
        Field(12, lm);
        Field(20, nt);
        Field(36, userBytes);
        Field(28, []);
        Field(44, []);
        Field(52, []);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(60), flags);
        return m;
    }

    [Fact]
    public void NtlmV1Response_IsRefused()
    {
        var acceptor = NewAcceptor();
        acceptor.Accept(new TestNtlmClient().BuildNegotiate());
        var done = acceptor.Accept(RawAuthenticate("alice", new byte[24], new byte[24]));
        Assert.Equal(GssStatus.Failed, done.Status);
        Assert.Equal("NTLMv1 response refused", done.FailureReason);
    }

    [Fact]
    public void Anonymous_CompletesWithAZeroKey_AndNoMechListMic()
    {
        var acceptor = NewAcceptor();
        var client = new TestNtlmClient();
        acceptor.Accept(client.BuildSpnegoInit());
        var auth = RawAuthenticate("", [0], [], 0xE2088A15);
        var token = TestNtlmClient.Der(0xA1, TestNtlmClient.Der(0x30, TestNtlmClient.Der(0xA2, TestNtlmClient.Der(0x04, auth))));
        var done = acceptor.Accept(token);
        Assert.Equal(GssStatus.Complete, done.Status);
        Assert.True(done.IsAnonymous);
        Assert.Equal(new byte[16], done.SessionKey);
        Assert.Equal("", done.UserName);
        Assert.Equal("A1073005A0030A0100", Hex.Of(done.OutputToken));
    }

    [Fact]
    public void EmptyUserWithAResponse_Fails()
    {
        var acceptor = NewAcceptor();
        acceptor.Accept(new TestNtlmClient().BuildNegotiate());
        var done = acceptor.Accept(RawAuthenticate("", new byte[24], new byte[60]));
        Assert.Equal(GssStatus.Failed, done.Status);
    }

    [Fact]
    public void OutOfOrderTokens_Fail()
    {
        var client = new TestNtlmClient();
        Assert.Equal(GssStatus.Failed, NewAcceptor().Accept([]).Status);
        // AUTHENTICATE first.
        Assert.Equal(GssStatus.Failed, NewAcceptor().Accept(RawAuthenticate("alice", new byte[24], new byte[60])).Status);
        // A NegTokenResp first.
        Assert.Equal(GssStatus.Failed, NewAcceptor().Accept(client.BuildSpnegoNegotiateResp()).Status);
        // NEGOTIATE twice.
        var acceptor = NewAcceptor();
        acceptor.Accept(client.BuildSpnegoInit());
        Assert.Equal(GssStatus.Failed, acceptor.Accept(client.BuildSpnegoInit()).Status);
        // Switching from SPNEGO to raw NTLMSSP mid-exchange.
        acceptor = NewAcceptor();
        var challenge = TestNtlmClient.ResponseToken(acceptor.Accept(client.BuildSpnegoInit()).OutputToken)!;
        Assert.Equal(GssStatus.Failed, acceptor.Accept(client.BuildAuthenticate(challenge)).Status);
    }
}
