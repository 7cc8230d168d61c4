namespace SmbCopy.Gateway.Smb.Sessions;

/// <summary>
/// An open (MS-SMB2 3.3.1.10): what a FileId names. Files, directories and named pipes derive from it.
/// </summary>
public abstract class SmbOpen(ulong persistentId, ulong volatileId, TreeConnect tree, uint grantedAccess)
{
    public ulong PersistentId { get; } = persistentId;
    public ulong VolatileId { get; private set; } = volatileId;
    public TreeConnect Tree { get; private set; } = tree;
    public uint GrantedAccess { get; } = grantedAccess;
    public SmbSession Session => Tree.Session;
    /// <summary>Share-relative name as the client opened it (for logs and the status page).</summary>
    public abstract string DisplayName { get; }

    public bool HasAccess(uint rights) => (GrantedAccess & rights) != 0;

    public abstract ValueTask CloseAsync();

    /// <summary>
    /// A durable reconnect (MS-SMB2 3.3.5.9.7, 3.3.5.9.12) moves the open to the reconnecting session's tree with a
    /// new volatile FileId; the persistent FileId stays.
    /// </summary>
    public void Rebind(TreeConnect tree, ulong volatileId)
    {
        Tree = tree;
        VolatileId = volatileId;
    }
}
