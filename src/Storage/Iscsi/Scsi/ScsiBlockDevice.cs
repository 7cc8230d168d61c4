using System.Buffers.Binary;
using SmbCopy.Storage.Iscsi.Initiator;

namespace SmbCopy.Storage.Iscsi.Scsi;

/// <summary>
/// A direct-access block device (one LUN) behind an <see cref="IscsiClient"/>: probed at open (INQUIRY standard and
/// VPD 0x00 / 0x83 / 0xB0 / 0xB2 / 0x8F, READ CAPACITY (16), RECEIVE COPY RESULTS operating parameters), then
/// READ (16) / WRITE (16) chunked within the target's MAXIMUM TRANSFER LENGTH with several commands in flight,
/// SYNCHRONIZE CACHE (16) and UNMAP.
/// </summary>
public sealed class ScsiBlockDevice
{
    /// <summary>Largest single READ/WRITE this driver issues, whatever the target allows.</summary>
    public const int MaxIoBytes = 4 * 1024 * 1024;

    /// <summary>READ/WRITE commands kept in flight by one call.</summary>
    public const int IoDepth = 4;

    private ScsiBlockDevice(IscsiClient client, int lun) { Client = client; Lun = lun; }

    public IscsiClient Client { get; }
    public int Lun { get; }
    public StandardInquiry Inquiry { get; private set; } = null!;
    public IReadOnlyList<byte> SupportedVpdPages { get; private set; } = [];
    public IReadOnlyList<Designator> Designators { get; private set; } = [];
    public BlockLimits Limits { get; private set; } = BlockLimits.None;
    public Capacity Capacity { get; private set; } = null!;
    public bool SupportsUnmap { get; private set; }
    /// <summary>Raw VPD page 0x8F (third-party copy), when the target has it.</summary>
    public byte[]? ThirdPartyCopyPage { get; private set; }
    /// <summary>LID1 copy manager parameters; null when EXTENDED COPY is not available.</summary>
    public CopyOperatingParameters? CopyParameters { get; private set; }

    public uint BlockSize => Capacity.BlockSize;
    public long Blocks => Capacity.Blocks;

    /// <summary>The LU's NAA designator (association 0: the logical unit), preferred for copy target descriptors;
    /// else another LU designator of at most 20 bytes.</summary>
    public Designator? CopyDesignator =>
        Designators.FirstOrDefault(d => d is { Association: 0, Type: Designator.TypeNaa, CodeSet: 1 } && d.RawDescriptor.Length <= 24)
        ?? Designators.FirstOrDefault(d => d is { Association: 0 } && d.Type is Designator.TypeEui64 && d.RawDescriptor.Length <= 24);

    /// <summary>True when EXTENDED COPY (LID1) block→block with identification descriptors can be used.</summary>
    public bool SupportsExtendedCopy => CopyParameters is { } p
        && p.Implements(ExtendedCopyParameters.IdentificationDescriptor) && p.Implements(ExtendedCopyParameters.BlockToBlockSegment)
        && p.MaxSegmentDescriptors >= 1 && CopyDesignator != null;

    /// <summary>Blocks per READ/WRITE command: the target's MAXIMUM TRANSFER LENGTH, capped by <see cref="MaxIoBytes"/>.</summary>
    public int MaxTransferBlocks
    {
        get
        {
            long cap = MaxIoBytes / BlockSize;
            if (Limits.MaxTransferBlocks != 0) cap = Math.Min(cap, Limits.MaxTransferBlocks);
            return (int)Math.Max(1, cap);
        }
    }

    public static async Task<ScsiBlockDevice> OpenAsync(IscsiClient client, int lun, CancellationToken cancellationToken = default)
    {
        var dev = new ScsiBlockDevice(client, lun);
        await dev.ProbeAsync(cancellationToken).ConfigureAwait(false);
        return dev;
    }

    private async Task ProbeAsync(CancellationToken ct)
    {
        // the first command after login usually draws UNIT ATTENTION (power on / I_T nexus loss): retried by the client
        await Client.ExecuteAsync(new ScsiCommand(Lun, Cdb.TestUnitReady()), ct).ConfigureAwait(false);
        Inquiry = StandardInquiry.Parse(await InquiryAsync(null, 96, ct).ConfigureAwait(false));
        if (Inquiry.PeripheralQualifier != 0 || Inquiry.DeviceType != 0)
            throw new StorageException(StorageError.NotSupported,
                $"LUN {Lun} is not a connected direct-access block device (qualifier {Inquiry.PeripheralQualifier}, type {Inquiry.DeviceType})");
        SupportedVpdPages = VpdPages.ParseSupported(await InquiryAsync(VpdPages.Supported, 255, ct).ConfigureAwait(false));
        if (SupportedVpdPages.Contains(VpdPages.DeviceIdentification))
            Designators = VpdPages.ParseDeviceIdentification(await InquiryAsync(VpdPages.DeviceIdentification, 1024, ct).ConfigureAwait(false));
        if (SupportedVpdPages.Contains(VpdPages.BlockLimits))
            Limits = BlockLimits.Parse(await InquiryAsync(VpdPages.BlockLimits, 64, ct).ConfigureAwait(false));
        if (SupportedVpdPages.Contains(VpdPages.ThirdPartyCopy))
            ThirdPartyCopyPage = await InquiryAsync(VpdPages.ThirdPartyCopy, 4096, ct).ConfigureAwait(false);
        bool lbpu = false;
        if (SupportedVpdPages.Contains(VpdPages.LogicalBlockProvisioning))
        {
            var lbp = await InquiryAsync(VpdPages.LogicalBlockProvisioning, 64, ct).ConfigureAwait(false);
            var body = VpdPages.Body(lbp, VpdPages.LogicalBlockProvisioning);
            lbpu = body.Length > 1 && (body[1] & 0x80) != 0;
        }
        var cap = new byte[32];
        var r = await Client.ExecuteAsync(new ScsiCommand(Lun, Cdb.ReadCapacity16(32), DataIn: cap), ct).ConfigureAwait(false);
        Capacity = Capacity.Parse(cap.AsSpan(0, r.DataInLength));
        SupportsUnmap = Capacity.Lbpme && lbpu && Limits.MaxUnmapLbaCount > 0 && Limits.MaxUnmapDescriptors > 0;
        if (Inquiry.ThirdPartyCopy)
        {
            try
            {
                var op = new byte[CopyOperatingParameters.AllocationLength];
                var rr = await Client.ExecuteAsync(new ScsiCommand(Lun, Cdb.ReceiveCopyResults(0x03, 0, (uint)op.Length), DataIn: op), ct)
                    .ConfigureAwait(false);
                CopyParameters = CopyOperatingParameters.Parse(op.AsSpan(0, rr.DataInLength));
            }
            catch (ScsiCommandException e) when (e.Sense?.Key == SenseKey.IllegalRequest)
            {
                CopyParameters = null; // 3PC set but no LID1 copy manager
            }
        }
    }

    /// <summary>INQUIRY: standard data (<paramref name="page"/> null) or a VPD page; returns the bytes received.</summary>
    public async Task<byte[]> InquiryAsync(byte? page, ushort allocationLength, CancellationToken cancellationToken = default)
    {
        var buffer = new byte[allocationLength];
        var r = await Client.ExecuteAsync(new ScsiCommand(Lun, Cdb.Inquiry(page, allocationLength), DataIn: buffer), cancellationToken)
            .ConfigureAwait(false);
        return buffer.AsSpan(0, r.DataInLength).ToArray();
    }

    /// <summary>Reads <c>buffer.Length / BlockSize</c> blocks at <paramref name="lba"/> (buffer length must be a multiple
    /// of the block size), with up to <see cref="IoDepth"/> READ (16) commands in flight.</summary>
    public Task ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ChunkedAsync(lba, buffer.Length, (chunkLba, offset, length, ct) =>
            Client.ExecuteAsync(new ScsiCommand(Lun, Cdb.Read16((ulong)chunkLba, (uint)(length / BlockSize)),
                DataIn: buffer.Slice(offset, length)), ct), cancellationToken);

    /// <summary>Writes whole blocks at <paramref name="lba"/> with up to <see cref="IoDepth"/> WRITE (16) commands in flight.</summary>
    public Task WriteAsync(long lba, ReadOnlyMemory<byte> data, bool fua = false, CancellationToken cancellationToken = default) =>
        ChunkedAsync(lba, data.Length, (chunkLba, offset, length, ct) =>
            Client.ExecuteAsync(new ScsiCommand(Lun, Cdb.Write16((ulong)chunkLba, (uint)(length / BlockSize), fua),
                DataOut: data.Slice(offset, length)), ct), cancellationToken);

    private async Task ChunkedAsync(long lba, int length, Func<long, int, int, CancellationToken, Task<ScsiResult>> io,
        CancellationToken cancellationToken)
    {
        CheckRange(lba, length);
        int chunk = MaxTransferBlocks * (int)BlockSize;
        var inFlight = new List<Task>(IoDepth);
        Task? failed = null;
        for (int offset = 0; offset < length && failed == null; offset += chunk)
        {
            int n = Math.Min(chunk, length - offset);
            inFlight.Add(io(lba + offset / BlockSize, offset, n, cancellationToken));
            if (inFlight.Count == IoDepth)
            {
                var done = await Task.WhenAny(inFlight).ConfigureAwait(false);
                inFlight.Remove(done);
                if (!done.IsCompletedSuccessfully) failed = done;
            }
        }
        // never return while a command may still touch the caller's buffer
        try
        {
            await Task.WhenAll(inFlight).ConfigureAwait(false);
        }
        catch when (failed != null) { }
        if (failed != null) await failed.ConfigureAwait(false);
    }

    private void CheckRange(long lba, long length)
    {
        if (length % BlockSize != 0) throw new ArgumentException($"length {length} is not a multiple of the block size {BlockSize}");
        if (lba < 0) throw new ArgumentOutOfRangeException(nameof(lba));
        // deliberately not checked against the capacity: the target reports LBA OUT OF RANGE itself
    }

    public Task SynchronizeCacheAsync(CancellationToken cancellationToken = default) =>
        Client.ExecuteAsync(new ScsiCommand(Lun, Cdb.SynchronizeCache16()), cancellationToken);

    /// <summary>UNMAP the range, split within MAXIMUM UNMAP LBA COUNT / block descriptor count.</summary>
    /// <exception cref="StorageException">NotSupported when the LU does not do logical block provisioning.</exception>
    public async Task UnmapAsync(long lba, long blocks, CancellationToken cancellationToken = default)
    {
        if (!SupportsUnmap) throw new StorageException(StorageError.NotSupported, $"LUN {Lun} does not support UNMAP");
        long perDescriptor = Math.Min(uint.MaxValue, Limits.MaxUnmapLbaCount == uint.MaxValue ? uint.MaxValue : Limits.MaxUnmapLbaCount);
        int descriptors = (int)Math.Min(64, Limits.MaxUnmapDescriptors);
        while (blocks > 0)
        {
            var ranges = new List<(ulong, uint)>();
            long total = 0;
            while (blocks > 0 && ranges.Count < descriptors && total + Math.Min(blocks, perDescriptor) <= Limits.MaxUnmapLbaCount)
            {
                long n = Math.Min(blocks, perDescriptor);
                ranges.Add(((ulong)lba, (uint)n));
                lba += n; blocks -= n; total += n;
            }
            if (ranges.Count == 0) throw new StorageException(StorageError.InvalidParameter, "UNMAP limits too small");
            var p = Cdb.UnmapParameters(ranges);
            await Client.ExecuteAsync(new ScsiCommand(Lun, Cdb.Unmap((ushort)p.Length), DataOut: p), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>REPORT LUNS: the LUN numbers (single-level, peripheral or flat addressing).</summary>
    public static async Task<IReadOnlyList<int>> ReportLunsAsync(IscsiClient client, CancellationToken cancellationToken = default)
    {
        var buffer = new byte[8 + 8 * 256];
        var r = await client.ExecuteAsync(new ScsiCommand(0, Cdb.ReportLuns((uint)buffer.Length), DataIn: buffer), cancellationToken)
            .ConfigureAwait(false);
        int len = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(buffer), (uint)(r.DataInLength - 8));
        var luns = new List<int>();
        for (int pos = 8; pos + 8 <= 8 + len; pos += 8)
            luns.Add(((buffer[pos] & 0x3F) << 8) | buffer[pos + 1]);
        return luns;
    }

    public override string ToString() =>
        $"LUN {Lun}: {Inquiry.Vendor} {Inquiry.Product} {Inquiry.Revision}, {Blocks} × {BlockSize} B, max transfer {Limits.MaxTransferBlocks} blocks, " +
        $"3PC {Inquiry.ThirdPartyCopy}, XCOPY {(SupportsExtendedCopy ? $"yes ({CopyParameters!.MaxTargetDescriptors} CSCD, {CopyParameters.MaxSegmentDescriptors} segments, max segment {CopyParameters.MaxSegmentLength} B)" : "no")}, UNMAP {SupportsUnmap}";
}
