namespace SmbCopy.Storage;

/// <summary>
/// Windows file attributes (the FILE_ATTRIBUTE_* bits, same values as [MS-FSCC] 2.6), defined here so that
/// Storage needs nothing from the SMB side.
/// </summary>
[Flags]
public enum StorageFileAttributes : uint
{
    None = 0,
    ReadOnly = 0x0000_0001,
    Hidden = 0x0000_0002,
    System = 0x0000_0004,
    Directory = 0x0000_0010,
    Archive = 0x0000_0020,
    /// <summary>No other attribute is set (only ever reported alone).</summary>
    Normal = 0x0000_0080,
    Temporary = 0x0000_0100,
    SparseFile = 0x0000_0200,
    ReparsePoint = 0x0000_0400,
    Compressed = 0x0000_0800,
    Offline = 0x0000_1000,
    NotContentIndexed = 0x0000_2000,
    Encrypted = 0x0000_4000,

    /// <summary>The attributes a client may set with SetInfo and that a driver persists.</summary>
    Settable = ReadOnly | Hidden | System | Archive | Temporary | Offline | NotContentIndexed,
}
