using SmbCopy.Gateway.Smb.Durable;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Tests.Durable;

/// <summary>The durable open table: reconnect checks (3.3.5.9.7, 3.3.5.9.12), purge, and the scavenger (3.3.7.1).</summary>
public sealed class DurableOpenTableTests : IDisposable
{
    private readonly DurableOpenTable _table = new(TimeProvider.System);
    private int _closed;

    private DurableState State(int version = 1, Guid createGuid = default, TimeSpan? timeout = null) => new()
    {
        PersistentId = _table.NextPersistentId(),
        Version = version,
        CreateGuid = createGuid,
        ClientGuid = Guid.NewGuid(),
        Timeout = timeout ?? DurableOpenTable.DefaultTimeout,
        OwnerUser = "alice",
        OwnerDomain = "WORKGROUP",
        ShareName = "data",
        CloseAsync = () => { Interlocked.Increment(ref _closed); return ValueTask.CompletedTask; },
    };

    public void Dispose() => _table.Dispose();

    [Fact]
    public void Persistent_ids_are_unique()
    {
        var ids = Enumerable.Range(0, 1000).Select(_ => _table.NextPersistentId()).ToHashSet();
        Assert.Equal(1000, ids.Count);
        Assert.DoesNotContain(0UL, ids);
    }

    [Fact]
    public void A_connected_open_cannot_be_reconnected()
    {
        var state = State();
        _table.Register(state);
        Assert.Equal(NtStatus.ObjectNameNotFound, DurableOpenTable.CheckReconnect(_table.Find(state.PersistentId), 1, Guid.Empty, Guid.Empty, "alice", "WORKGROUP", "data"));
    }

    [Fact]
    public void A_disconnected_open_is_reconnected_once_by_its_owner()
    {
        var state = State();
        _table.Register(state);
        _table.Disconnect(state);
        Assert.Equal(NtStatus.AccessDenied, DurableOpenTable.CheckReconnect(state, 1, Guid.Empty, Guid.Empty, "bob", "WORKGROUP", "data"));
        Assert.Equal(NtStatus.ObjectNameNotFound, DurableOpenTable.CheckReconnect(state, 1, Guid.Empty, Guid.Empty, "alice", "WORKGROUP", "other"));
        Assert.Equal(NtStatus.Success, DurableOpenTable.CheckReconnect(state, 1, Guid.Empty, Guid.Empty, "ALICE", "workgroup", "DATA"));
        Assert.True(_table.TryClaim(state));
        Assert.False(state.IsDisconnected);
        Assert.False(_table.TryClaim(state)); // a second reconnect finds it connected
        Assert.Equal(NtStatus.ObjectNameNotFound, DurableOpenTable.CheckReconnect(state, 1, Guid.Empty, Guid.Empty, "alice", "WORKGROUP", "data"));
    }

    [Fact]
    public void A_v2_reconnect_needs_the_create_guid()
    {
        var guid = Guid.NewGuid();
        var state = State(2, guid);
        _table.Register(state);
        _table.Disconnect(state);
        Assert.Equal(NtStatus.ObjectNameNotFound, DurableOpenTable.CheckReconnect(state, 2, Guid.NewGuid(), Guid.Empty, "alice", "WORKGROUP", "data"));
        Assert.Equal(NtStatus.Success, DurableOpenTable.CheckReconnect(state, 2, guid, Guid.Empty, "alice", "WORKGROUP", "data"));
    }

    [Fact]
    public void Unknown_and_closed_opens_are_not_found()
    {
        Assert.Equal(NtStatus.ObjectNameNotFound, DurableOpenTable.CheckReconnect(_table.Find(12345), 1, Guid.Empty, Guid.Empty, "alice", "WORKGROUP", "data"));
        var state = State();
        _table.Register(state);
        _table.Disconnect(state);
        _table.Remove(state);
        Assert.Null(_table.Find(state.PersistentId));
        Assert.Equal(NtStatus.ObjectNameNotFound, DurableOpenTable.CheckReconnect(state, 1, Guid.Empty, Guid.Empty, "alice", "WORKGROUP", "data"));
    }

    [Fact]
    public async Task The_scavenger_closes_a_disconnected_open_after_its_timeout_only()
    {
        var state = State(timeout: TimeSpan.FromSeconds(60));
        _table.Register(state);
        var before = DateTimeOffset.UtcNow;
        _table.Disconnect(state);
        Assert.Equal(0, await _table.ScavengeAsync(before + TimeSpan.FromSeconds(50)));
        Assert.Equal(0, _closed);
        Assert.Equal(1, await _table.ScavengeAsync(before + TimeSpan.FromSeconds(61)));
        Assert.Equal(1, _closed);
        Assert.Null(_table.Find(state.PersistentId));
        Assert.False(_table.TryClaim(state));
        Assert.Equal(0, await _table.ScavengeAsync(before + TimeSpan.FromSeconds(120)));
        Assert.Equal(1, _closed);
    }

    [Fact]
    public async Task The_scavenger_leaves_connected_and_reconnected_opens_alone()
    {
        var connected = State();
        var reconnected = State();
        _table.Register(connected);
        _table.Register(reconnected);
        _table.Disconnect(reconnected);
        Assert.True(_table.TryClaim(reconnected));
        Assert.Equal(0, await _table.ScavengeAsync(DateTimeOffset.UtcNow + TimeSpan.FromHours(1)));
        Assert.Equal(0, _closed);
    }

    [Fact]
    public async Task A_long_timeout_is_capped_for_the_scavenger()
    {
        var state = State(timeout: TimeSpan.FromMilliseconds(uint.MaxValue));
        _table.Register(state);
        var before = DateTimeOffset.UtcNow;
        _table.Disconnect(state);
        Assert.Equal(1, await _table.ScavengeAsync(before + DurableOpenTable.MaximumTimeout + TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task A_purge_closes_a_disconnected_open_once_and_never_a_connected_one()
    {
        var state = State();
        _table.Register(state);
        Assert.False(await _table.PurgeAsync(state, "test"));
        _table.Disconnect(state);
        Assert.True(await _table.PurgeAsync(state, "test"));
        Assert.False(await _table.PurgeAsync(state, "test"));
        Assert.Equal(1, _closed);
        Assert.False(_table.TryClaim(state));
    }
}
