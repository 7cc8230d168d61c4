namespace SmbCopy.Storage.Iscsi.Scsi;

/// <summary>SAM status codes.</summary>
public enum ScsiStatus : byte
{
    Good = 0x00,
    CheckCondition = 0x02,
    ConditionMet = 0x04,
    Busy = 0x08,
    ReservationConflict = 0x18,
    TaskSetFull = 0x28,
    AcaActive = 0x30,
    TaskAborted = 0x40,
}

/// <summary>Sense keys (SPC-4 table 48).</summary>
public enum SenseKey : byte
{
    NoSense = 0x0,
    RecoveredError = 0x1,
    NotReady = 0x2,
    MediumError = 0x3,
    HardwareError = 0x4,
    IllegalRequest = 0x5,
    UnitAttention = 0x6,
    DataProtect = 0x7,
    BlankCheck = 0x8,
    VendorSpecific = 0x9,
    CopyAborted = 0xA,
    AbortedCommand = 0xB,
    Reserved = 0xC,
    VolumeOverflow = 0xD,
    Miscompare = 0xE,
    Completed = 0xF,
}

/// <summary>SCSI operation codes used here (SPC-4, SBC-3).</summary>
public static class ScsiOpcodes
{
    public const byte TestUnitReady = 0x00;
    public const byte Inquiry = 0x12;
    public const byte Read10 = 0x28;
    public const byte Write10 = 0x2A;
    public const byte SynchronizeCache10 = 0x35;
    public const byte Unmap = 0x42;
    public const byte ExtendedCopy = 0x83;
    public const byte ReceiveCopyResults = 0x84;
    public const byte Read16 = 0x88;
    public const byte Write16 = 0x8A;
    public const byte SynchronizeCache16 = 0x91;
    public const byte ServiceActionIn16 = 0x9E; // READ CAPACITY(16) = SA 0x10
    public const byte ReportLuns = 0xA0;
    public const byte Read12 = 0xA8;
    public const byte Write12 = 0xAA;

    public static string Name(ReadOnlySpan<byte> cdb) => cdb.Length == 0 ? "(empty CDB)" : cdb[0] switch
    {
        TestUnitReady => "TEST UNIT READY",
        Inquiry => "INQUIRY",
        Read10 => "READ(10)",
        Write10 => "WRITE(10)",
        SynchronizeCache10 => "SYNCHRONIZE CACHE(10)",
        Unmap => "UNMAP",
        ExtendedCopy => cdb.Length > 1 && (cdb[1] & 0x1F) == 0 ? "EXTENDED COPY(LID1)" : "EXTENDED COPY",
        ReceiveCopyResults => "RECEIVE COPY RESULTS",
        Read16 => "READ(16)",
        Write16 => "WRITE(16)",
        SynchronizeCache16 => "SYNCHRONIZE CACHE(16)",
        ServiceActionIn16 => cdb.Length > 1 && (cdb[1] & 0x1F) == 0x10 ? "READ CAPACITY(16)" : "SERVICE ACTION IN(16)",
        ReportLuns => "REPORT LUNS",
        Read12 => "READ(12)",
        Write12 => "WRITE(12)",
        _ => $"opcode 0x{cdb[0]:X2}",
    };
}
