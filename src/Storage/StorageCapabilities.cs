namespace SmbCopy.Storage;

/// <summary>What a volume can do, probed when it is opened. The copy engine chooses clone / range copy / streamed
/// copy from these; the gateway announces sparse files, persistent attributes etc. from them.</summary>
[Flags]
public enum StorageCapabilities
{
    None = 0,
    /// <summary>Ranges can be cloned (shared extents, copy on write): <see cref="IStorageVolume.CloneRangeAsync"/>.</summary>
    CloneRange = 1 << 0,
    /// <summary>Ranges can be copied inside the backend without passing through the gateway:
    /// <see cref="IStorageVolume.CopyRangeAsync"/>.</summary>
    RangeCopy = 1 << 1,
    /// <summary>Holes are kept: writing past EOF or marking sparse does not allocate the gap.</summary>
    SparseFiles = 1 << 2,
    /// <summary>Extended attributes are available (the local driver keeps Windows metadata in them).</summary>
    ExtendedAttributes = 1 << 3,
    /// <summary>Creation time survives reopen and can be set.</summary>
    PersistentCreationTime = 1 << 4,
    /// <summary>DOS attributes (hidden, system, archive, read-only) survive reopen.</summary>
    PersistentDosAttributes = 1 << 5,
    /// <summary>The backing store distinguishes names by case (the driver then does case-insensitive lookup itself).</summary>
    CaseSensitiveBackingStore = 1 << 6,
    /// <summary>The backend has a native birth time (not only one stored by the driver).</summary>
    NativeBirthTime = 1 << 7,
    /// <summary>Space can be preallocated (<see cref="IStorageHandle.SetAllocationSizeAsync"/> reserves blocks).</summary>
    Preallocation = 1 << 8,
    /// <summary>Named data streams (<see cref="OpenRequest.Stream"/>, <see cref="IStorageHandle.GetStreamsAsync"/>):
    /// each stream is a file of its own for I/O, copy and clone; the gateway announces FILE_NAMED_STREAMS.</summary>
    NamedStreams = 1 << 9,
    /// <summary>Windows extended attributes (name/value pairs, <see cref="IStorageHandle.GetEasAsync"/>); the gateway
    /// announces FILE_SUPPORTS_EXTENDED_ATTRIBUTES.</summary>
    FileEas = 1 << 10,
}

/// <summary>Sizes and identity of a volume (FileFsSizeInformation, FileFsVolumeInformation, FileFsAttributeInformation).</summary>
/// <param name="TotalBytes">Capacity.</param>
/// <param name="FreeBytes">Bytes free for the gateway's user.</param>
/// <param name="ClusterSize">Allocation unit in bytes.</param>
/// <param name="FileSystemName">Name of the backing file system ("ext4", "btrfs", "nfs4", ...); the gateway decides what to announce.</param>
/// <param name="SerialNumber">Volume serial number (stable across restarts).</param>
/// <param name="MaxNameLength">Longest component name, in bytes of the backend's encoding.</param>
public readonly record struct VolumeInfo(
    long TotalBytes,
    long FreeBytes,
    int ClusterSize,
    string FileSystemName,
    uint SerialNumber,
    int MaxNameLength);

/// <summary>Configuration of one volume (one share).</summary>
/// <param name="Name">Share name, for logs.</param>
/// <param name="Path">Where the share lives: a directory for the local driver, an export path for NFS, ...</param>
/// <param name="ReadOnly">Refuse every change with <see cref="StorageError.ReadOnly"/>.</param>
/// <param name="Settings">Driver-specific settings (server, port, LUN, ...); may be null.</param>
public sealed record StorageVolumeOptions(
    string Name,
    string Path,
    bool ReadOnly = false,
    IReadOnlyDictionary<string, string?>? Settings = null);
