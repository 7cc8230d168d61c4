using System.Text;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Fscc;

// File system information classes (MS-FSCC 2.5), query side.

/// <summary>FileFsVolumeInformation (1): CreationTime(8) SerialNumber(4) LabelLength(4) SupportsObjects(1) Reserved(1) Label (18 + label bytes).</summary>
public readonly record struct FileFsVolumeInformation(long VolumeCreationTime, uint VolumeSerialNumber, bool SupportsObjects, string VolumeLabel)
{
    public const int FixedSize = 18;

    public void WriteTo(WireWriter w)
    {
        string label = VolumeLabel ?? "";
        w.WriteInt64(VolumeCreationTime);
        w.WriteUInt32(VolumeSerialNumber);
        w.WriteUInt32((uint)Encoding.Unicode.GetByteCount(label));
        w.WriteByte(SupportsObjects ? (byte)1 : (byte)0);
        w.WriteByte(0);
        w.WriteUtf16(label);
    }
}

/// <summary>FileFsSizeInformation (3), 24 bytes.</summary>
public readonly record struct FileFsSizeInformation(long TotalAllocationUnits, long AvailableAllocationUnits, uint SectorsPerAllocationUnit, uint BytesPerSector)
{
    public const int Size = 24;

    public void WriteTo(WireWriter w)
    {
        w.WriteInt64(TotalAllocationUnits);
        w.WriteInt64(AvailableAllocationUnits);
        w.WriteUInt32(SectorsPerAllocationUnit);
        w.WriteUInt32(BytesPerSector);
    }
}

/// <summary>FileFsDeviceInformation (4): DeviceType(4) Characteristics(4).</summary>
public readonly record struct FileFsDeviceInformation(uint DeviceType, uint Characteristics)
{
    public const int Size = 8;
    public const uint FileDeviceDisk = 0x7;
    public const uint FileRemoteDevice = 0x10;
    public const uint FileDeviceIsMounted = 0x20;

    public void WriteTo(WireWriter w)
    {
        w.WriteUInt32(DeviceType);
        w.WriteUInt32(Characteristics);
    }
}

/// <summary>FileFsAttributeInformation (5): FileSystemAttributes(4) MaximumComponentNameLength(4) NameLength(4) Name.</summary>
public readonly record struct FileFsAttributeInformation(FileSystemAttributes Attributes, uint MaximumComponentNameLength, string FileSystemName)
{
    public const int FixedSize = 12;

    public void WriteTo(WireWriter w)
    {
        string name = FileSystemName ?? "";
        w.WriteUInt32((uint)Attributes);
        w.WriteUInt32(MaximumComponentNameLength);
        w.WriteUInt32((uint)Encoding.Unicode.GetByteCount(name));
        w.WriteUtf16(name);
    }
}

/// <summary>FileFsFullSizeInformation (7), 32 bytes.</summary>
public readonly record struct FileFsFullSizeInformation(long TotalAllocationUnits, long CallerAvailableAllocationUnits, long ActualAvailableAllocationUnits, uint SectorsPerAllocationUnit, uint BytesPerSector)
{
    public const int Size = 32;

    public void WriteTo(WireWriter w)
    {
        w.WriteInt64(TotalAllocationUnits);
        w.WriteInt64(CallerAvailableAllocationUnits);
        w.WriteInt64(ActualAvailableAllocationUnits);
        w.WriteUInt32(SectorsPerAllocationUnit);
        w.WriteUInt32(BytesPerSector);
    }
}

/// <summary>FileFsObjectIdInformation (8): ObjectId(16) ExtendedInfo(48).</summary>
public readonly record struct FileFsObjectIdInformation(Guid ObjectId, ReadOnlyMemory<byte> ExtendedInfo)
{
    public const int Size = 64;

    /// <summary>Writes ObjectId and ExtendedInfo, zero-padded (or cut) to 48 bytes.</summary>
    public void WriteTo(WireWriter w)
    {
        w.WriteGuid(ObjectId);
        var ext = ExtendedInfo.Span;
        if (ext.Length > 48) ext = ext[..48];
        w.WriteBytes(ext);
        w.WriteZeros(48 - ext.Length);
    }
}

/// <summary>FileFsSectorSizeInformation (11), 28 bytes.</summary>
public readonly record struct FileFsSectorSizeInformation(
    uint LogicalBytesPerSector,
    uint PhysicalBytesPerSectorForAtomicity,
    uint PhysicalBytesPerSectorForPerformance,
    uint FileSystemEffectivePhysicalBytesPerSectorForAtomicity,
    uint Flags,
    uint ByteOffsetForSectorAlignment,
    uint ByteOffsetForPartitionAlignment)
{
    public const int Size = 28;
    public const uint AlignedDevice = 0x1;
    public const uint PartitionAlignedOnDevice = 0x2;
    public const uint NoSeekPenalty = 0x4;
    public const uint TrimEnabled = 0x8;
    /// <summary>Value for the alignment offsets when unknown.</summary>
    public const uint UnknownOffset = 0xFFFFFFFF;

    public void WriteTo(WireWriter w)
    {
        w.WriteUInt32(LogicalBytesPerSector);
        w.WriteUInt32(PhysicalBytesPerSectorForAtomicity);
        w.WriteUInt32(PhysicalBytesPerSectorForPerformance);
        w.WriteUInt32(FileSystemEffectivePhysicalBytesPerSectorForAtomicity);
        w.WriteUInt32(Flags);
        w.WriteUInt32(ByteOffsetForSectorAlignment);
        w.WriteUInt32(ByteOffsetForPartitionAlignment);
    }
}
