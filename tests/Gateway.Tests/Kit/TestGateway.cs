using System.IO.Pipelines;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SmbCopy.Gateway.Configuration;
using SmbCopy.Gateway.Hosting;
using SmbCopy.Gateway.Smb.Connection;
using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Server;
using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Protocol.Security;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Storage;

namespace SmbCopy.Gateway.Tests.Kit;

/// <summary>
/// In-process gateway objects without a socket: a server (no users, the given handlers and drivers) and negotiated
/// connections whose output goes to a pipe nobody reads unless the test passes its own writer.
/// </summary>
internal static class TestGateway
{
    private sealed class NoUsers : IUserDirectory
    {
        public byte[]? GetNtHash(string user) => null;
    }

    public static SmbServer Server(SmbCopyOptions? options = null, IEnumerable<ISmb2Handler>? handlers = null,
        IEnumerable<IStorageDriver>? drivers = null) => new(
        Options.Create(options ?? new SmbCopyOptions()),
        new ServerIdentity { ServerGuid = Guid.NewGuid(), ServerName = "SRV", StartTime = DateTimeOffset.UnixEpoch },
        new NoUsers(), handlers ?? [], drivers ?? [], NullLoggerFactory.Instance, TimeProvider.System);

    /// <summary>A connection past NEGOTIATE at <paramref name="dialect"/>.</summary>
    public static SmbConnection Connect(SmbServer server, Smb2Dialect dialect = Smb2Dialect.Smb311, PipeWriter? output = null)
    {
        var connection = new SmbConnection(server, output ?? new Pipe().Writer, null, () => { }, NullLogger.Instance);
        connection.MarkNegotiated(dialect);
        return connection;
    }

    /// <summary>
    /// A valid session on <paramref name="connection"/> signed with <paramref name="key"/>, as SESSION_SETUP leaves
    /// it (no user, no tree).
    /// </summary>
    public static SmbSession SignedSession(SmbServer server, SmbConnection connection, Smb2Signer key)
    {
        var session = server.CreateSession(connection);
        connection.Sessions[session.SessionId] = session;
        session.SetSessionSigner(key);
        session.State = SessionState.Valid;
        return session;
    }
}
