using System.Buffers.Binary;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Storage;

namespace SmbCopy.Gateway.Smb.Files.Info;

/// <summary>QUERY_INFO with InfoType FILESYSTEM (MS-SMB2 3.3.5.20.2, MS-FSA 2.1.5.12, MS-FSCC 2.5).</summary>
public static class FsInfoQueries
{
    private const int BytesPerSector = 512;
    private const uint FileDeviceNamedPipe = 0x11;
    private const uint FileReadOnlyDevice = 0x2;
    // The minimum output length Windows demands is sizeof() of the C structure, one WCHAR of the name and the
    // alignment padding included (smbtorture smb2.getinfo.qfs_buffercheck): 24 for Volume, 16 for Attribute.
    private const int VolumeStructSize = 24;
    private const int AttributeStructSize = 16;
    private const int ControlSize = 48;

    public static async ValueTask<InfoAnswer> QueryAsync(FileOpen open, FsInformationClass infoClass, bool readOnlyShare, CancellationToken cancel)
    {
        if (!Enum.IsDefined(infoClass)) return InfoAnswer.Fail(NtStatus.InvalidInfoClass);
        var volume = open.Volume;
        switch (infoClass)
        {
            case FsInformationClass.Device:
                return InfoAnswer.Fixed(FileFsDeviceInformation.Size, new FileFsDeviceInformation(FileFsDeviceInformation.FileDeviceDisk,
                    FileFsDeviceInformation.FileDeviceIsMounted | (readOnlyShare ? FileReadOnlyDevice : 0)).WriteTo);
            case FsInformationClass.Attribute:
                return InfoAnswer.Of(AttributeStructSize,
                    new FileFsAttributeInformation(Attributes(volume.Capabilities, readOnlyShare), 255, "NTFS").WriteTo);
            case FsInformationClass.Control:
                return InfoAnswer.Fixed(ControlSize, WriteControl);
            case FsInformationClass.SectorSize:
                int physical = Math.Max(BytesPerSector, Math.Min(ClusterSize(volume, 0), 4096));
                return InfoAnswer.Fixed(FileFsSectorSizeInformation.Size, new FileFsSectorSizeInformation(BytesPerSector, (uint)physical,
                    (uint)physical, (uint)physical, FileFsSectorSizeInformation.AlignedDevice | FileFsSectorSizeInformation.PartitionAlignedOnDevice,
                    0, 0).WriteTo);
            case FsInformationClass.Volume or FsInformationClass.Size or FsInformationClass.FullSize or FsInformationClass.ObjectId:
                break;
            default:
                return InfoAnswer.Fail(NtStatus.NotSupported); // Label, DriverPath, VolumeFlags: not queryable here
        }

        var info = await volume.GetVolumeInfoAsync(cancel).ConfigureAwait(false);
        int cluster = ClusterSize(volume, info.ClusterSize);
        uint sectorsPerUnit = (uint)Math.Max(1, cluster / BytesPerSector);
        long total = info.TotalBytes / cluster, free = info.FreeBytes / cluster;
        switch (infoClass)
        {
            case FsInformationClass.Volume:
                return InfoAnswer.Of(VolumeStructSize, new FileFsVolumeInformation(0, info.SerialNumber, false, volume.Name).WriteTo);
            case FsInformationClass.Size:
                return InfoAnswer.Fixed(FileFsSizeInformation.Size, new FileFsSizeInformation(total, free, sectorsPerUnit, BytesPerSector).WriteTo);
            case FsInformationClass.FullSize:
                return InfoAnswer.Fixed(FileFsFullSizeInformation.Size, new FileFsFullSizeInformation(total, free, free, sectorsPerUnit, BytesPerSector).WriteTo);
            default:
                // ObjectId: Samba answers one derived from the volume; so do we (serial number + share name).
                return InfoAnswer.Fixed(FileFsObjectIdInformation.Size, new FileFsObjectIdInformation(VolumeObjectId(info.SerialNumber, volume.Name), default).WriteTo);
        }
    }

    /// <summary>FileFsDeviceInformation for a pipe handle; the rest is not a file system (INVALID_PARAMETER as Windows).</summary>
    public static InfoAnswer QueryPipe(FsInformationClass infoClass)
    {
        if (!Enum.IsDefined(infoClass)) return InfoAnswer.Fail(NtStatus.InvalidInfoClass);
        return infoClass == FsInformationClass.Device
            ? InfoAnswer.Fixed(FileFsDeviceInformation.Size, new FileFsDeviceInformation(FileDeviceNamedPipe, 0).WriteTo)
            : InfoAnswer.Fail(NtStatus.InvalidParameter);
    }

    /// <summary>
    /// FileSystemAttributes announced for a volume: NTFS-like basics, sparse files only when the backend keeps holes,
    /// BLOCK_REFCOUNTING only when it can clone (Windows clients send DUPLICATE_EXTENTS only then), NAMED_STREAMS and
    /// EXTENDED_ATTRIBUTES only when the backend keeps them.
    /// </summary>
    public static FileSystemAttributes Attributes(StorageCapabilities capabilities, bool readOnly)
    {
        var a = FileSystemAttributes.CasePreservedNames | FileSystemAttributes.UnicodeOnDisk | FileSystemAttributes.PersistentAcls;
        if ((capabilities & StorageCapabilities.SparseFiles) != 0) a |= FileSystemAttributes.SupportsSparseFiles;
        if ((capabilities & StorageCapabilities.CloneRange) != 0) a |= FileSystemAttributes.SupportsBlockRefcounting;
        if ((capabilities & StorageCapabilities.NamedStreams) != 0) a |= FileSystemAttributes.NamedStreams;
        if ((capabilities & StorageCapabilities.FileEas) != 0) a |= FileSystemAttributes.SupportsExtendedAttributes;
        if (readOnly) a |= FileSystemAttributes.ReadOnlyVolume;
        return a;
    }

    /// <summary>
    /// The cluster size announced (BytesPerSector × SectorsPerAllocationUnit): the clone alignment when the volume can
    /// clone (clients align FSCTL_DUPLICATE_EXTENTS_TO_FILE ranges to it), else the backend's allocation unit.
    /// </summary>
    public static int ClusterSize(IStorageVolume volume, int backendClusterSize)
    {
        if ((volume.Capabilities & StorageCapabilities.CloneRange) != 0 && volume.CloneAlignment > 0) return volume.CloneAlignment;
        return backendClusterSize > 0 ? backendClusterSize : 4096;
    }

    /// <summary>
    /// FileFsControlInformation (MS-FSCC 2.5.2) of a volume without quotas, as Windows answers for NTFS with quotas off:
    /// no filtering thresholds, no default quota (-1 = no limit), FileSystemControlFlags 0.
    /// </summary>
    private static void WriteControl(Protocol.Wire.WireWriter w)
    {
        w.WriteInt64(0); // FreeSpaceStartFiltering
        w.WriteInt64(0); // FreeSpaceThreshold
        w.WriteInt64(0); // FreeSpaceStopFiltering
        w.WriteInt64(-1); // DefaultQuotaThreshold
        w.WriteInt64(-1); // DefaultQuotaLimit
        w.WriteUInt32(0); // FileSystemControlFlags
        w.WriteUInt32(0); // Padding
    }

    private static Guid VolumeObjectId(uint serial, string name)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, serial);
        ulong hash = 14695981039346656037UL; // FNV-1a of the share name
        foreach (char c in name.ToUpperInvariant()) { hash ^= c; hash *= 1099511628211UL; }
        BinaryPrimitives.WriteUInt64LittleEndian(bytes[4..], hash);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[12..], 0x53424D43); // "CMBS"
        return new Guid(bytes);
    }
}
