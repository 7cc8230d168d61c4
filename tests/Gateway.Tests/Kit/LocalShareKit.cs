using System.IO.Pipelines;
using SmbCopy.Gateway.Configuration;
using SmbCopy.Gateway.Smb.Connection;
using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Server;
using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Storage.Local;

namespace SmbCopy.Gateway.Tests.Kit;

/// <summary>
/// A real share "data" on a local temp directory, configured as the gateway configures it (LocalStorageDriver),
/// and logged-on clients with a tree connected to it: what tests of FileCreate and the handlers above it need.
/// Disposing stops the durable-open table and deletes the directory; closing the clients' sessions is left to the
/// tests (some keep opens alive on purpose, as durable handles).
/// </summary>
internal sealed class LocalShareKit : IAsyncDisposable
{
    public const string ShareName = "data";

    public string Root { get; }
    public SmbServer Server { get; }

    public LocalShareKit(string prefix)
    {
        Root = System.IO.Directory.CreateTempSubdirectory(prefix).FullName;
        var options = new SmbCopyOptions();
        options.Shares.Add(new ShareOptions { Name = ShareName, Path = Root });
        Server = TestGateway.Server(options, drivers: [new LocalStorageDriver()]);
    }

    /// <summary>
    /// A new SMB 3.1.1 connection with a valid session of <paramref name="user"/> and a full-access tree on the
    /// share, as NEGOTIATE, SESSION_SETUP and TREE_CONNECT leave them.
    /// </summary>
    public LocalShareClient LogOn(string user = "alice", PipeWriter? output = null)
    {
        var connection = TestGateway.Connect(Server, Smb2Dialect.Smb311, output);
        connection.ClientGuid = Guid.NewGuid();
        var session = Server.CreateSession(connection);
        connection.Sessions[session.SessionId] = session;
        session.UserName = user;
        session.Domain = "WORKGROUP";
        session.State = SessionState.Valid;
        var tree = new TreeConnect(session.NextTreeId(), Server.Shares.Find(ShareName)!, (uint)AccessMask.FileAllAccess, session);
        session.Trees[tree.TreeId] = tree;
        return new LocalShareClient(this, connection, session, tree);
    }

    /// <summary>A request on <paramref name="tree"/>, as the dispatcher hands it to a handler.</summary>
    public Smb2Request Request(SmbConnection connection, SmbSession session, TreeConnect tree, Smb2Command command,
        byte[]? message = null) => new()
    {
        Connection = connection,
        Server = Server,
        Header = new Smb2Header { Command = command },
        Message = message ?? new byte[Smb2Header.Size],
        Session = session,
        Tree = tree,
    };

    public ValueTask DisposeAsync()
    {
        Server.DurableOpens.Dispose();
        System.IO.Directory.Delete(Root, recursive: true);
        return ValueTask.CompletedTask;
    }
}

/// <summary>One logged-on client of a <see cref="LocalShareKit"/>: its connection, session and tree.</summary>
internal sealed class LocalShareClient(LocalShareKit kit, SmbConnection connection, SmbSession session, TreeConnect tree)
{
    public SmbConnection Connection { get; } = connection;
    public SmbSession Session { get; } = session;
    public TreeConnect Tree { get; } = tree;

    public Smb2Request Request(Smb2Command command, byte[]? message = null) => kit.Request(Connection, Session, Tree, command, message);

    public void Deconstruct(out SmbConnection connection, out SmbSession session, out TreeConnect tree) =>
        (connection, session, tree) = (Connection, Session, Tree);
}
