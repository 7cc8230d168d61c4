namespace SmbCopy.Gateway.Smb.Durable;

/// <summary>
/// The durable part of an open (MS-SMB2 3.3.1.10: Open.IsDurable, DurableOpenTimeout, DurableOpenScavengerTimeout,
/// DurableOwner, CreateGuid, ClientGuid). Kept in <see cref="DurableOpenTable"/> from the grant until the open is
/// closed, purged or expires. Mutable members are guarded by the table.
/// </summary>
public sealed class DurableState
{
    public required ulong PersistentId { get; init; }
    /// <summary>1 for DHnQ, 2 for DH2Q.</summary>
    public required int Version { get; init; }
    /// <summary>DH2Q CreateGuid (Guid.Empty for v1).</summary>
    public Guid CreateGuid { get; init; }
    /// <summary>The ClientGuid of the connection that created the open (v2 reconnect and replay need the same).</summary>
    public Guid ClientGuid { get; init; }
    /// <summary>How long the open survives a disconnect.</summary>
    public required TimeSpan Timeout { get; init; }
    /// <summary>DurableOwner: the user that may reconnect (name and domain, compared case-insensitively).</summary>
    public required string OwnerUser { get; init; }
    public required string OwnerDomain { get; init; }
    /// <summary>The share the open belongs to (a reconnect on a tree of another share does not find it).</summary>
    public required string ShareName { get; init; }

    /// <summary>The open itself (null in tests of the table alone).</summary>
    public SmbCopy.Gateway.Smb.Files.FileOpen? Open { get; init; }

    /// <summary>Closes the open for good (purge, expiry): set by the gateway, a stub in tests.</summary>
    public required Func<ValueTask> CloseAsync { get; init; }

    /// <summary>Non-null while disconnected: when the scavenger closes it (DurableOpenScavengerTimeout).</summary>
    public DateTimeOffset? ExpiresAt { get; internal set; }
    public bool IsDisconnected => ExpiresAt is not null;
    /// <summary>Set once the open is closed, purged or expired: it is never handed out again.</summary>
    public bool IsGone { get; internal set; }
}
