namespace SmbCopy.Protocol.Fscc;

/// <summary>MS-FSCC 2.4 file information classes (QUERY_INFO/SET_INFO InfoType FILE, QUERY_DIRECTORY).</summary>
public enum FileInformationClass : byte
{
    Directory = 1,
    FullDirectory = 2,
    BothDirectory = 3,
    Basic = 4,
    Standard = 5,
    Internal = 6,
    Ea = 7,
    Access = 8,
    Name = 9,
    Rename = 10,
    Link = 11,
    Names = 12,
    Disposition = 13,
    Position = 14,
    FullEa = 15,
    Mode = 16,
    Alignment = 17,
    All = 18,
    Allocation = 19,
    EndOfFile = 20,
    AlternateName = 21,
    Stream = 22,
    Pipe = 23,
    PipeLocal = 24,
    PipeRemote = 25,
    Compression = 28,
    ObjectId = 29,
    QuotaInformation = 32,
    ReparsePoint = 33,
    NetworkOpen = 34,
    AttributeTag = 35,
    IdBothDirectory = 37,
    IdFullDirectory = 38,
    ValidDataLength = 39,
    ShortName = 40,
    SfioReserve = 44,
    SfioVolume = 45,
    HardLink = 46,
    NormalizedName = 48,
    IdGlobalTxDirectory = 50,
    StandardLink = 54,
    Id = 59,
    IdExtdDirectory = 60,
    DispositionEx = 64,
    RenameEx = 65,
    IdAllExtdDirectory = 78,
    IdAllExtdBothDirectory = 81,
}

/// <summary>MS-FSCC 2.5 file system information classes (QUERY_INFO InfoType FILESYSTEM).</summary>
public enum FsInformationClass : byte
{
    Volume = 1,
    Label = 2,
    Size = 3,
    Device = 4,
    Attribute = 5,
    Control = 6,
    FullSize = 7,
    ObjectId = 8,
    DriverPath = 9,
    VolumeFlags = 10,
    SectorSize = 11,
}

/// <summary>MS-SMB2 2.2.37 InfoType.</summary>
public enum InfoType : byte
{
    File = 1,
    FileSystem = 2,
    Security = 3,
    Quota = 4,
}

/// <summary>MS-FSCC 2.6 file attributes.</summary>
[Flags]
public enum FileAttributes : uint
{
    None = 0,
    ReadOnly = 0x1,
    Hidden = 0x2,
    System = 0x4,
    Directory = 0x10,
    Archive = 0x20,
    Normal = 0x80,
    Temporary = 0x100,
    SparseFile = 0x200,
    ReparsePoint = 0x400,
    Compressed = 0x800,
    Offline = 0x1000,
    NotContentIndexed = 0x2000,
    Encrypted = 0x4000,
    IntegrityStream = 0x8000,
    NoScrubData = 0x20000,
    RecallOnOpen = 0x40000,
    Pinned = 0x80000,
    Unpinned = 0x100000,
    RecallOnDataAccess = 0x400000,
}

/// <summary>MS-SMB2 2.2.13 CreateDisposition.</summary>
public enum CreateDisposition : uint
{
    Supersede = 0,
    Open = 1,
    Create = 2,
    OpenIf = 3,
    Overwrite = 4,
    OverwriteIf = 5,
}

/// <summary>MS-SMB2 2.2.14 CreateAction.</summary>
public enum CreateAction : uint
{
    Superseded = 0,
    Opened = 1,
    Created = 2,
    Overwritten = 3,
}

/// <summary>MS-SMB2 2.2.13 CreateOptions.</summary>
[Flags]
public enum CreateOptions : uint
{
    None = 0,
    DirectoryFile = 0x1,
    WriteThrough = 0x2,
    SequentialOnly = 0x4,
    NoIntermediateBuffering = 0x8,
    SynchronousIoAlert = 0x10,
    SynchronousIoNonAlert = 0x20,
    NonDirectoryFile = 0x40,
    CompleteIfOplocked = 0x100,
    NoEaKnowledge = 0x200,
    OpenRemoteInstance = 0x400,
    RandomAccess = 0x800,
    DeleteOnClose = 0x1000,
    OpenByFileId = 0x2000,
    OpenForBackupIntent = 0x4000,
    NoCompression = 0x8000,
    OpenRequiringOplock = 0x10000,
    DisallowExclusive = 0x20000,
    ReserveOpfilter = 0x100000,
    OpenReparsePoint = 0x200000,
    OpenNoRecall = 0x400000,
    OpenForFreeSpaceQuery = 0x800000,
}

/// <summary>MS-SMB2 2.2.13 ShareAccess.</summary>
[Flags]
public enum ShareAccess : uint
{
    None = 0,
    Read = 0x1,
    Write = 0x2,
    Delete = 0x4,
}

/// <summary>MS-FSCC 2.5.1 FileSystemAttributes.</summary>
[Flags]
public enum FileSystemAttributes : uint
{
    None = 0,
    CaseSensitiveSearch = 0x1,
    CasePreservedNames = 0x2,
    UnicodeOnDisk = 0x4,
    PersistentAcls = 0x8,
    FileCompression = 0x10,
    VolumeQuotas = 0x20,
    SupportsSparseFiles = 0x40,
    SupportsReparsePoints = 0x80,
    SupportsRemoteStorage = 0x100,
    VolumeIsCompressed = 0x8000,
    SupportsObjectIds = 0x10000,
    SupportsEncryption = 0x20000,
    NamedStreams = 0x40000,
    ReadOnlyVolume = 0x80000,
    SequentialWriteOnce = 0x100000,
    SupportsTransactions = 0x200000,
    SupportsHardLinks = 0x400000,
    SupportsExtendedAttributes = 0x800000,
    SupportsOpenByFileId = 0x1000000,
    SupportsUsnJournal = 0x2000000,
    SupportsIntegrityStreams = 0x4000000,
    SupportsBlockRefcounting = 0x8000000,
    SupportsSparseVdl = 0x10000000,
}

/// <summary>MS-SMB2 2.2.13 / 2.2.14 oplock levels.</summary>
public enum OplockLevel : byte
{
    None = 0,
    LevelII = 1,
    Exclusive = 8,
    Batch = 9,
    Lease = 0xFF,
}

/// <summary>MS-FSCC 2.7.1 FILE_NOTIFY_INFORMATION Action.</summary>
public enum FileAction : uint
{
    Added = 1,
    Removed = 2,
    Modified = 3,
    RenamedOldName = 4,
    RenamedNewName = 5,
    AddedStream = 6,
    RemovedStream = 7,
    ModifiedStream = 8,
}

/// <summary>MS-SMB2 2.2.35 CompletionFilter.</summary>
[Flags]
public enum CompletionFilter : uint
{
    None = 0,
    FileName = 0x1,
    DirName = 0x2,
    Attributes = 0x4,
    Size = 0x8,
    LastWrite = 0x10,
    LastAccess = 0x20,
    Creation = 0x40,
    Ea = 0x80,
    Security = 0x100,
    StreamName = 0x200,
    StreamSize = 0x400,
    StreamWrite = 0x800,
}

/// <summary>MS-DTYP 2.4.7 SECURITY_INFORMATION / SMB2 AdditionalInformation bits for InfoType SECURITY.</summary>
[Flags]
public enum SecurityInformation : uint
{
    None = 0,
    Owner = 0x1,
    Group = 0x2,
    Dacl = 0x4,
    Sacl = 0x8,
    Label = 0x10,
    Attribute = 0x20,
    Scope = 0x40,
    Backup = 0x10000,
}

/// <summary>MS-FSCC 2.4.11 FILE_DISPOSITION_INFORMATION_EX flags.</summary>
[Flags]
public enum DispositionExFlags : uint
{
    DoNotDelete = 0,
    Delete = 0x1,
    PosixSemantics = 0x2,
    ForceImageSectionCheck = 0x4,
    OnClose = 0x8,
    IgnoreReadOnlyAttribute = 0x10,
}

/// <summary>MS-FSCC 2.4.43 FILE_RENAME_INFORMATION_EX flags.</summary>
[Flags]
public enum RenameExFlags : uint
{
    None = 0,
    ReplaceIfExists = 0x1,
    PosixSemantics = 0x2,
    SuppressPinStateInheritance = 0x4,
    SuppressStorageReserveInheritance = 0x8,
    NoIncreaseAvailableSpace = 0x10,
    NoDecreaseAvailableSpace = 0x20,
    IgnoreReadOnlyAttribute = 0x40,
    ForceResizeTargetSr = 0x80,
    ForceResizeSourceSr = 0x100,
}
