using SmbCopy.Gateway.Smb.Server;

namespace SmbCopy.Gateway.Smb.Sessions;

/// <summary>A tree connect: a session's connection to one share (MS-SMB2 3.3.1.9).</summary>
public sealed class TreeConnect(uint treeId, SmbShare share, uint maximalAccess, SmbSession session)
{
    public uint TreeId { get; } = treeId;
    public SmbShare Share { get; } = share;
    public uint MaximalAccess { get; } = maximalAccess;
    public SmbSession Session { get; } = session;
    public bool EncryptData => Share.RequireEncryption;
}
