using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SmbCopy.Storage.Iscsi.Initiator;
using SmbCopy.Storage.Iscsi.Scsi;
using SmbCopy.Storage.Iscsi.Volume;

namespace SmbCopy.Storage.Iscsi;

/// <summary>
/// The "Iscsi" driver: a share is a volume on a LUN, reached through SmbCopy's own initiator. Settings:
/// <c>Portal</c> (host:port), <c>Target</c> (IQN), <c>Lun</c>, <c>Metadata</c> (SQLite file; defaults to the volume
/// options' Path), optional <c>FirstLba</c>, <c>Blocks</c>, <c>InitiatorName</c>, <c>ChapUser</c>, <c>ChapSecret</c>,
/// <c>Format</c> ("true": make a new empty volume).
/// </summary>
public sealed class IscsiStorageDriver(ILoggerFactory? loggerFactory = null) : IStorageDriver
{
    private readonly ILoggerFactory _loggers = loggerFactory ?? NullLoggerFactory.Instance;

    public string Name => "Iscsi";

    public async ValueTask<IStorageVolume> OpenVolumeAsync(StorageVolumeOptions options, CancellationToken cancellationToken = default)
    {
        var s = options.Settings ?? new Dictionary<string, string?>();
        string Get(string key) => s.TryGetValue(key, out var v) && !string.IsNullOrEmpty(v) ? v
            : throw new StorageException(StorageError.InvalidParameter, $"iSCSI share {options.Name}: setting {key} is missing");
        string? Opt(string key) => s.TryGetValue(key, out var v) && !string.IsNullOrEmpty(v) ? v : null;
        long Long(string key, long dflt) => Opt(key) is { } v ? long.Parse(v, CultureInfo.InvariantCulture) : dflt;

        var (host, port) = IscsiConnection.ParseAddress(Get("Portal"), 3260);
        var initiator = new IscsiInitiatorOptions
        {
            Host = host,
            Port = port,
            TargetName = Get("Target"),
            InitiatorName = Opt("InitiatorName") ?? "iqn.2025-01.org.smbcopy:gateway",
            ChapUser = Opt("ChapUser"),
            ChapSecret = Opt("ChapSecret"),
        };
        IscsiClient client;
        try
        {
            client = await IscsiClient.ConnectAsync(initiator, _loggers.CreateLogger<IscsiClient>(), cancellationToken).ConfigureAwait(false);
        }
        catch (IscsiException e)
        {
            throw new StorageException(StorageError.Unavailable, $"iSCSI share {options.Name}: {e.Message}", e);
        }
        try
        {
            var device = await ScsiBlockDevice.OpenAsync(client, (int)Long("Lun", 0), cancellationToken).ConfigureAwait(false);
            var volumeOptions = new IscsiVolumeOptions(options.Name, Opt("Metadata") ?? options.Path, Long("FirstLba", 0), Long("Blocks", 0),
                Opt("Format") == "true", options.ReadOnly);
            return await IscsiVolume.MountAsync(device, volumeOptions, client, _loggers.CreateLogger<IscsiVolume>(), cancellationToken)
                .ConfigureAwait(false);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
