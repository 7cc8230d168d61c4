using System.Buffers.Binary;

namespace SmbCopy.Storage.Iscsi.Scsi;

/// <summary>RECEIVE COPY RESULTS / OPERATING PARAMETERS (LID1, SA 0x03; SPC-4, protocol-facts D.5): what one EXTENDED
/// COPY command may carry.</summary>
public sealed record CopyOperatingParameters(bool Snlid, ushort MaxTargetDescriptors, ushort MaxSegmentDescriptors,
    uint MaxDescriptorListLength, uint MaxSegmentLength, uint MaxInlineDataLength, ushort TotalConcurrentCopies,
    byte MaxConcurrentCopies, byte DataSegmentGranularityLog2, byte[] ImplementedDescriptorTypes)
{
    public const int AllocationLength = 44 + 256;

    public bool Implements(byte descriptorType) => ImplementedDescriptorTypes.Contains(descriptorType);

    public static CopyOperatingParameters Parse(ReadOnlySpan<byte> d)
    {
        const string Cmd = "RECEIVE COPY RESULTS (OPERATING PARAMETERS)";
        if (d.Length < 44) throw new ScsiDataException(Cmd, $"data too short ({d.Length} bytes)");
        uint available = BinaryPrimitives.ReadUInt32BigEndian(d);
        if (available < 40) throw new ScsiDataException(Cmd, $"AVAILABLE DATA {available} below 40");
        int n = d[43];
        int present = Math.Max(0, Math.Min(n, d.Length - 44));
        return new CopyOperatingParameters((d[4] & 1) != 0,
            BinaryPrimitives.ReadUInt16BigEndian(d[8..]), BinaryPrimitives.ReadUInt16BigEndian(d[10..]),
            BinaryPrimitives.ReadUInt32BigEndian(d[12..]), BinaryPrimitives.ReadUInt32BigEndian(d[16..]),
            BinaryPrimitives.ReadUInt32BigEndian(d[20..]), BinaryPrimitives.ReadUInt16BigEndian(d[34..]), d[36], d[37],
            d.Slice(44, present).ToArray());
    }
}

/// <summary>A copy target (CSCD) for an 0xE4 identification descriptor: the LU's designation descriptor from VPD
/// 0x83 (4-byte header + designator, at most 24 bytes) and its block length.</summary>
public sealed record CopyTarget(byte[] DesignationDescriptor, uint BlockLength);

/// <summary>One block→block segment (descriptor type 0x02): <see cref="Blocks"/> ≤ 65,535.</summary>
public readonly record struct CopySegment(ushort SourceIndex, ushort DestinationIndex, ushort Blocks, ulong SourceLba, ulong DestinationLba);

/// <summary>Builds the EXTENDED COPY (LID1) parameter list (SPC-4 §6.4; protocol-facts D.5).</summary>
public static class ExtendedCopyParameters
{
    public const byte IdentificationDescriptor = 0xE4, BlockToBlockSegment = 0x02;
    public const int HeaderLength = 16, TargetDescriptorLength = 32, SegmentDescriptorLength = 28;

    /// <summary>Header (16) + one 32-byte 0xE4 descriptor per target + one 28-byte 0x02 descriptor per segment; list id
    /// usage 11b (no list identifier: LID1 copies held by nobody), no inline data.</summary>
    public static byte[] Build(IReadOnlyList<CopyTarget> targets, IReadOnlyList<CopySegment> segments)
    {
        if (targets.Count == 0 || segments.Count == 0) throw new ArgumentException("at least one target and one segment");
        int tdl = TargetDescriptorLength * targets.Count, sdl = SegmentDescriptorLength * segments.Count;
        var p = new byte[HeaderLength + tdl + sdl];
        p[0] = 0;                 // LIST IDENTIFIER
        p[1] = 0x18;              // STR 0, LIST ID USAGE 11b, PRIORITY 0
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)tdl);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(8), (uint)sdl);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(12), 0); // inline data length
        for (int i = 0; i < targets.Count; i++)
        {
            var t = targets[i];
            var d = p.AsSpan(HeaderLength + TargetDescriptorLength * i, TargetDescriptorLength);
            if (t.DesignationDescriptor.Length is < 4 or > 24)
                throw new ArgumentException("designation descriptor must be 4 to 24 bytes", nameof(targets));
            d[0] = IdentificationDescriptor;
            d[1] = 0x00;          // LU ID TYPE 00b (LUN), NUL 0, peripheral device type 0 (block)
            // 2-3 relative initiator port identifier: 0
            t.DesignationDescriptor.CopyTo(d[4..]);
            // 28: PAD 0; 29-31: disk block length
            d[29] = (byte)(t.BlockLength >> 16); d[30] = (byte)(t.BlockLength >> 8); d[31] = (byte)t.BlockLength;
        }
        for (int i = 0; i < segments.Count; i++)
        {
            var s = segments[i];
            if (s.SourceIndex >= targets.Count || s.DestinationIndex >= targets.Count)
                throw new ArgumentException("segment refers to a missing target descriptor", nameof(segments));
            var d = p.AsSpan(HeaderLength + tdl + SegmentDescriptorLength * i, SegmentDescriptorLength);
            d[0] = BlockToBlockSegment;
            d[1] = 0x00;          // DC 0 (count in source blocks), CAT 0
            BinaryPrimitives.WriteUInt16BigEndian(d[2..], 0x0018);
            BinaryPrimitives.WriteUInt16BigEndian(d[4..], s.SourceIndex);
            BinaryPrimitives.WriteUInt16BigEndian(d[6..], s.DestinationIndex);
            BinaryPrimitives.WriteUInt16BigEndian(d[10..], s.Blocks);
            BinaryPrimitives.WriteUInt64BigEndian(d[12..], s.SourceLba);
            BinaryPrimitives.WriteUInt64BigEndian(d[20..], s.DestinationLba);
        }
        return p;
    }
}
