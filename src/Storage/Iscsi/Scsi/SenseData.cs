using System.Buffers.Binary;

namespace SmbCopy.Storage.Iscsi.Scsi;

/// <summary>Decoded sense data (SPC-4 §4.5: fixed format 0x70/0x71, descriptor format 0x72/0x73).</summary>
public sealed record SenseData(byte ResponseCode, SenseKey Key, byte Asc, byte Ascq, ulong? Information, byte[] Raw)
{
    public bool Deferred => ResponseCode is 0x71 or 0x73;

    /// <summary>Decodes sense bytes; null when there are too few to hold a sense key.</summary>
    public static SenseData? Decode(ReadOnlySpan<byte> sense)
    {
        if (sense.Length < 3) return null;
        byte code = (byte)(sense[0] & 0x7F);
        switch (code)
        {
            case 0x70 or 0x71:
            {
                var key = (SenseKey)(sense[2] & 0x0F);
                byte asc = sense.Length > 12 ? sense[12] : (byte)0, ascq = sense.Length > 13 ? sense[13] : (byte)0;
                ulong? info = (sense[0] & 0x80) != 0 && sense.Length >= 7 ? BinaryPrimitives.ReadUInt32BigEndian(sense[3..]) : null;
                return new SenseData(code, key, asc, ascq, info, sense.ToArray());
            }
            case 0x72 or 0x73:
            {
                if (sense.Length < 4) return null;
                ulong? info = null;
                // descriptors from byte 8: type(1) length(1) body; information descriptor 0x00 has VALID + 8-byte info
                int additional = sense.Length > 7 ? sense[7] : 0;
                int end = Math.Min(sense.Length, 8 + additional);
                for (int pos = 8; pos + 2 <= end;)
                {
                    int len = sense[pos + 1];
                    if (pos + 2 + len > end) break;
                    if (sense[pos] == 0x00 && len >= 0x0A && (sense[pos + 2] & 0x80) != 0)
                        info = BinaryPrimitives.ReadUInt64BigEndian(sense[(pos + 4)..]);
                    pos += 2 + len;
                }
                return new SenseData(code, (SenseKey)(sense[1] & 0x0F), sense[2], sense[3], info, sense.ToArray());
            }
            default:
                return null;
        }
    }

    public string KeyName => KeyNames(Key);
    public string AscName => AdditionalSenseName(Asc, Ascq);

    public override string ToString() =>
        $"{KeyName} (0x{(byte)Key:X}), {AscName} (ASC 0x{Asc:X2} ASCQ 0x{Ascq:X2})" +
        (Information is { } i ? $", information 0x{i:X}" : "") + (Deferred ? ", deferred" : "");

    public static string KeyNames(SenseKey key) => key switch
    {
        SenseKey.NoSense => "NO SENSE",
        SenseKey.RecoveredError => "RECOVERED ERROR",
        SenseKey.NotReady => "NOT READY",
        SenseKey.MediumError => "MEDIUM ERROR",
        SenseKey.HardwareError => "HARDWARE ERROR",
        SenseKey.IllegalRequest => "ILLEGAL REQUEST",
        SenseKey.UnitAttention => "UNIT ATTENTION",
        SenseKey.DataProtect => "DATA PROTECT",
        SenseKey.BlankCheck => "BLANK CHECK",
        SenseKey.VendorSpecific => "VENDOR SPECIFIC",
        SenseKey.CopyAborted => "COPY ABORTED",
        SenseKey.AbortedCommand => "ABORTED COMMAND",
        SenseKey.VolumeOverflow => "VOLUME OVERFLOW",
        SenseKey.Miscompare => "MISCOMPARE",
        SenseKey.Completed => "COMPLETED",
        _ => "RESERVED",
    };

    /// <summary>Names of the additional sense codes a block device and copy manager report (SPC-4 annex D, subset).</summary>
    public static string AdditionalSenseName(byte asc, byte ascq) => (asc, ascq) switch
    {
        (0x00, 0x00) => "NO ADDITIONAL SENSE INFORMATION",
        (0x04, 0x00) => "LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE",
        (0x04, 0x01) => "LOGICAL UNIT IS IN PROCESS OF BECOMING READY",
        (0x04, 0x02) => "LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED",
        (0x04, 0x03) => "LOGICAL UNIT NOT READY, MANUAL INTERVENTION REQUIRED",
        (0x04, 0x0A) => "LOGICAL UNIT NOT ACCESSIBLE, ASYMMETRIC ACCESS STATE TRANSITION",
        (0x0C, 0x00) => "WRITE ERROR",
        (0x0D, 0x01) => "THIRD PARTY DEVICE FAILURE",
        (0x0D, 0x02) => "COPY TARGET DEVICE NOT REACHABLE",
        (0x0D, 0x03) => "INCORRECT COPY TARGET DEVICE TYPE",
        (0x0D, 0x04) => "COPY TARGET DEVICE DATA UNDERRUN",
        (0x0D, 0x05) => "COPY TARGET DEVICE DATA OVERRUN",
        (0x0E, 0x03) => "INVALID FIELD IN COMMAND INFORMATION UNIT",
        (0x10, 0x01) => "LOGICAL BLOCK GUARD CHECK FAILED",
        (0x11, 0x00) => "UNRECOVERED READ ERROR",
        (0x1A, 0x00) => "PARAMETER LIST LENGTH ERROR",
        (0x1D, 0x00) => "MISCOMPARE DURING VERIFY OPERATION",
        (0x20, 0x00) => "INVALID COMMAND OPERATION CODE",
        (0x21, 0x00) => "LOGICAL BLOCK ADDRESS OUT OF RANGE",
        (0x24, 0x00) => "INVALID FIELD IN CDB",
        (0x25, 0x00) => "LOGICAL UNIT NOT SUPPORTED",
        (0x26, 0x00) => "INVALID FIELD IN PARAMETER LIST",
        (0x26, 0x01) => "PARAMETER NOT SUPPORTED",
        (0x26, 0x02) => "PARAMETER VALUE INVALID",
        (0x26, 0x06) => "TOO MANY TARGET DESCRIPTORS",
        (0x26, 0x07) => "UNSUPPORTED TARGET DESCRIPTOR TYPE CODE",
        (0x26, 0x08) => "TOO MANY SEGMENT DESCRIPTORS",
        (0x26, 0x09) => "UNSUPPORTED SEGMENT DESCRIPTOR TYPE CODE",
        (0x26, 0x0A) => "UNEXPECTED INEXACT SEGMENT",
        (0x26, 0x0B) => "INLINE DATA LENGTH EXCEEDED",
        (0x26, 0x0C) => "INVALID OPERATION FOR COPY SOURCE OR DESTINATION",
        (0x26, 0x0D) => "COPY SEGMENT GRANULARITY VIOLATION",
        (0x27, 0x00) => "WRITE PROTECTED",
        (0x27, 0x07) => "SPACE ALLOCATION FAILED WRITE PROTECT",
        (0x28, 0x00) => "NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED",
        (0x29, 0x00) => "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED",
        (0x29, 0x01) => "POWER ON OCCURRED",
        (0x29, 0x02) => "SCSI BUS RESET OCCURRED",
        (0x29, 0x03) => "BUS DEVICE RESET FUNCTION OCCURRED",
        (0x29, 0x04) => "DEVICE INTERNAL RESET",
        (0x29, 0x07) => "I_T NEXUS LOSS OCCURRED",
        (0x2A, 0x01) => "MODE PARAMETERS CHANGED",
        (0x2A, 0x03) => "RESERVATIONS PREEMPTED",
        (0x2A, 0x09) => "CAPACITY DATA HAS CHANGED",
        (0x2C, 0x00) => "COMMAND SEQUENCE ERROR",
        (0x3E, 0x02) => "TIMEOUT ON LOGICAL UNIT",
        (0x3F, 0x03) => "INQUIRY DATA HAS CHANGED",
        (0x3F, 0x0E) => "REPORTED LUNS DATA HAS CHANGED",
        (0x44, 0x00) => "INTERNAL TARGET FAILURE",
        (0x47, 0x00) => "SCSI PARITY ERROR",
        (0x55, 0x03) => "INSUFFICIENT RESOURCES",
        (0x55, 0x06) => "AUXILIARY MEMORY OUT OF SPACE",
        _ => $"ASC/ASCQ {asc:X2}h/{ascq:X2}h",
    };
}

/// <summary>A SCSI command completed with a status other than GOOD (or the target reported a failure).</summary>
public sealed class ScsiCommandException : Initiator.IscsiException
{
    public ScsiCommandException(string command, ScsiStatus status, SenseData? sense, string? detail = null)
        : base($"{command} failed: {StatusName(status)}" + (sense != null ? ", " + sense : "") + (detail != null ? " — " + detail : ""))
    {
        Command = command;
        Status = status;
        Sense = sense;
    }

    public string Command { get; }
    public ScsiStatus Status { get; }
    public SenseData? Sense { get; }

    /// <summary>BUSY, TASK SET FULL, UNIT ATTENTION, and NOT READY while becoming ready are worth a retry.</summary>
    public override bool IsTransient => Status is ScsiStatus.Busy or ScsiStatus.TaskSetFull
        || Sense is { Key: SenseKey.UnitAttention }
        || Sense is { Key: SenseKey.NotReady, Asc: 0x04, Ascq: 0x01 }
        || Sense is { Key: SenseKey.AbortedCommand, Asc: not 0x10 }; // aborted (not by a protection check): resend

    /// <summary>True for ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE (or INVALID FIELD IN CDB for a service
    /// action): the command is not implemented.</summary>
    public bool IsNotSupported => Sense is { Key: SenseKey.IllegalRequest, Asc: 0x20 or 0x24, Ascq: 0 };

    /// <summary>The storage error this maps to for the gateway.</summary>
    public StorageError ToStorageError() => this switch
    {
        { IsNotSupported: true } => StorageError.NotSupported,
        { Sense: { Key: SenseKey.IllegalRequest, Asc: 0x21 } } => StorageError.InvalidParameter,
        { Sense: { Key: SenseKey.DataProtect, Asc: 0x27, Ascq: 0x07 } } => StorageError.NoSpace,
        { Sense.Key: SenseKey.DataProtect } => StorageError.ReadOnly,
        { Status: ScsiStatus.Busy or ScsiStatus.TaskSetFull or ScsiStatus.ReservationConflict } => StorageError.Busy,
        { Sense.Key: SenseKey.NotReady } => StorageError.Unavailable,
        _ => StorageError.IoError,
    };

    public static string StatusName(ScsiStatus status) => status switch
    {
        ScsiStatus.Good => "GOOD",
        ScsiStatus.CheckCondition => "CHECK CONDITION",
        ScsiStatus.ConditionMet => "CONDITION MET",
        ScsiStatus.Busy => "BUSY",
        ScsiStatus.ReservationConflict => "RESERVATION CONFLICT",
        ScsiStatus.TaskSetFull => "TASK SET FULL",
        ScsiStatus.AcaActive => "ACA ACTIVE",
        ScsiStatus.TaskAborted => "TASK ABORTED",
        _ => $"status 0x{(byte)status:X2}",
    };
}
