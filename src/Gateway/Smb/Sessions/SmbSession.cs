using System.Collections.Concurrent;
using SmbCopy.Protocol.Security;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Smb.Sessions;

public enum SessionState { InProgress, Valid, Expired }

/// <summary>
/// An authenticated (or authenticating) user session (MS-SMB2 3.3.1.8). A session is usable from each
/// connection in its channel list (3.3.1.14; SMB 3.x multichannel binds more connections to it, 3.3.5.5);
/// it ends on LOGOFF, or when the connection of its last channel closes.
/// </summary>
public sealed class SmbSession : IDisposable
{
    private readonly ConcurrentDictionary<Connection.SmbConnection, SmbChannel> _channels = new();
    private readonly ConcurrentDictionary<Connection.SmbConnection, PendingBinding> _bindings = new();
    private int _nextTreeId;
    private long _nextVolatileId;
    private int _disposed;

    public SmbSession(ulong sessionId, Connection.SmbConnection connection)
    {
        SessionId = sessionId;
        EstablishedOn = connection;
        Dialect = connection.Dialect;
        // The connection that creates the session is its first channel; its key comes with the log-on.
        _channels[connection] = new SmbChannel(connection, null);
    }

    public ulong SessionId { get; }
    /// <summary>Session.Connection of the spec: the connection the session was established on (its dialect and algorithms are the session's).</summary>
    public Connection.SmbConnection EstablishedOn { get; }
    /// <summary>Dialect of the connection that established the session (binding requires the same, 3.3.5.5).</summary>
    public Smb2Dialect Dialect { get; }

    /// <summary>
    /// A live connection of this session, for what the server sends unasked (oplock breaks): the establishing
    /// connection while it is open, else any other open channel's connection.
    /// </summary>
    public Connection.SmbConnection Connection
    {
        get
        {
            if (!EstablishedOn.IsClosed) return EstablishedOn;
            foreach (var channel in _channels.Values)
                if (!channel.Connection.IsClosed) return channel.Connection;
            return EstablishedOn;
        }
    }

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
    /// <summary>Signs with Session.SigningKey (2.x: the session key) and the session's algorithm: binding requests and non-success SESSION_SETUP responses (3.3.5.2.4, 3.3.4.1.1).</summary>
    public Smb2Signer? Signer { get; private set; }
    public Smb2TransformCipher? Cipher { get; set; }
    /// <summary>The cipher the session's keys were made for (binding needs a connection with the same one).</summary>
    public CipherId CipherId { get; set; }
    public byte[] ApplicationKey { get; set; } = [];
    public bool SigningRequired { get; set; }
    /// <summary>Every message of this session must be encrypted (server or client requirement).</summary>
    public bool EncryptData { get; set; }

    public ConcurrentDictionary<uint, TreeConnect> Trees { get; } = new();
    public ConcurrentDictionary<ulong, SmbOpen> Opens { get; } = new();

    public uint NextTreeId() => (uint)Interlocked.Increment(ref _nextTreeId);
    public ulong NextVolatileId() => (ulong)Interlocked.Increment(ref _nextVolatileId);

    public bool IsValid => State == SessionState.Valid;

    public IReadOnlyCollection<SmbChannel> Channels => _channels.Values.ToArray();

    /// <summary>True when requests for this session may arrive on <paramref name="connection"/> (3.3.5.2.9 with multichannel).</summary>
    public bool HasChannel(Connection.SmbConnection connection) => _channels.ContainsKey(connection);

    /// <summary>Channel.SigningKey for <paramref name="connection"/> (3.3.4.1.1, 3.3.5.2.4); null when it has no channel or does not sign.</summary>
    public Smb2Signer? SignerFor(Connection.SmbConnection connection) =>
        _channels.TryGetValue(connection, out var channel) ? channel.Signer : null;

    /// <summary>The log-on completed: Session.SigningKey, which is also the first channel's key.</summary>
    public void SetSessionSigner(Smb2Signer signer)
    {
        Signer = signer;
        if (_channels.TryGetValue(EstablishedOn, out var first)) first.Signer = signer;
    }

    /// <summary>A binding completed (3.3.5.5.3): <paramref name="connection"/> becomes a channel with its own key.</summary>
    public void AddChannel(Connection.SmbConnection connection, Smb2Signer? signer)
    {
        _bindings.TryRemove(connection, out _);
        if (_channels.TryGetValue(connection, out var existing))
        {
            if (!ReferenceEquals(existing.Signer, signer) && !ReferenceEquals(existing.Signer, Signer)) existing.Signer?.Dispose();
            existing.Signer = signer;
            return;
        }
        _channels[connection] = new SmbChannel(connection, signer);
    }

    /// <summary>
    /// <paramref name="connection"/> went away: drops its channel and any binding in progress on it.
    /// True when no channel is left, i.e. the session must end.
    /// </summary>
    public bool RemoveChannel(Connection.SmbConnection connection)
    {
        _bindings.TryRemove(connection, out _);
        if (_channels.TryRemove(connection, out var channel) && channel.Signer is not null && !ReferenceEquals(channel.Signer, Signer))
        {
            // A bound channel's own key; nothing else signs with it once its connection is gone.
            channel.Signer.Dispose();
        }
        return _channels.IsEmpty;
    }

    /// <summary>The binding exchange in progress on <paramref name="connection"/>, if any (3.3.1.7 PreauthSessionTable).</summary>
    public PendingBinding? BindingOn(Connection.SmbConnection connection) => _bindings.GetValueOrDefault(connection);

    public void StartBinding(Connection.SmbConnection connection, PendingBinding binding) => _bindings[connection] = binding;

    public void EndBinding(Connection.SmbConnection connection) => _bindings.TryRemove(connection, out _);

    /// <summary>
    /// Closes every open and tree connect (LOGOFF, disconnect, session teardown). Durable opens are kept,
    /// disconnected, for a reconnect from a new session (MS-SMB2 3.3.7.1; Windows and Samba also on LOGOFF).
    /// </summary>
    public async ValueTask CloseAllAsync()
    {
        foreach (var open in Opens.Values)
        {
            if (!Opens.TryRemove(open.VolatileId, out _)) continue;
            if (open is Files.FileOpen file && Durable.DurableOpens.TryDisconnect(file)) continue;
            await open.CloseAsync().ConfigureAwait(false);
        }
        Trees.Clear();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        foreach (var channel in _channels.Values)
            if (!ReferenceEquals(channel.Signer, Signer)) channel.Signer?.Dispose();
        Signer?.Dispose();
        Cipher?.Dispose();
    }
}
