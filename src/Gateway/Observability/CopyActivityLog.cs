using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;
using SmbCopy.Gateway.Hosting;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Gateway.Smb.Handlers.Ioctl;
using SmbCopy.Gateway.Smb.Server;
using SmbCopy.Storage.Copy;

namespace SmbCopy.Gateway.Observability;

/// <summary>Who asked for a copy and between which opens: the identity of one row of the status page.</summary>
/// <param name="Kind">The FSCTL: COPYCHUNK, COPYCHUNK_WRITE, DUPLICATE_EXTENTS, OFFLOAD_WRITE.</param>
/// <param name="Share">The destination's share (the share the bytes are counted for, as in the metrics).</param>
/// <param name="SourceShare">The source's share (differs for cross-share copy-chunk and ODX).</param>
public sealed record CopyOrigin(string Kind, string Share, string SourceShare, string SourcePath, string DestinationPath,
    string User, string Client, ulong SessionId, ulong SourceOpenId, ulong DestinationOpenId)
{
    public static CopyOrigin From(FsctlContext context, string kind, FileOpen source, FileOpen destination)
    {
        var session = context.Request.Session;
        return new CopyOrigin(kind, destination.Tree.Share.Name, source.Tree.Share.Name, source.Handle.Path, destination.Handle.Path,
            session is null ? "" : FormatUser(session.Domain, session.UserName, session.IsAnonymous),
            FormatEndPoint(context.Request.Connection.RemoteEndPoint), session?.SessionId ?? 0, source.VolatileId, destination.VolatileId);
    }

    public static string FormatUser(string domain, string user, bool anonymous) =>
        anonymous || user.Length == 0 ? "(anonymous)" : domain.Length == 0 ? user : domain + "\\" + user;

    public static string FormatEndPoint(IPEndPoint? endPoint) => endPoint switch
    {
        null => "",
        { Address.IsIPv4MappedToIPv6: true } => new IPEndPoint(endPoint.Address.MapToIPv4(), endPoint.Port).ToString(),
        _ => endPoint.ToString(),
    };
}

/// <summary>One copy as the status page shows it: an immutable snapshot.</summary>
/// <param name="Calls">Copy-engine calls merged into this row (one per chunk of a copy-chunk).</param>
/// <param name="Methods">Every method that moved bytes, cheapest first ("offload", "clone+streamed"); "none" when none did.</param>
/// <param name="FallbackReason">Why a cheaper method was not used (the last reason seen), "" when the cheapest worked.</param>
/// <param name="Duration">Time spent in the engine, summed over the calls.</param>
public sealed record CopyEntry(long Id, CopyOrigin Origin, DateTimeOffset Started, DateTimeOffset Updated, long BytesRequested,
    long BytesCopied, int Calls, int Active, string Methods, string FallbackReason, TimeSpan Duration, string? Error)
{
    public bool InFlight => Active > 0;
}

/// <summary>Bytes copied on one share since the start, by method.</summary>
public sealed record ShareCopyTotals(string Share, long Cloned, long Offload, long Streamed)
{
    public long Total => Cloned + Offload + Streamed;
    /// <summary>Bytes that did not pass through the gateway (clone or the backend's range copy).</summary>
    public long Offloaded => Cloned + Offload;
    public double OffloadedFraction => Total == 0 ? 0 : (double)Offloaded / Total;
}

public sealed record CopyActivitySnapshot(IReadOnlyList<CopyEntry> InFlight, IReadOnlyList<CopyEntry> Recent, IReadOnlyList<ShareCopyTotals> Totals)
{
    public static CopyActivitySnapshot Empty { get; } = new([], [], []);
}

/// <summary>
/// The copies in flight, the most recent ones, and the bytes per share and method, for the status page; and a span per
/// copy (child of the SMB request's span; the engine's backend calls are its children). Fed by the FSCTL handlers,
/// which run each copy-engine call through <see cref="TrackAsync"/>. Successive calls between the same two opens of a
/// session (the chunks of one Explorer or Robocopy copy, sent as many copy-chunk requests) make one row.
/// </summary>
public sealed class CopyActivityLog
{
    public const int DefaultCapacity = 50;
    /// <summary>A call between the same opens within this time of the row's last update joins the row.</summary>
    public static readonly TimeSpan MergeWindow = TimeSpan.FromSeconds(10);

    private static readonly ConditionalWeakTable<SmbServer, CopyActivityLog> ByServer = [];

    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly int _capacity;
    private readonly List<Row> _rows = []; // oldest first
    private readonly Dictionary<(ulong, ulong, ulong, string), Row> _byOpens = [];
    private readonly Dictionary<string, long[]> _totals = new(StringComparer.OrdinalIgnoreCase);
    private long _nextId;

    public CopyActivityLog(TimeProvider time, int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _time = time;
        _capacity = capacity;
    }

    /// <summary>The log of one server (one per process in the gateway).</summary>
    public static CopyActivityLog For(SmbServer server) => ByServer.GetValue(server, s => new CopyActivityLog(s.Time));

    /// <summary>The one call a copy site makes: runs <paramref name="copy"/> (a copy-engine call) as a tracked copy.</summary>
    public static ValueTask<CopyResult> TrackAsync(FsctlContext context, string kind, FileOpen source, FileOpen destination, long length,
        Func<ValueTask<CopyResult>> copy) =>
        For(context.Request.Server).RunAsync(CopyOrigin.From(context, kind, source, destination), length, copy);

    public async ValueTask<CopyResult> RunAsync(CopyOrigin origin, long length, Func<ValueTask<CopyResult>> copy)
    {
        var row = Begin(origin, length);
        using var activity = Telemetry.ActivitySource.StartActivity("copy " + origin.Kind, ActivityKind.Internal);
        activity?.SetTag("smbcopy.copy.kind", origin.Kind);
        activity?.SetTag("smbcopy.share", origin.Share);
        activity?.SetTag("smbcopy.source_share", origin.SourceShare);
        activity?.SetTag("smbcopy.copy.length", length);
        var clock = Stopwatch.StartNew();
        CopyResult result;
        try
        {
            result = await copy().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            End(row, null, clock.Elapsed, e);
            activity?.SetStatus(ActivityStatusCode.Error, e.GetType().Name);
            throw;
        }
        End(row, result, result.Duration, null);
        if (activity is not null)
        {
            activity.SetTag("smbcopy.copy.method", CopyMetrics.Tag(result.Method));
            activity.SetTag("smbcopy.copy.bytes", result.BytesCopied);
            if (result.FallbackReason != CopyFallbackReason.None) activity.SetTag("smbcopy.copy.fallback_reason", CopyMetrics.Tag(result.FallbackReason));
            if (result.Error is not null) activity.SetStatus(ActivityStatusCode.Error, result.Error.Error.ToString());
        }
        return result;
    }

    public CopyActivitySnapshot Snapshot()
    {
        lock (_gate)
        {
            var inFlight = new List<CopyEntry>();
            var recent = new List<CopyEntry>();
            for (int i = _rows.Count - 1; i >= 0; i--)
            {
                var entry = _rows[i].ToEntry();
                (entry.InFlight ? inFlight : recent).Add(entry);
            }
            var totals = _totals.OrderBy(t => t.Key, StringComparer.OrdinalIgnoreCase)
                .Select(t => new ShareCopyTotals(t.Key, t.Value[(int)CopyMethod.Clone], t.Value[(int)CopyMethod.Offload], t.Value[(int)CopyMethod.Streamed]))
                .ToList();
            return new CopyActivitySnapshot(inFlight, recent, totals);
        }
    }

    private Row Begin(CopyOrigin origin, long length)
    {
        var now = _time.GetUtcNow();
        var key = (origin.SessionId, origin.SourceOpenId, origin.DestinationOpenId, origin.Kind);
        lock (_gate)
        {
            if (origin.SessionId != 0 && _byOpens.TryGetValue(key, out var row) && (row.Active > 0 || now - row.Updated <= MergeWindow))
            {
                _rows.Remove(row);
            }
            else
            {
                row = new Row(++_nextId, origin, now);
                if (origin.SessionId != 0) _byOpens[key] = row;
            }
            _rows.Add(row);
            row.Active++;
            row.Requested += length;
            row.Updated = now;
            Trim();
            return row;
        }
    }

    private void End(Row row, CopyResult? result, TimeSpan duration, Exception? failure)
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            row.Active--;
            row.Calls++;
            row.Updated = now;
            row.Duration += duration;
            if (result is not null)
            {
                row.Copied += result.BytesCopied;
                if (result.BytesCopied > 0) row.Methods |= 1 << (int)result.Method;
                if (result.FallbackReason != CopyFallbackReason.None) row.FallbackReason = CopyMetrics.Tag(result.FallbackReason);
                if (result.Error is not null) row.Error = result.Error.Error.ToString();
                if (result.BytesCopied > 0 && result.Method != CopyMethod.None)
                {
                    if (!_totals.TryGetValue(row.Origin.Share, out var bytes)) _totals[row.Origin.Share] = bytes = new long[4];
                    bytes[(int)result.Method] += result.BytesCopied;
                }
            }
            else
            {
                // Exception messages can carry paths of the backend: the page shows the kind of failure only.
                row.Error = failure is SmbCopy.Storage.StorageException se ? se.Error.ToString() : failure?.GetType().Name;
            }
            Trim();
        }
    }

    /// <summary>Keeps at most the capacity of finished rows (rows in flight always stay).</summary>
    private void Trim()
    {
        for (int i = 0; i < _rows.Count && _rows.Count > _capacity;)
        {
            var row = _rows[i];
            if (row.Active > 0)
            {
                i++;
                continue;
            }
            _rows.RemoveAt(i);
            var key = (row.Origin.SessionId, row.Origin.SourceOpenId, row.Origin.DestinationOpenId, row.Origin.Kind);
            if (_byOpens.TryGetValue(key, out var current) && ReferenceEquals(current, row)) _byOpens.Remove(key);
        }
    }

    private sealed class Row(long id, CopyOrigin origin, DateTimeOffset started)
    {
        public long Id { get; } = id;
        public CopyOrigin Origin { get; } = origin;
        public DateTimeOffset Started { get; } = started;
        public DateTimeOffset Updated { get; set; } = started;
        public long Requested { get; set; }
        public long Copied { get; set; }
        public int Calls { get; set; }
        public int Active { get; set; }
        public int Methods { get; set; }
        public string FallbackReason { get; set; } = "";
        public TimeSpan Duration { get; set; }
        public string? Error { get; set; }

        public CopyEntry ToEntry() => new(Id, Origin, Started, Updated, Requested, Copied, Calls, Active, MethodNames(Methods),
            FallbackReason, Duration, Error);
    }

    internal static string MethodNames(int methods)
    {
        var names = new List<string>(3);
        foreach (var m in (ReadOnlySpan<CopyMethod>)[CopyMethod.Clone, CopyMethod.Offload, CopyMethod.Streamed])
        {
            if ((methods & (1 << (int)m)) != 0) names.Add(CopyMetrics.Tag(m));
        }
        return names.Count == 0 ? "none" : string.Join('+', names);
    }
}
