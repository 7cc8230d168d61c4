using SmbCopy.Gateway.Smb.Connection;
using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Server;
using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Gateway.Tests.Kit;
using SmbCopy.Protocol.Security;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Tests.Sessions;

/// <summary>Multichannel sessions (MS-SMB2 3.3.1.8, 3.3.1.14, 3.3.5.5): channels, per-channel keys, teardown.</summary>
public sealed class SmbSessionChannelTests
{
    private readonly SmbServer _server = TestGateway.Server();

    private SmbConnection Connect(Smb2Dialect dialect = Smb2Dialect.Smb311) => TestGateway.Connect(_server, dialect);

    private static Smb2Signer Key(byte fill, SigningAlgorithm algorithm = SigningAlgorithm.AesCmac) =>
        new(algorithm, Enumerable.Repeat(fill, 16).ToArray());

    private SmbSession LoggedOn(SmbConnection connection, Smb2Signer key) => TestGateway.SignedSession(_server, connection, key);

    [Fact]
    public void A_new_session_is_usable_only_on_its_own_connection()
    {
        var first = Connect();
        var other = Connect();
        var session = _server.CreateSession(first);

        Assert.True(session.HasChannel(first));
        Assert.False(session.HasChannel(other));
        Assert.Null(session.SignerFor(first)); // no key before the log-on completes
        Assert.Same(first, session.EstablishedOn);
        Assert.Equal(Smb2Dialect.Smb311, session.Dialect);
    }

    [Fact]
    public void Each_channel_signs_with_its_own_key()
    {
        var first = Connect();
        var second = Connect();
        var sessionKey = Key(1);
        var channelKey = Key(2, SigningAlgorithm.AesGmac);
        var session = LoggedOn(first, sessionKey);

        session.AddChannel(second, channelKey);

        Assert.Same(sessionKey, session.Signer);            // Session.SigningKey
        Assert.Same(sessionKey, session.SignerFor(first));  // the first channel uses the session's key
        Assert.Same(channelKey, session.SignerFor(second)); // Channel.SigningKey of the bound connection
        Assert.Equal(2, session.Channels.Count);
    }

    [Fact]
    public void The_session_survives_until_its_last_channel_is_gone()
    {
        var first = Connect();
        var second = Connect();
        var session = LoggedOn(first, Key(1));
        session.AddChannel(second, Key(2));

        Assert.False(session.RemoveChannel(first));
        Assert.False(session.HasChannel(first));
        Assert.True(session.HasChannel(second));
        Assert.True(session.RemoveChannel(second));
        Assert.Empty(session.Channels);
    }

    [Fact]
    public void Unsolicited_messages_go_to_a_live_channel()
    {
        var first = Connect();
        var second = Connect();
        var session = LoggedOn(first, Key(1));
        session.AddChannel(second, Key(2));

        Assert.Same(first, session.Connection);
        first.Close("test");
        Assert.Same(second, session.Connection);
    }

    [Fact]
    public async Task Closing_one_channel_keeps_the_session_and_closing_the_last_ends_it()
    {
        var first = Connect();
        var second = Connect();
        var session = LoggedOn(first, Key(1));
        session.AddChannel(second, Key(2));
        second.Sessions[session.SessionId] = session;

        await first.DisposeSessionsAsync();
        Assert.Same(session, _server.FindSession(session.SessionId));
        Assert.True(session.IsValid);
        Assert.NotNull(session.SignerFor(second));

        await second.DisposeSessionsAsync();
        Assert.Null(_server.FindSession(session.SessionId));
        Assert.Equal(SessionState.Expired, session.State);
    }

    [Fact]
    public void A_binding_in_progress_is_not_a_channel_and_ends_with_its_connection()
    {
        var first = Connect();
        var second = Connect();
        var session = LoggedOn(first, Key(1));
        var binding = new PendingBinding(
            new SpnegoNtlmAcceptor((_, _) => null, "SRV", "WORKGROUP", "srv", TimeProvider.System), null);

        session.StartBinding(second, binding);
        Assert.Same(binding, session.BindingOn(second));
        Assert.False(session.HasChannel(second));
        Assert.Null(session.SignerFor(second));

        session.RemoveChannel(second);
        Assert.Null(session.BindingOn(second));
        Assert.True(session.HasChannel(first));
    }
}
