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
/// options' Path), optional <c>FirstLba</c>, <c>Blocks</c> (a region of the LUN: several shares on one LUN),
/// <c>InitiatorName</c>, <c>ChapUser</c>, <c>ChapSecret</c>, <c>ExtendedCopy</c> ("false": copy with READ/WRITE
/// through the gateway even when the target has a copy manager), <c>Format</c> ("true": make a new empty volume).
/// Shares on the same portal and target share one iSCSI session, so a copy between them (another LUN, or another
/// region of one LUN) is an EXTENDED COPY between two LUNs of that session.
/// </summary>
public sealed class IscsiStorageDriver(ILoggerFactory? loggerFactory = null) : IStorageDriver
{
    private readonly ILoggerFactory _loggers = loggerFactory ?? NullLoggerFactory.Instance;
    private readonly SemaphoreSlim _sessionsGate = new(1, 1);
    private readonly Dictionary<string, SharedSession> _sessions = [];

    public string Name => "Iscsi";

    public async ValueTask<IStorageVolume> OpenVolumeAsync(StorageVolumeOptions options, CancellationToken cancellationToken = default)
    {
        var s = options.Settings ?? new Dictionary<string, string?>();
        string Get(string key) => s.TryGetValue(key, out var v) && !string.IsNullOrEmpty(v) ? v
            : throw new StorageException(StorageError.InvalidParameter, $"iSCSI share {options.Name}: setting {key} is missing");
        string? Opt(string key) => s.TryGetValue(key, out var v) && !string.IsNullOrEmpty(v) ? v : null;
        long Long(string key, long dflt) => Opt(key) is { } v ? long.Parse(v, CultureInfo.InvariantCulture) : dflt;
        bool Bool(string key, bool dflt) => Opt(key) is { } v ? bool.Parse(v) : dflt;

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
        var session = await AcquireSessionAsync(options.Name, initiator, cancellationToken).ConfigureAwait(false);
        try
        {
            var device = await ScsiBlockDevice.OpenAsync(session.Client, (int)Long("Lun", 0), cancellationToken).ConfigureAwait(false);
            var volumeOptions = new IscsiVolumeOptions(options.Name, Opt("Metadata") ?? options.Path, Long("FirstLba", 0), Long("Blocks", 0),
                Bool("Format", false), options.ReadOnly, ExtendedCopy: Bool("ExtendedCopy", true));
            var volume = await IscsiVolume.MountAsync(device, volumeOptions, session, _loggers.CreateLogger<IscsiVolume>(), cancellationToken)
                .ConfigureAwait(false);
            IscsiMetrics.Register(volume);
            return volume;
        }
        catch (IscsiException e)
        {
            await session.DisposeAsync().ConfigureAwait(false);
            throw new StorageException(StorageError.Unavailable, $"iSCSI share {options.Name}: {e.Message}", e);
        }
        catch
        {
            await session.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The session for this portal, target and initiator identity (logged in on first use), with one more
    /// reference; disposing the returned lease drops it, the last one logs out.</summary>
    private async Task<SharedSession> AcquireSessionAsync(string share, IscsiInitiatorOptions initiator, CancellationToken ct)
    {
        string key = $"{initiator.Host}:{initiator.Port}|{initiator.TargetName}|{initiator.InitiatorName}|{initiator.ChapUser}";
        await _sessionsGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_sessions.TryGetValue(key, out var existing))
            {
                existing.References++;
                return existing;
            }
            IscsiClient client;
            try
            {
                client = await IscsiClient.ConnectAsync(initiator, _loggers.CreateLogger<IscsiClient>(), ct).ConfigureAwait(false);
            }
            catch (IscsiException e)
            {
                throw new StorageException(StorageError.Unavailable, $"iSCSI share {share}: {e.Message}", e);
            }
            IscsiMetrics.Register(client);
            var session = new SharedSession(this, key, client);
            _sessions[key] = session;
            return session;
        }
        finally
        {
            _sessionsGate.Release();
        }
    }

    /// <summary>One iSCSI session used by every share on its target; handed to each volume as the thing it disposes.</summary>
    private sealed class SharedSession(IscsiStorageDriver driver, string key, IscsiClient client) : IAsyncDisposable
    {
        public IscsiClient Client => client;
        public int References { get; set; } = 1;

        public async ValueTask DisposeAsync()
        {
            await driver._sessionsGate.WaitAsync().ConfigureAwait(false);
            try
            {
                if (--References > 0) return;
                driver._sessions.Remove(key);
                IscsiMetrics.Unregister(client);
            }
            finally
            {
                driver._sessionsGate.Release();
            }
            await client.DisposeAsync().ConfigureAwait(false);
        }
    }
}
