using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using SmbCopy.Gateway.Configuration;
using SmbCopy.Gateway.Hosting;
using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Smb.Server;

/// <summary>
/// Server-wide SMB state (MS-SMB2 3.3.1.5): configuration, shares, the global session table and
/// the command handlers. One per process.
/// </summary>
public sealed class SmbServer
{
    private readonly ConcurrentDictionary<ulong, SmbSession> _sessions = new();
    private readonly ISmb2Handler?[] _handlers = new ISmb2Handler?[0x13];

    public SmbServer(IOptions<SmbCopyOptions> options, ServerIdentity identity, IUserDirectory users,
        IEnumerable<ISmb2Handler> handlers, IEnumerable<SmbCopy.Storage.IStorageDriver> drivers, ILoggerFactory loggerFactory, TimeProvider time)
    {
        Options = options.Value;
        Identity = identity;
        Users = users;
        Time = time;
        LoggerFactory = loggerFactory;
        Shares = new ShareRegistry(Options.Shares, drivers);
        var log = loggerFactory.CreateLogger<SmbServer>();
        foreach (var missing in Options.Shares.Where(o => Shares.Find(o.Name) is null))
            log.LogWarning("share {Share}: driver {Driver} is not available in this build; the share is not served", missing.Name, missing.Driver);
        Throttle = new LogonThrottle(Options.Security.FailedLogonsBeforeThrottle, time);
        foreach (var handler in handlers) _handlers[(int)handler.Command] = handler;
        DurableOpens = new Durable.DurableOpenTable(time, loggerFactory.CreateLogger<Durable.DurableOpenTable>());
    }

    /// <summary>Durable opens and the durable open scavenger (MS-SMB2 3.3.1.5 GlobalOpenTable, 3.3.7.1); issues persistent FileIds.</summary>
    public Durable.DurableOpenTable DurableOpens { get; }

    public SmbCopyOptions Options { get; }
    public ServerIdentity Identity { get; }
    public IUserDirectory Users { get; }
    public TimeProvider Time { get; }
    public ILoggerFactory LoggerFactory { get; }
    public ShareRegistry Shares { get; }
    public LogonThrottle Throttle { get; }
    public IEnumerable<SmbSession> Sessions => _sessions.Values;

    public ISmb2Handler? HandlerFor(Smb2Command command) =>
        (uint)command < (uint)_handlers.Length ? _handlers[(int)command] : null;

    /// <summary>A new, unused, nonzero session id (0 and all-ones are reserved, 3.3.5.5.1).</summary>
    public SmbSession CreateSession(Connection.SmbConnection connection)
    {
        Span<byte> bytes = stackalloc byte[8];
        while (true)
        {
            RandomNumberGenerator.Fill(bytes);
            ulong id = BitConverter.ToUInt64(bytes) & 0x0000_FFFF_FFFF_FFFFUL;
            if (id == 0) continue;
            var session = new SmbSession(id, connection);
            if (_sessions.TryAdd(id, session)) return session;
        }
    }

    public SmbSession? FindSession(ulong sessionId) => _sessions.GetValueOrDefault(sessionId);

    public async ValueTask RemoveSessionAsync(SmbSession session)
    {
        if (!_sessions.TryRemove(session.SessionId, out _)) return;
        session.State = SessionState.Expired;
        // Keys are not disposed here: the response that ends the session (LOGOFF) is still signed with them.
        await session.CloseAllAsync().ConfigureAwait(false);
    }
}
