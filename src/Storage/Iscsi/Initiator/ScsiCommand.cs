using SmbCopy.Storage.Iscsi.Scsi;

namespace SmbCopy.Storage.Iscsi.Initiator;

/// <summary>One SCSI command to a LUN. A command moves data in one direction: <see cref="DataOut"/> (write) or
/// <see cref="DataIn"/> (read, the buffer's length is the expected transfer length); bidirectional commands are not
/// supported. The caller keeps both buffers alive and untouched until the command completes.</summary>
public sealed record ScsiCommand(int Lun, byte[] Cdb, ReadOnlyMemory<byte> DataOut = default, Memory<byte> DataIn = default)
{
    public string Name => ScsiOpcodes.Name(Cdb);
}

/// <summary>Completion of a SCSI command: status, the bytes of Data-In received, the residual count (positive = the
/// target moved less than expected, negative = it had more), and sense data when the status carries it.</summary>
public readonly record struct ScsiResult(ScsiStatus Status, int DataInLength, int Residual, SenseData? Sense)
{
    public bool IsGood => Status is ScsiStatus.Good or ScsiStatus.ConditionMet;
}

/// <summary>What crossed one initiator's connections, by kind: lets tests and metrics show that a copy moved no data
/// through the gateway (EXTENDED COPY commands, no READ / WRITE commands).</summary>
public sealed class IscsiCounters
{
    private long _read, _write, _xcopy, _other, _bytesIn, _bytesOut, _reconnects, _retries, _r2t, _dataOut, _dataIn, _nopOut;

    public long ReadCommands => Interlocked.Read(ref _read);
    public long WriteCommands => Interlocked.Read(ref _write);
    public long ExtendedCopyCommands => Interlocked.Read(ref _xcopy);
    public long OtherCommands => Interlocked.Read(ref _other);
    /// <summary>Data-In payload bytes received.</summary>
    public long BytesIn => Interlocked.Read(ref _bytesIn);
    /// <summary>Data-Out and immediate payload bytes sent.</summary>
    public long BytesOut => Interlocked.Read(ref _bytesOut);
    public long Reconnects => Interlocked.Read(ref _reconnects);
    public long Retries => Interlocked.Read(ref _retries);
    public long ReadyToTransfers => Interlocked.Read(ref _r2t);
    public long DataOutPdus => Interlocked.Read(ref _dataOut);
    public long DataInPdus => Interlocked.Read(ref _dataIn);
    public long NopOuts => Interlocked.Read(ref _nopOut);

    internal void CountCommand(ReadOnlySpan<byte> cdb)
    {
        switch (cdb[0])
        {
            case ScsiOpcodes.Read16 or ScsiOpcodes.Read10 or ScsiOpcodes.Read12 or 0x08:
                Interlocked.Increment(ref _read); break;
            case ScsiOpcodes.Write16 or ScsiOpcodes.Write10 or ScsiOpcodes.Write12 or 0x0A:
                Interlocked.Increment(ref _write); break;
            case ScsiOpcodes.ExtendedCopy:
                Interlocked.Increment(ref _xcopy); break;
            default:
                Interlocked.Increment(ref _other); break;
        }
    }

    internal void AddBytesIn(long n) => Interlocked.Add(ref _bytesIn, n);
    internal void AddBytesOut(long n) => Interlocked.Add(ref _bytesOut, n);
    internal void Reconnected() => Interlocked.Increment(ref _reconnects);
    internal void Retried() => Interlocked.Increment(ref _retries);
    internal void R2T() => Interlocked.Increment(ref _r2t);
    internal void DataOut() => Interlocked.Increment(ref _dataOut);
    internal void DataIn() => Interlocked.Increment(ref _dataIn);
    internal void NopOut() => Interlocked.Increment(ref _nopOut);

    public IscsiCountersSnapshot Snapshot() => new(ReadCommands, WriteCommands, ExtendedCopyCommands, OtherCommands, BytesIn, BytesOut,
        Reconnects, Retries);
}

/// <summary>Counter values at one moment; subtract two to see what an operation did.</summary>
public readonly record struct IscsiCountersSnapshot(long ReadCommands, long WriteCommands, long ExtendedCopyCommands, long OtherCommands,
    long BytesIn, long BytesOut, long Reconnects, long Retries)
{
    public static IscsiCountersSnapshot operator -(IscsiCountersSnapshot a, IscsiCountersSnapshot b) => new(
        a.ReadCommands - b.ReadCommands, a.WriteCommands - b.WriteCommands, a.ExtendedCopyCommands - b.ExtendedCopyCommands,
        a.OtherCommands - b.OtherCommands, a.BytesIn - b.BytesIn, a.BytesOut - b.BytesOut, a.Reconnects - b.Reconnects,
        a.Retries - b.Retries);
}
