using SmbCopy.Protocol.Security;

namespace SmbCopy.Gateway.Smb.Sessions;

/// <summary>
/// One channel of a session (MS-SMB2 3.3.1.14): a connection the session may be used on, with the key
/// that signs on that connection (Channel.SigningKey). Null signer: the session does not sign (anonymous,
/// or the exchange is still in progress on the connection that creates the session).
/// </summary>
public sealed class SmbChannel(Connection.SmbConnection connection, Smb2Signer? signer)
{
    public Connection.SmbConnection Connection { get; } = connection;
    public Smb2Signer? Signer { get; internal set; } = signer;
}

/// <summary>
/// A SESSION_SETUP with SMB2_SESSION_FLAG_BINDING in progress on one connection (MS-SMB2 3.3.5.5,
/// 3.3.1.7 PreauthSessionTable): its own GSS exchange and, for 3.1.1, its own preauth hash.
/// </summary>
public sealed class PendingBinding(SpnegoNtlmAcceptor authentication, PreauthIntegrityHash? preauthHash)
{
    public SpnegoNtlmAcceptor Authentication { get; } = authentication;
    public PreauthIntegrityHash? PreauthHash { get; } = preauthHash;
}
