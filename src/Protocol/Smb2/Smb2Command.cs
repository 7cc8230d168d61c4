namespace SmbCopy.Protocol.Smb2;

/// <summary>MS-SMB2 2.2.1.2 command codes.</summary>
public enum Smb2Command : ushort
{
    Negotiate = 0x00,
    SessionSetup = 0x01,
    Logoff = 0x02,
    TreeConnect = 0x03,
    TreeDisconnect = 0x04,
    Create = 0x05,
    Close = 0x06,
    Flush = 0x07,
    Read = 0x08,
    Write = 0x09,
    Lock = 0x0A,
    Ioctl = 0x0B,
    Cancel = 0x0C,
    Echo = 0x0D,
    QueryDirectory = 0x0E,
    ChangeNotify = 0x0F,
    QueryInfo = 0x10,
    SetInfo = 0x11,
    OplockBreak = 0x12,
}

/// <summary>MS-SMB2 2.2.3 dialect revisions.</summary>
public enum Smb2Dialect : ushort
{
    None = 0,
    Smb202 = 0x0202,
    Smb210 = 0x0210,
    Smb300 = 0x0300,
    Smb302 = 0x0302,
    Smb311 = 0x0311,
    /// <summary>Answer to an SMB1 NEGOTIATE offering "SMB 2.???" (3.3.5.3.1).</summary>
    Wildcard = 0x02FF,
}

public static class Smb2DialectExtensions
{
    public static bool IsSmb3(this Smb2Dialect d) => d >= Smb2Dialect.Smb300 && d != Smb2Dialect.Wildcard;
}

/// <summary>MS-SMB2 2.2.1.2 header flags.</summary>
[Flags]
public enum Smb2Flags : uint
{
    None = 0,
    ServerToRedir = 0x1,
    AsyncCommand = 0x2,
    RelatedOperations = 0x4,
    Signed = 0x8,
    PriorityMask = 0x70,
    DfsOperations = 0x10000000,
    ReplayOperation = 0x20000000,
}
