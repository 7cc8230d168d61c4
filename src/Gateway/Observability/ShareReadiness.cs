using System.Runtime.CompilerServices;
using SmbCopy.Gateway.Smb.Server;
using SmbCopy.Storage;

namespace SmbCopy.Gateway.Observability;

/// <summary>One share's backend as last probed: reachable or why not, and what it can offload.</summary>
/// <param name="Capabilities">The volume's capabilities; null while it has not opened.</param>
/// <param name="FileSystem">The backend's file system name ("ext4", "btrfs", "nfs4"), when known.</param>
public sealed record ShareHealth(string Name, string Driver, bool Reachable, string? Problem, StorageCapabilities? Capabilities,
    int CloneAlignment, string? FileSystem)
{
    public bool CanClone => Capabilities is { } c && (c & StorageCapabilities.CloneRange) != 0;
    public bool CanRangeCopy => Capabilities is { } c && (c & StorageCapabilities.RangeCopy) != 0;
}

public sealed record ReadinessReport(IReadOnlyList<ShareHealth> Shares)
{
    /// <summary>Every disk share's backend opened and answered.</summary>
    public bool Ready => Shares.All(s => s.Reachable);
}

/// <summary>
/// Readiness: a share is ready when its volume opens (<see cref="SmbShare.GetVolumeAsync"/>) and answers a volume
/// query within the timeout. The first probe opens the volumes (they open lazily). A change of a share's state is
/// logged once, so the journal says when and why a backend went away.
/// </summary>
public sealed class ShareReadiness
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(2);

    private static readonly ConditionalWeakTable<SmbServer, ShareReadiness> ByServer = [];

    private readonly IReadOnlyList<SmbShare> _shares;
    private readonly ILogger _logger;
    private readonly Dictionary<string, bool> _lastState = new(StringComparer.OrdinalIgnoreCase);
    private readonly Lock _gate = new();

    public ShareReadiness(IReadOnlyList<SmbShare> shares, ILogger logger)
    {
        _shares = shares;
        _logger = logger;
    }

    public static ShareReadiness For(SmbServer server) => ByServer.GetValue(server,
        s => new ShareReadiness(s.Shares.All, s.LoggerFactory.CreateLogger("SmbCopy.Gateway.Readiness")));

    public async Task<ReadinessReport> CheckAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var probes = _shares.Where(s => !s.IsPipe).Select(s => ProbeAsync(s, timeout, cancellationToken)).ToList();
        var report = new ReadinessReport(await Task.WhenAll(probes).ConfigureAwait(false));
        LogChanges(report);
        return report;
    }

    private static async Task<ShareHealth> ProbeAsync(SmbShare share, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        IStorageVolume? volume = null;
        try
        {
            volume = await share.GetVolumeAsync().WaitAsync(cts.Token).ConfigureAwait(false);
            var info = await volume.GetVolumeInfoAsync(cts.Token).AsTask().WaitAsync(cts.Token).ConfigureAwait(false);
            return new ShareHealth(share.Name, share.DriverName, true, null, volume.Capabilities, volume.CloneAlignment, info.FileSystemName);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Unreachable(share, volume, $"no answer within {timeout.TotalSeconds:0.#} s");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return Unreachable(share, volume, Describe(e));
        }
    }

    private static ShareHealth Unreachable(SmbShare share, IStorageVolume? volume, string problem) =>
        new(share.Name, share.DriverName, false, (volume is null ? "volume did not open: " : "volume query failed: ") + problem,
            volume?.Capabilities, volume?.CloneAlignment ?? 0, null);

    /// <summary>The storage error or exception type and its message (driver messages name paths and servers, never secrets).</summary>
    private static string Describe(Exception e) => e is StorageException se ? $"{se.Error}: {se.Message}" : $"{e.GetType().Name}: {e.Message}";

    private void LogChanges(ReadinessReport report)
    {
        lock (_gate)
        {
            foreach (var share in report.Shares)
            {
                bool known = _lastState.TryGetValue(share.Name, out var was);
                if (known && was == share.Reachable) continue;
                _lastState[share.Name] = share.Reachable;
                if (share.Reachable)
                {
                    _logger.LogInformation("Share {Share} ({Driver}, {FileSystem}) is ready: clone {Clone}, range copy {RangeCopy}",
                        share.Name, share.Driver, share.FileSystem ?? "?", share.CanClone ? "yes" : "no", share.CanRangeCopy ? "yes" : "no");
                }
                else
                {
                    _logger.LogWarning("Share {Share} ({Driver}) is not ready: {Problem}", share.Name, share.Driver, share.Problem);
                }
            }
        }
    }
}
