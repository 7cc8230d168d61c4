using SmbCopy.Gateway.Smb.Connection;
using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Durable;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Gateway.Smb.Server;
using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Gateway.Tests.Kit;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Storage;
using StorageDisposition = SmbCopy.Storage.CreateDisposition;

namespace SmbCopy.Gateway.Tests.Durable;

/// <summary>
/// Durable opens on a real share: the grant, what a lost connection / LOGOFF does to them (kept with their handle,
/// locks and oplock) and the reconnect from a new session (same persistent FileId, same data), MS-SMB2 3.3.5.9.6/.7,
/// 3.3.7.1.
/// </summary>
public sealed class DurableSessionTests : IAsyncDisposable
{
    private readonly LocalShareKit _kit = new("durable-");
    private SmbServer Server => _kit.Server;

    public ValueTask DisposeAsync() => _kit.DisposeAsync();

    private LocalShareClient LogOn(string user = "alice") => _kit.LogOn(user);

    private Smb2Request Request(SmbConnection connection, SmbSession session, TreeConnect tree) =>
        _kit.Request(connection, session, tree, Smb2Command.Create);

    /// <summary>What FileCreate does for a batch-oplock open of "file.dat", then the durable grant.</summary>
    private async Task<(FileOpen Open, CreateResponseContext? Durable)> OpenBatchAsync(SmbConnection connection, SmbSession session,
        TreeConnect tree, params CreateContext[] contexts)
    {
        var volume = await tree.Share.GetVolumeAsync();
        var opened = await volume.OpenAsync("file.dat", new OpenRequest(StorageDisposition.OpenIf, StorageAccess.Read | StorageAccess.Write, ObjectKind.File));
        var node = tree.Share.Nodes.Acquire(opened.Handle.FileId);
        ulong id = session.NextVolatileId();
        var open = new FileOpen(Server.DurableOpens.NextPersistentId(), id, tree, AccessMask.FileReadData | AccessMask.FileWriteData,
            ShareAccess.None, opened.Handle, node, volume);
        OplockLevel granted;
        lock (node.Gate)
        {
            node.AddOpen(open);
            granted = Oplocks.Grant(node, open, OplockLevel.Batch);
        }
        session.Opens[id] = open;
        var durable = DurableOpens.Grant(Request(connection, session, tree), DurableRequestTests.Create(contexts), open, granted);
        return (open, durable);
    }

    private static DurableRequest Reconnect(params CreateContext[] contexts) =>
        DurableRequest.Parse(DurableRequestTests.Create(contexts), Smb2Dialect.Smb311).Request;

    [Fact]
    public async Task A_batch_open_with_DHnQ_is_durable_and_answers_the_context()
    {
        var (connection, session, tree) = LogOn();
        var (open, durable) = await OpenBatchAsync(connection, session, tree, DurableRequestTests.Dhnq());
        Assert.NotNull(durable);
        Assert.Equal(CreateContextNames.DurableHandleRequest, durable.Value.Name);
        Assert.Equal(8, durable.Value.Data.Length);
        Assert.NotNull(open.Durable);
        Assert.Same(open.Durable, Server.DurableOpens.Find(open.PersistentId));
        await open.CloseAsync();
        Assert.Null(Server.DurableOpens.Find(open.PersistentId)); // closed by its client: not reconnectable
    }

    [Fact]
    public async Task A_second_open_without_batch_is_not_durable()
    {
        var (connection, session, tree) = LogOn();
        var (first, _) = await OpenBatchAsync(connection, session, tree);
        var (second, durable) = await OpenBatchAsync(connection, session, tree, DurableRequestTests.Dh2q(0, Guid.NewGuid()));
        Assert.Null(durable); // the first open holds the file: no batch oplock, so no durability
        Assert.Null(second.Durable);
        await second.CloseAsync();
        await first.CloseAsync();
    }

    [Fact]
    public async Task Connection_loss_keeps_the_durable_open_its_lock_and_handle_and_a_new_session_reconnects_it()
    {
        var (connection, session, tree) = LogOn();
        var (open, _) = await OpenBatchAsync(connection, session, tree, DurableRequestTests.Dhnq());
        await open.Handle.WriteAsync(0, "durable data"u8.ToArray());
        lock (open.Node.Gate) Assert.True(open.Node.TryLock(new ByteRangeLock(open, 0, 10, Exclusive: true)));
        ulong persistent = open.PersistentId;

        await connection.DisposeSessionsAsync(); // the TCP connection went away

        Assert.Equal(1, Server.DurableOpens.DisconnectedCount);
        Assert.True(open.Durable!.IsDisconnected);
        lock (open.Node.Gate)
        {
            Assert.True(open.Node.HasOpen(open));        // share modes and oplock stay on the file
            Assert.Equal(1, open.Node.LockCount);        // and so does the byte-range lock
        }
        Assert.True(open.Node.IoConflicts(new object(), 0, 1, write: false));
        var buffer = new byte[12];
        Assert.Equal(12, await open.Handle.ReadAsync(0, buffer)); // the storage handle is still open
        Assert.Equal("durable data"u8.ToArray(), buffer);

        var (connection2, session2, tree2) = LogOn();
        var response = await DurableOpens.ReconnectAsync(Request(connection2, session2, tree2),
            Reconnect(DurableRequestTests.Dhnc(persistent, 999)));
        Assert.Equal(NtStatus.Success, response.Status);
        Assert.Same(open, response.CreatedOpen);
        Assert.Equal(persistent, open.PersistentId);
        Assert.Same(tree2, open.Tree);
        Assert.Same(open, session2.Opens[open.VolatileId]);
        Assert.False(open.Durable.IsDisconnected);
        Assert.Equal(OplockLevel.Batch, open.Oplock);
        lock (open.Node.Gate) Assert.Equal(1, open.Node.LockCount);
        Assert.Equal(12, await open.Handle.ReadAsync(0, buffer));

        // Reconnecting again while it is connected finds nothing.
        var again = await DurableOpens.ReconnectAsync(Request(connection2, session2, tree2), Reconnect(DurableRequestTests.Dhnc(persistent, 999)));
        Assert.Equal(NtStatus.ObjectNameNotFound, again.Status);
        await open.CloseAsync();
    }

    [Fact]
    public async Task Another_user_cannot_reconnect_and_a_non_durable_open_is_closed_at_disconnect()
    {
        var (connection, session, tree) = LogOn();
        var (durableOpen, _) = await OpenBatchAsync(connection, session, tree, DurableRequestTests.Dhnq());
        await session.CloseAllAsync(); // LOGOFF
        Assert.True(durableOpen.Durable!.IsDisconnected);

        var (connection2, session2, tree2) = LogOn("bob");
        var denied = await DurableOpens.ReconnectAsync(Request(connection2, session2, tree2), Reconnect(DurableRequestTests.Dhnc(durableOpen.PersistentId, 0)));
        Assert.Equal(NtStatus.AccessDenied, denied.Status);
        Assert.True(durableOpen.Durable.IsDisconnected); // still waiting for its owner

        // The scavenger ends it once its timeout has passed.
        Assert.Equal(1, await Server.DurableOpens.ScavengeAsync(DateTimeOffset.UtcNow + DurableOpenTable.DefaultTimeout + TimeSpan.FromSeconds(1)));
        Assert.False(durableOpen.Node.HasOpen(durableOpen));

        var (connection3, session3, tree3) = LogOn();
        var (plain, durable) = await OpenBatchAsync(connection3, session3, tree3);
        Assert.Null(durable);
        await connection3.DisposeSessionsAsync();
        Assert.False(plain.Node.HasOpen(plain)); // not durable: closed with its session
    }

    [Fact]
    public async Task A_delete_on_close_durable_open_is_not_kept()
    {
        var (connection, session, tree) = LogOn();
        var (open, _) = await OpenBatchAsync(connection, session, tree, DurableRequestTests.Dhnq());
        open.DeleteOnClose = true;
        await connection.DisposeSessionsAsync();
        Assert.Equal(0, Server.DurableOpens.Count);
        Assert.False(File.Exists(Path.Combine(_kit.Root, "file.dat")));
    }

    [Fact]
    public async Task A_conflicting_open_purges_a_disconnected_durable_open()
    {
        var (connection, session, tree) = LogOn();
        var (open, _) = await OpenBatchAsync(connection, session, tree, DurableRequestTests.Dhnq());
        ulong persistent = open.PersistentId;
        await connection.DisposeSessionsAsync();

        bool broke = await Oplocks.BreakForOpenAsync(open.Node, toNone: false, () => ValueTask.CompletedTask, CancellationToken.None);
        Assert.True(broke);
        Assert.False(open.Node.HasOpen(open));
        var (connection2, session2, tree2) = LogOn();
        var response = await DurableOpens.ReconnectAsync(Request(connection2, session2, tree2), Reconnect(DurableRequestTests.Dhnc(persistent, 0)));
        Assert.Equal(NtStatus.ObjectNameNotFound, response.Status);
    }

    [Fact]
    public async Task An_open_that_disconnects_while_its_break_is_in_flight_is_purged_too()
    {
        var (connection, session, tree) = LogOn();
        var (open, _) = await OpenBatchAsync(connection, session, tree, DurableRequestTests.Dhnq());
        connection.Close("test: the TCP connection is gone, the session not torn down yet");
        // The session teardown lands between the conflicting open's check and its break notification.
        bool broke = await Oplocks.BreakForOpenAsync(open.Node, toNone: false, () =>
        {
            Server.DurableOpens.Disconnect(open.Durable!);
            return ValueTask.CompletedTask;
        }, CancellationToken.None);
        Assert.True(broke);
        Assert.False(open.Node.HasOpen(open)); // no share-mode conflict left behind for 60 s
        Assert.Equal(0, Server.DurableOpens.Count);
    }

    [Fact]
    public async Task A_v2_open_reconnects_only_with_its_create_guid()
    {
        var (connection, session, tree) = LogOn();
        var guid = Guid.NewGuid();
        var (open, durable) = await OpenBatchAsync(connection, session, tree, DurableRequestTests.Dh2q(0, guid));
        Assert.Equal(CreateContextNames.DurableHandleRequestV2, durable!.Value.Name);
        Assert.Equal(60_000u, BitConverter.ToUInt32(durable.Value.Data.Span));
        Assert.Equal(0u, BitConverter.ToUInt32(durable.Value.Data.Span[4..])); // never persistent
        await connection.DisposeSessionsAsync();

        var (connection2, session2, tree2) = LogOn();
        var wrong = await DurableOpens.ReconnectAsync(Request(connection2, session2, tree2), Reconnect(DurableRequestTests.Dh2c(open.PersistentId, Guid.NewGuid())));
        Assert.Equal(NtStatus.ObjectNameNotFound, wrong.Status);
        var right = await DurableOpens.ReconnectAsync(Request(connection2, session2, tree2), Reconnect(DurableRequestTests.Dh2c(open.PersistentId, guid)));
        Assert.Equal(NtStatus.Success, right.Status);
        await open.CloseAsync();
    }

    [Fact]
    public void Lock_sequences_are_checked_for_durable_opens_and_on_smb3_multichannel_connections()
    {
        var (connection, _, _) = LogOn();
        connection.ServerCapabilities = 0;
        var open = (FileOpen)System.Runtime.CompilerServices.RuntimeHelpers.GetUninitializedObject(typeof(FileOpen));
        Assert.False(SmbCopy.Gateway.Smb.Handlers.LockHandler.VerifiesLockSequence(open, connection));
        connection.ServerCapabilities = SmbCopy.Gateway.Smb.Handlers.NegotiateHandler.CapMultiChannel;
        Assert.True(SmbCopy.Gateway.Smb.Handlers.LockHandler.VerifiesLockSequence(open, connection));
        connection.ServerCapabilities = 0;
        open.Durable = new DurableState
        {
            PersistentId = 1, Version = 1, Timeout = TimeSpan.FromSeconds(1), OwnerUser = "", OwnerDomain = "", ShareName = "",
            CloseAsync = () => ValueTask.CompletedTask,
        };
        Assert.True(SmbCopy.Gateway.Smb.Handlers.LockHandler.VerifiesLockSequence(open, connection));
    }
}
