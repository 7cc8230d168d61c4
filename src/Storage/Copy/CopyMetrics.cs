using System.Diagnostics.Metrics;

namespace SmbCopy.Storage.Copy;

/// <summary>
/// Copy telemetry on a meter named "SmbCopy" (the gateway exports every meter of that name on /metrics): bytes cloned /
/// offloaded / streamed per share, durations, fallbacks by reason. Tags: share, method (clone | offload | streamed),
/// reason.
/// </summary>
public static class CopyMetrics
{
    public const string MeterName = "SmbCopy";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> Bytes = Meter.CreateCounter<long>(
        "smbcopy.copy.bytes", "By", "Bytes copied server-side, by method (clone, offload, streamed) and share.");
    private static readonly Counter<long> Operations = Meter.CreateCounter<long>(
        "smbcopy.copy.operations", null, "Server-side copies, by method and share.");
    private static readonly Counter<long> Fallbacks = Meter.CreateCounter<long>(
        "smbcopy.copy.fallbacks", null, "Times a cheaper copy method was not used, by the method given up and the reason.");
    private static readonly Counter<long> Failures = Meter.CreateCounter<long>(
        "smbcopy.copy.failures", null, "Server-side copies that stopped with an error, by method and share.");
    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>(
        "smbcopy.copy.duration", "s", "Duration of server-side copies, by method and share.", tags: null,
        advice: new InstrumentAdvice<double>
        {
            HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
        });

    public static string Tag(CopyMethod method) => method switch
    {
        CopyMethod.Clone => "clone",
        CopyMethod.Offload => "offload",
        CopyMethod.Streamed => "streamed",
        _ => "none",
    };

    public static string Tag(CopyFallbackReason reason) => reason switch
    {
        CopyFallbackReason.CloneUnsupported => "clone_unsupported",
        CopyFallbackReason.Unaligned => "unaligned",
        CopyFallbackReason.OverlappingRanges => "overlapping_ranges",
        CopyFallbackReason.DifferentBackends => "different_backends",
        CopyFallbackReason.CrossDevice => "cross_device",
        CopyFallbackReason.CloneRefused => "clone_refused",
        CopyFallbackReason.RangeCopyUnsupported => "range_copy_unsupported",
        CopyFallbackReason.RangeCopyRefused => "range_copy_refused",
        CopyFallbackReason.CloneNotRequested => "clone_not_requested",
        _ => "none",
    };

    /// <summary>Records one finished copy (called by <see cref="CopyEngine"/>).</summary>
    public static void Record(string share, CopyResult result)
    {
        var shareTag = new KeyValuePair<string, object?>("share", share);
        var methodTag = new KeyValuePair<string, object?>("method", Tag(result.Method));
        foreach (var fallback in result.Fallbacks)
            Fallbacks.Add(1, shareTag, new KeyValuePair<string, object?>("method", Tag(fallback.From)),
                new KeyValuePair<string, object?>("reason", Tag(fallback.Reason)));
        if (result.BytesCopied > 0) Bytes.Add(result.BytesCopied, shareTag, methodTag);
        Operations.Add(1, shareTag, methodTag);
        Duration.Record(result.Duration.TotalSeconds, shareTag, methodTag);
        if (result.Error is not null) Failures.Add(1, shareTag, methodTag);
    }
}
