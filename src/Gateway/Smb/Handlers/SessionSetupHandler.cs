using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Protocol.Security;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Gateway.Smb.Handlers;

/// <summary>
/// SMB2 SESSION_SETUP (MS-SMB2 3.3.5.5): SPNEGO/NTLMv2 log-on, re-authentication, key derivation per
/// dialect (3.3.5.5.3), the 3.1.1 session preauth hash, and a signed final response.
/// </summary>
public sealed class SessionSetupHandler : ISmb2Handler
{
    public Smb2Command Command => Smb2Command.SessionSetup;
    public HandlerRequirements Requirements => HandlerRequirements.None;

    public async ValueTask<Smb2Response> HandleAsync(Smb2Request request)
    {
        var connection = request.Connection;
        var server = request.Server;
        var setup = SessionSetupRequest.Parse(request.Message);
        if ((setup.Flags & SessionSetupRequest.FlagBinding) != 0)
            return await BindAsync(request, setup).ConfigureAwait(false);

        SmbSession session;
        bool isNew = request.Header.SessionId == 0;
        if (isNew)
        {
            session = server.CreateSession(connection);
            connection.Sessions[session.SessionId] = session;
            if (connection.PreauthHash is not null) session.PreauthHash = connection.PreauthHash.Clone();
        }
        else
        {
            var found = server.FindSession(request.Header.SessionId);
            if (found is null || found.State == SessionState.Expired || !found.HasChannel(connection))
            {
                // A session of another connection (no channel here): clients require the SIGNED flag on this
                // answer to a signed request, so it is signed with Session.SigningKey once the request verifies.
                var deleted = Smb2Response.Error(NtStatus.UserSessionDeleted);
                if (found is { IsValid: true, Signer: { } key } && request.Header.IsSigned && key.Verify(request.Span))
                    deleted.SignWith = found;
                return deleted;
            }
            session = found;
            if (session.IsValid)
            {
                // Re-authentication (3.3.5.5.2), each leg: its request is verified with this connection's
                // Channel.SigningKey (3.3.5.2.4); unsigned ones are refused where signing is required.
                var refused = CheckReauthSignature(request, session);
                if (refused is not null) return refused;
                // A new exchange on a valid session; keys stay as they are.
                if (session.Authentication is null) session.PreauthHash = null;
            }
        }
        request.Session = session;
        session.PreauthHash?.Update(request.Span);

        session.Authentication ??= new SpnegoNtlmAcceptor(
            (user, _) => server.Users.GetNtHash(user),
            server.Identity.ServerName, server.Options.DomainName, server.Identity.ServerName.ToLowerInvariant(), server.Time);

        var result = await AcceptThrottledAsync(request, session.Authentication, setup).ConfigureAwait(false);

        switch (result.Status)
        {
            case GssStatus.ContinueNeeded:
            {
                var response = Body(0, result.OutputToken, NtStatus.MoreProcessingRequired);
                response.SessionIdOverride = session.SessionId;
                // Re-authentication happens inside a signed session: its responses are signed too.
                if (session.IsValid && session.Signer is not null) response.SignWith = session;
                var hash = session.PreauthHash;
                if (hash is not null) response.OnSerialized = bytes => hash.Update(bytes);
                return response;
            }
            case GssStatus.Complete when result.IsAnonymous && !server.Shares.AnyAllowsGuest:
                return await FailAsync(request, session, isNew, "anonymous log-on refused (no share allows guests)").ConfigureAwait(false);
            case GssStatus.Complete:
                return await CompleteAsync(request, session, setup, result).ConfigureAwait(false);
            default:
                return await FailAsync(request, session, isNew, result.FailureReason ?? "authentication failed",
                    result.Malformed ? NtStatus.InvalidParameter : NtStatus.LogonFailure).ConfigureAwait(false);
        }
    }

    private static async ValueTask<Smb2Response> CompleteAsync(Smb2Request request, SmbSession session, SessionSetupRequest setup, GssAcceptResult result)
    {
        var connection = request.Connection;
        var server = request.Server;
        bool reauth = session.IsValid;
        if (reauth && !string.Equals(session.UserName, result.UserName, StringComparison.OrdinalIgnoreCase))
        {
            // Windows refuses re-authentication as a different user (signed: the session keeps its keys).
            session.Authentication = null;
            var denied = Smb2Response.Error(NtStatus.AccessDenied);
            if (session.Signer is not null) denied.SignWith = session;
            return denied;
        }
        session.Authentication = null;
        server.Throttle.Succeeded(connection.RemoteEndPoint?.Address);
        ushort flags = 0;
        if (!reauth)
        {
            session.UserName = result.UserName ?? "";
            session.Domain = result.Domain ?? "";
            session.IsAnonymous = result.IsAnonymous;
            session.SessionKey = result.SessionKey ?? new byte[16];
            var dialect = connection.Dialect;
            var keys = SmbKeyDerivation.Derive(dialect, session.SessionKey,
                session.PreauthHash?.Value ?? [], connection.Cipher);
            session.PreauthHash = null;
            session.ApplicationKey = keys.ApplicationKey;
            if (!result.IsAnonymous)
            {
                session.SetSessionSigner(new Smb2Signer(connection.SigningAlgorithm, keys.SigningKey));
                bool clientRequires = (setup.SecurityMode & NegotiateHandler.SigningRequired) != 0;
                session.SigningRequired = server.Options.Security.RequireSigning || clientRequires || dialect == Smb2Dialect.Smb311;
                if (dialect.IsSmb3() && connection.Cipher != CipherId.None)
                {
                    session.Cipher = new Smb2TransformCipher(connection.Cipher, keys.EncryptionKey, keys.DecryptionKey);
                    session.CipherId = connection.Cipher;
                    if (server.Options.Security.RequireEncryption)
                    {
                        session.EncryptData = true;
                        flags |= SessionSetupResponse.FlagEncryptData;
                    }
                }
                if (server.Options.Security.RequireEncryption && session.Cipher is null)
                {
                    // 3.3.5.5.3: a server that requires encryption refuses clients that cannot do it.
                    session.Authentication = null;
                    return Smb2Response.Error(NtStatus.AccessDenied);
                }
            }
            else
            {
                flags |= SessionSetupResponse.FlagIsNull;
            }
            session.State = SessionState.Valid;
            connection.HasAuthenticatedSession = true;
            await ExpirePreviousSessionAsync(request, session, setup.PreviousSessionId).ConfigureAwait(false);
            connection.Logger.LogInformation("session {SessionId:X} for {User} from {Remote}: {Dialect}, signing {Signing}, encryption {Cipher}",
                session.SessionId, result.IsAnonymous ? "(anonymous)" : session.UserName, connection.RemoteEndPoint,
                connection.Dialect, session.Signer?.Algorithm.ToString() ?? "none", session.EncryptData ? connection.Cipher.ToString() : "off");
        }
        else if (session.EncryptData)
        {
            flags |= SessionSetupResponse.FlagEncryptData;
        }

        var response = Body(flags, result.OutputToken, NtStatus.Success);
        response.SessionIdOverride = session.SessionId;
        if (session.Signer is not null) response.SignWith = session; // 3.3.5.5.3: the final response is signed
        return response;
    }

    /// <summary>
    /// The signature check of a SESSION_SETUP on a valid session (re-authentication). Null when it may go on.
    /// A request signed with Session.SigningKey on a bound channel (whose channel key differs) is refused;
    /// the refusal carries a signature with that key, as a signing client drops the connection on an
    /// unsigned or unverifiable answer.
    /// </summary>
    private static Smb2Response? CheckReauthSignature(Smb2Request request, SmbSession session)
    {
        if (request.WasEncrypted) return null;
        var channelKey = session.SignerFor(request.Connection);
        if (!request.Header.IsSigned)
            return session.SigningRequired ? Smb2Response.Error(NtStatus.AccessDenied) : null;
        if (channelKey is not null && channelKey.Verify(request.Span)) return null;
        var denied = Smb2Response.Error(NtStatus.AccessDenied);
        if (session.Signer is { } sessionKey && !ReferenceEquals(sessionKey, channelKey) && sessionKey.Verify(request.Span))
            denied.SigningKey = sessionKey;
        request.Connection.Logger.LogInformation("re-authentication of session {SessionId:X} from {Remote} refused: bad signature",
            session.SessionId, request.Connection.RemoteEndPoint);
        return denied;
    }

    /// <summary>
    /// 3.3.5.5 PreviousSessionId: a client reconnecting after a lost connection names its old session;
    /// when it belongs to the same user it is torn down (its opens closed), so the new session replaces it.
    /// </summary>
    private static async ValueTask ExpirePreviousSessionAsync(Smb2Request request, SmbSession session, ulong previousSessionId)
    {
        if (previousSessionId == 0 || previousSessionId == session.SessionId || session.IsAnonymous) return;
        var previous = request.Server.FindSession(previousSessionId);
        if (previous is null || previous.IsAnonymous || !previous.IsValid
            || !string.Equals(previous.UserName, session.UserName, StringComparison.OrdinalIgnoreCase)
            || !string.Equals(previous.Domain, session.Domain, StringComparison.OrdinalIgnoreCase))
            return;
        request.Connection.Logger.LogInformation("session {SessionId:X} replaces previous session {Previous:X} of {User}",
            session.SessionId, previousSessionId, session.UserName);
        await request.Server.RemoveSessionAsync(previous).ConfigureAwait(false);
    }

    /// <summary>
    /// SESSION_SETUP with SMB2_SESSION_FLAG_BINDING (MS-SMB2 3.3.5.5, 3.3.5.5.3): adds this connection as a
    /// channel of an existing SMB 3.x session after the same user authenticated again on it. The request is
    /// verified with Session.SigningKey; answers other than the final success are signed with it too
    /// (3.3.4.1.1), the final success with the new Channel.SigningKey.
    /// </summary>
    private static async ValueTask<Smb2Response> BindAsync(Smb2Request request, SessionSetupRequest setup)
    {
        var connection = request.Connection;
        var server = request.Server;
        var header = request.Header;
        var session = server.FindSession(header.SessionId);

        // 3.3.5.2.4: a binding request is verified with Session.SigningKey (the session's algorithm, whatever
        // this connection negotiated); a connection that already is a channel verifies with its own key.
        // Only a verified request gets signed answers (no signing oracle for strangers).
        bool verified = false;
        if (session is { IsValid: true, Signer: { } sessionKey } && header.IsSigned)
            verified = (session.SignerFor(connection) ?? sessionKey).Verify(request.Span);
        Smb2Response Refuse(NtStatus status, string reason)
        {
            connection.Logger.LogInformation("session binding to {SessionId:X} from {Remote} refused: {Status} ({Reason})",
                header.SessionId, connection.RemoteEndPoint, status, reason);
            var response = Smb2Response.Error(status);
            if (verified) response.SignWith = session;
            return response;
        }

        if (session is { IsValid: true, Signer: { } signer })
        {
            // AES-GMAC cannot be mixed with the other algorithms on one session: Samba 4.17 (and the Windows
            // behaviour smb2.session.bind_negative_smb3sign* encodes) refuses before any dialect check.
            bool sessionGmac = signer.Algorithm == SigningAlgorithm.AesGmac;
            bool connectionGmac = connection.Dialect == Smb2Dialect.Smb311 && connection.SigningAlgorithm == SigningAlgorithm.AesGmac;
            if (connectionGmac && !sessionGmac)
                return Refuse(NtStatus.NotSupported, $"connection signs with AES-GMAC, the session with {signer.Algorithm}");
            if (sessionGmac && !connectionGmac)
                return Refuse(NtStatus.RequestOutOfSequence, $"session signs with AES-GMAC, the connection with {connection.SigningAlgorithm}");
        }
        if (!connection.Dialect.IsSmb3())
            return Refuse(NtStatus.RequestNotAccepted, $"binding needs SMB 3.x, the connection speaks {connection.Dialect}");
        if (session is null)
            return Refuse(NtStatus.UserSessionDeleted, "no such session");
        if (session.Dialect != connection.Dialect)
            return Refuse(NtStatus.InvalidParameter, $"session dialect {session.Dialect}, connection dialect {connection.Dialect}");
        if (!header.IsSigned)
            return Refuse(NtStatus.InvalidParameter, "binding request not signed");
        if (session.State == SessionState.InProgress)
            return Refuse(NtStatus.RequestNotAccepted, "session still authenticating");
        if (session.State == SessionState.Expired)
            return Refuse(NtStatus.NetworkSessionExpired, "session expired");
        if (session.IsAnonymous || session.Signer is null)
            return Refuse(NtStatus.NotSupported, "anonymous and guest sessions cannot be bound");
        if (!verified)
            return Refuse(NtStatus.AccessDenied, "bad signature");
        if (session.HasChannel(connection))
            return Refuse(NtStatus.RequestNotAccepted, "the connection already is a channel of the session");
        if (session.Cipher is not null && connection.Cipher != session.CipherId)
            return Refuse(NtStatus.InvalidParameter, $"session cipher {session.CipherId}, connection cipher {connection.Cipher}");

        // A binding exchange of its own, with a 3.1.1 preauth hash that starts from this connection's (3.3.5.5).
        var binding = session.BindingOn(connection);
        if (binding is null)
        {
            binding = new PendingBinding(
                new SpnegoNtlmAcceptor((user, _) => server.Users.GetNtHash(user),
                    server.Identity.ServerName, server.Options.DomainName, server.Identity.ServerName.ToLowerInvariant(), server.Time),
                connection.PreauthHash?.Clone());
            session.StartBinding(connection, binding);
        }
        binding.PreauthHash?.Update(request.Span);

        var result = await AcceptThrottledAsync(request, binding.Authentication, setup).ConfigureAwait(false);

        switch (result.Status)
        {
            case GssStatus.ContinueNeeded:
            {
                var response = Body(0, result.OutputToken, NtStatus.MoreProcessingRequired);
                response.SessionIdOverride = session.SessionId;
                response.SignWith = session; // Session.SigningKey (3.3.4.1.1)
                var hash = binding.PreauthHash;
                if (hash is not null) response.OnSerialized = bytes => hash.Update(bytes);
                return response;
            }
            case GssStatus.Complete when result.IsAnonymous
                || !string.Equals(result.UserName, session.UserName, StringComparison.OrdinalIgnoreCase):
                // The credentials are fine but belong to someone else: Windows answers ACCESS_DENIED.
                session.EndBinding(connection);
                return Refuse(NtStatus.AccessDenied, $"authenticated as {(result.IsAnonymous ? "(anonymous)" : result.UserName)}, the session belongs to {session.UserName}");
            case GssStatus.Complete:
            {
                session.EndBinding(connection);
                server.Throttle.Succeeded(connection.RemoteEndPoint?.Address);
                // 3.3.5.5.3: Channel.SigningKey from the key of this exchange (3.1.1: and its preauth hash),
                // used with the algorithm this connection negotiated.
                var keys = SmbKeyDerivation.Derive(connection.Dialect, result.SessionKey ?? new byte[16],
                    binding.PreauthHash?.Value ?? [], connection.Cipher);
                session.AddChannel(connection, new Smb2Signer(connection.SigningAlgorithm, keys.SigningKey));
                connection.Sessions[session.SessionId] = session;
                connection.HasAuthenticatedSession = true;
                connection.Logger.LogInformation("session {SessionId:X} of {User}: channel bound from {Remote} ({Channels} channels, signing {Signing})",
                    session.SessionId, session.UserName, connection.RemoteEndPoint, session.Channels.Count, connection.SigningAlgorithm);
                var response = Body(session.EncryptData ? SessionSetupResponse.FlagEncryptData : (ushort)0, result.OutputToken, NtStatus.Success);
                response.SessionIdOverride = session.SessionId;
                response.SignWith = session; // the dispatcher signs a success with this connection's channel key
                return response;
            }
            default:
                session.EndBinding(connection);
                server.Throttle.Failed(connection.RemoteEndPoint?.Address);
                // A failed binding leaves the session and its other channels alone.
                return Refuse(NtStatus.LogonFailure, result.FailureReason ?? "authentication failed");
        }
    }

    private static async ValueTask<Smb2Response> FailAsync(Smb2Request request, SmbSession session, bool isNew, string reason,
        NtStatus status = NtStatus.LogonFailure)
    {
        var connection = request.Connection;
        request.Server.Throttle.Failed(connection.RemoteEndPoint?.Address);
        connection.Logger.LogWarning("log-on failed from {Remote}: {Reason}", connection.RemoteEndPoint, reason);
        session.Authentication = null;
        // 3.3.5.5.3: a failed exchange removes the session, a re-authenticated one included; the
        // answer to a re-authentication is still signed with the session's key.
        bool wasValid = session.IsValid;
        connection.Sessions.TryRemove(session.SessionId, out _);
        await request.Server.RemoveSessionAsync(session).ConfigureAwait(false);
        // A token that does not parse is STATUS_INVALID_PARAMETER, as Windows answers (Samba bug 14932).
        var response = Smb2Response.Error(status);
        response.SessionIdOverride = session.SessionId;
        if (wasValid && session.Signer is not null) response.SignWith = session;
        return response;
    }

    /// <summary>
    /// One leg of the GSS exchange, after the delay that repeated failures from this client address
    /// earned; an acceptor that throws fails the exchange (a parse error as a malformed token).
    /// </summary>
    private static async ValueTask<GssAcceptResult> AcceptThrottledAsync(Smb2Request request, SpnegoNtlmAcceptor acceptor, SessionSetupRequest setup)
    {
        var delay = request.Server.Throttle.DelayFor(request.Connection.RemoteEndPoint?.Address);
        if (delay > TimeSpan.Zero) await Task.Delay(delay, request.Cancellation).ConfigureAwait(false);
        try
        {
            return acceptor.Accept(setup.SecurityBuffer.Span);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return new GssAcceptResult { Status = GssStatus.Failed, FailureReason = ex.Message, Malformed = ex is SmbCopy.Protocol.Wire.MalformedMessageException };
        }
    }

    private static Smb2Response Body(ushort flags, byte[] token, NtStatus status)
    {
        var w = new WireWriter(16 + token.Length);
        new SessionSetupResponse { SessionFlags = flags, SecurityBuffer = token }.WriteTo(w);
        return Smb2Response.WithStatus(status, w);
    }
}
