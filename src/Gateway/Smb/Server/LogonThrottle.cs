using System.Collections.Concurrent;
using System.Net;

namespace SmbCopy.Gateway.Smb.Server;

/// <summary>
/// Slows down repeated failed log-ons from one client address: after a few failures each further
/// attempt is answered only after a delay that doubles up to a cap. A success clears the record.
/// </summary>
public sealed class LogonThrottle(int freeFailures, TimeProvider time)
{
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(8);
    private readonly ConcurrentDictionary<IPAddress, (int Failures, DateTimeOffset Last)> _failures = new();

    public TimeSpan DelayFor(IPAddress? client)
    {
        if (client is null || !_failures.TryGetValue(client, out var record)) return TimeSpan.Zero;
        if (time.GetUtcNow() - record.Last > TimeSpan.FromMinutes(15)) { _failures.TryRemove(client, out _); return TimeSpan.Zero; }
        int excess = record.Failures - freeFailures;
        if (excess < 0) return TimeSpan.Zero;
        var delay = TimeSpan.FromMilliseconds(250 * Math.Pow(2, Math.Min(excess, 10)));
        return delay < MaxDelay ? delay : MaxDelay;
    }

    public void Failed(IPAddress? client)
    {
        if (client is null) return;
        var now = time.GetUtcNow();
        _failures.AddOrUpdate(client, (1, now), (_, r) => (r.Failures + 1, now));
    }

    public void Succeeded(IPAddress? client)
    {
        if (client is not null) _failures.TryRemove(client, out _);
    }
}
