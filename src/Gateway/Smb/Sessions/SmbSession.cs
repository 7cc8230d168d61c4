using System.Collections.Concurrent;
using SmbCopy.Protocol.Security;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Smb.Sessions;

public enum SessionState { InProgress, Valid, Expired }

/// <summary>An authenticated (or authenticating) user session (MS-SMB2 3.3.1.8).</summary>
public sealed class SmbSession : IDisposable
{
    private int _nextTreeId;
    private long _nextVolatileId;

    public SmbSession(ulong sessionId, Connection.SmbConnection connection)
    {
        SessionId = sessionId;
        Connection = connection;
    }

    public ulong SessionId { get; }
    public Connection.SmbConnection Connection { get; }
    public SessionState State { get; set; } = SessionState.InProgress;
    public DateTimeOffset CreatedAt { get; } = DateTimeOffset.UtcNow;

    /// <summary>The exchange in progress (null once complete).</summary>
    public SpnegoNtlmAcceptor? Authentication { get; set; }
    /// <summary>3.1.1 session preauth hash, while the exchange is in progress.</summary>
    public PreauthIntegrityHash? PreauthHash { get; set; }

    public string UserName { get; set; } = "";
    public string Domain { get; set; } = "";
    public bool IsAnonymous { get; set; }
    public byte[] SessionKey { get; set; } = [];
    public Smb2Signer? Signer { get; set; }
    public Smb2TransformCipher? Cipher { get; set; }
    public byte[] ApplicationKey { get; set; } = [];
    public bool SigningRequired { get; set; }
    /// <summary>Every message of this session must be encrypted (server or client requirement).</summary>
    public bool EncryptData { get; set; }

    public ConcurrentDictionary<uint, TreeConnect> Trees { get; } = new();
    public ConcurrentDictionary<ulong, SmbOpen> Opens { get; } = new();

    public uint NextTreeId() => (uint)Interlocked.Increment(ref _nextTreeId);
    public ulong NextVolatileId() => (ulong)Interlocked.Increment(ref _nextVolatileId);

    public bool IsValid => State == SessionState.Valid;

    /// <summary>Closes every open and tree connect (LOGOFF, disconnect, session teardown).</summary>
    public async ValueTask CloseAllAsync()
    {
        foreach (var open in Opens.Values)
        {
            if (Opens.TryRemove(open.VolatileId, out _))
                await open.CloseAsync().ConfigureAwait(false);
        }
        Trees.Clear();
    }

    public void Dispose()
    {
        Signer?.Dispose();
        Cipher?.Dispose();
    }
}
