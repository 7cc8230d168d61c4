using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace SmbCopy.Storage.Local;

/// <summary>
/// Shares that are directories of the gateway host (Linux, kernel 5.6 or later for openat2).
/// <see cref="StorageVolumeOptions.Path"/> is the directory (relative paths are resolved against the working directory).
/// </summary>
public sealed class LocalStorageDriver(ILoggerFactory? loggerFactory = null) : IStorageDriver
{
    private readonly ILoggerFactory _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;

    public string Name => "Local";

    public ValueTask<IStorageVolume> OpenVolumeAsync(StorageVolumeOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        cancellationToken.ThrowIfCancellationRequested();
        if (!OperatingSystem.IsLinux())
            throw new StorageException(StorageError.NotSupported, "The local driver needs Linux.");
        IStorageVolume volume = LocalVolume.Open(options, _loggerFactory.CreateLogger<LocalVolume>());
        return ValueTask.FromResult(volume);
    }
}
