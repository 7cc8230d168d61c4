namespace SmbCopy.Protocol.Fscc;

/// <summary>MS-SMB2 2.2.13.1 / MS-DTYP 2.4.3 access mask for files, directories and pipes.</summary>
[Flags]
public enum AccessMask : uint
{
    None = 0,
    FileReadData = 0x1,
    FileListDirectory = 0x1,
    FileWriteData = 0x2,
    FileAddFile = 0x2,
    FileAppendData = 0x4,
    FileAddSubdirectory = 0x4,
    FileReadEa = 0x8,
    FileWriteEa = 0x10,
    FileExecute = 0x20,
    FileTraverse = 0x20,
    FileDeleteChild = 0x40,
    FileReadAttributes = 0x80,
    FileWriteAttributes = 0x100,
    Delete = 0x10000,
    ReadControl = 0x20000,
    WriteDac = 0x40000,
    WriteOwner = 0x80000,
    Synchronize = 0x100000,
    AccessSystemSecurity = 0x1000000,
    MaximumAllowed = 0x2000000,
    GenericAll = 0x10000000,
    GenericExecute = 0x20000000,
    GenericWrite = 0x40000000,
    GenericRead = 0x80000000,

    /// <summary>STANDARD_RIGHTS_REQUIRED (DELETE | READ_CONTROL | WRITE_DAC | WRITE_OWNER).</summary>
    StandardRightsRequired = 0xF0000,
    /// <summary>FILE_ALL_ACCESS = STANDARD_RIGHTS_REQUIRED | SYNCHRONIZE | 0x1FF.</summary>
    FileAllAccess = 0x1F01FF,
    /// <summary>FILE_GENERIC_READ = READ_CONTROL | FILE_READ_DATA | FILE_READ_ATTRIBUTES | FILE_READ_EA | SYNCHRONIZE.</summary>
    FileGenericRead = 0x120089,
    /// <summary>FILE_GENERIC_WRITE = READ_CONTROL | FILE_WRITE_DATA | FILE_WRITE_ATTRIBUTES | FILE_WRITE_EA | FILE_APPEND_DATA | SYNCHRONIZE.</summary>
    FileGenericWrite = 0x120116,
    /// <summary>FILE_GENERIC_EXECUTE = READ_CONTROL | FILE_READ_ATTRIBUTES | FILE_EXECUTE | SYNCHRONIZE.</summary>
    FileGenericExecute = 0x1200A0,
}

public static class AccessMaskExtensions
{
    private const AccessMask GenericBits = AccessMask.GenericAll | AccessMask.GenericExecute | AccessMask.GenericWrite | AccessMask.GenericRead;

    /// <summary>
    /// Maps GENERIC_* bits to the file-specific rights (MS-DTYP 2.4.3 / MS-SMB2 2.2.13.1.1 file mapping)
    /// and clears them. Other bits, MAXIMUM_ALLOWED included, are kept.
    /// </summary>
    public static AccessMask MapGenericToFile(this AccessMask mask)
    {
        var result = mask & ~GenericBits;
        if ((mask & AccessMask.GenericRead) != 0) result |= AccessMask.FileGenericRead;
        if ((mask & AccessMask.GenericWrite) != 0) result |= AccessMask.FileGenericWrite;
        if ((mask & AccessMask.GenericExecute) != 0) result |= AccessMask.FileGenericExecute;
        if ((mask & AccessMask.GenericAll) != 0) result |= AccessMask.FileAllAccess;
        return result;
    }

    public static bool HasAny(this AccessMask mask, AccessMask bits) => (mask & bits) != 0;
    public static bool HasAll(this AccessMask mask, AccessMask bits) => (mask & bits) == bits;
}
