using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace SmbCopy.Storage.Nfs;

/// <summary>
/// Shares on NFSv4.2 exports through this driver's own client. Settings (<see cref="StorageVolumeOptions.Settings"/>):
/// "Server" (required), "Port" (2049), "Export" ("/"; else <see cref="StorageVolumeOptions.Path"/>), "Uid" and "Gid"
/// (0) for AUTH_SYS.
/// </summary>
public sealed class NfsStorageDriver(ILoggerFactory? loggerFactory = null) : IStorageDriver
{
    private readonly ILoggerFactory _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;

    public string Name => "Nfs";

    public async ValueTask<IStorageVolume> OpenVolumeAsync(StorageVolumeOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return await NfsVolume.OpenAsync(options, _loggerFactory.CreateLogger<NfsVolume>(), cancellationToken).ConfigureAwait(false);
    }
}
