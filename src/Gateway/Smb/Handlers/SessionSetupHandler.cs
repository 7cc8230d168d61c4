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
        {
            // No multichannel (3.3.5.5: binding without MULTI_CHANNEL). The answer is signed with the
            // session's key when the session exists, as the client verifies it with that key.
            var bound = server.FindSession(request.Header.SessionId);
            var refused = Smb2Response.Error(NtStatus.RequestNotAccepted);
            if (bound is { IsValid: true, Signer: not null } && request.Header.IsSigned) refused.SignWith = bound;
            return refused;
        }

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
            if (found is null || found.State == SessionState.Expired || !ReferenceEquals(found.Connection, connection))
                return Smb2Response.Error(NtStatus.UserSessionDeleted);
            session = found;
            if (session.IsValid && session.Authentication is null)
            {
                // Re-authentication (3.3.5.5.2): a new exchange on a valid session; keys stay as they are.
                if (request.Header.IsSigned && (session.Signer is null || !session.Signer.Verify(request.Span)))
                    return Smb2Response.Error(NtStatus.AccessDenied);
                session.PreauthHash = null;
            }
        }
        request.Session = session;
        session.PreauthHash?.Update(request.Span);

        session.Authentication ??= new SpnegoNtlmAcceptor(
            (user, _) => server.Users.GetNtHash(user),
            server.Identity.ServerName, server.Options.DomainName, server.Identity.ServerName.ToLowerInvariant(), server.Time);

        var delay = server.Throttle.DelayFor(connection.RemoteEndPoint?.Address);
        if (delay > TimeSpan.Zero) await Task.Delay(delay, request.Cancellation).ConfigureAwait(false);

        GssAcceptResult result;
        try
        {
            result = session.Authentication.Accept(setup.SecurityBuffer.Span);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            result = new GssAcceptResult { Status = GssStatus.Failed, FailureReason = ex.Message };
        }

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
                return Complete(request, session, setup, result);
            default:
                return await FailAsync(request, session, isNew, result.FailureReason ?? "authentication failed").ConfigureAwait(false);
        }
    }

    private static Smb2Response Complete(Smb2Request request, SmbSession session, SessionSetupRequest setup, GssAcceptResult result)
    {
        var connection = request.Connection;
        var server = request.Server;
        bool reauth = session.IsValid;
        if (reauth && !string.Equals(session.UserName, result.UserName, StringComparison.OrdinalIgnoreCase))
        {
            // Windows refuses re-authentication as a different user.
            session.Authentication = null;
            return Smb2Response.Error(NtStatus.AccessDenied);
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
                session.Signer = new Smb2Signer(connection.SigningAlgorithm, keys.SigningKey);
                bool clientRequires = (setup.SecurityMode & NegotiateHandler.SigningRequired) != 0;
                session.SigningRequired = server.Options.Security.RequireSigning || clientRequires || dialect == Smb2Dialect.Smb311;
                if (dialect.IsSmb3() && connection.Cipher != CipherId.None)
                {
                    session.Cipher = new Smb2TransformCipher(connection.Cipher, keys.EncryptionKey, keys.DecryptionKey);
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

    private static async ValueTask<Smb2Response> FailAsync(Smb2Request request, SmbSession session, bool isNew, string reason)
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
        var response = Smb2Response.Error(NtStatus.LogonFailure);
        response.SessionIdOverride = session.SessionId;
        if (wasValid && session.Signer is not null) response.SignWith = session;
        return response;
    }

    private static Smb2Response Body(ushort flags, byte[] token, NtStatus status)
    {
        var w = new WireWriter(16 + token.Length);
        new SessionSetupResponse { SessionFlags = flags, SecurityBuffer = token }.WriteTo(w);
        return Smb2Response.WithStatus(status, w);
    }
}
