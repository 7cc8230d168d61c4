using System.Diagnostics;
using System.Diagnostics.Metrics;
using SmbCopy.Gateway.Hosting;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Smb.Dispatch;

/// <summary>Per-request telemetry: a counter and a duration histogram by command and status, and a span per request.</summary>
public static class SmbMetrics
{
    private static readonly Counter<long> Requests = Telemetry.Meter.CreateCounter<long>(
        "smbcopy.smb.requests", description: "SMB2 requests answered, by command and status");
    private static readonly Histogram<double> Duration = Telemetry.Meter.CreateHistogram<double>(
        "smbcopy.smb.request.duration", unit: "s", description: "Time from dispatch to response, by command");
    private static readonly UpDownCounter<long> Connections = Telemetry.Meter.CreateUpDownCounter<long>(
        "smbcopy.smb.connections", description: "Open SMB connections");

    public static Activity? StartRequest(Smb2Command command) =>
        Telemetry.ActivitySource.HasListeners() ? Telemetry.ActivitySource.StartActivity("SMB2 " + command, ActivityKind.Server) : null;

    public static void Completed(Smb2Command command, NtStatus status, long startTimestamp, Activity? activity)
    {
        var commandTag = new KeyValuePair<string, object?>("command", command.ToString());
        Requests.Add(1, commandTag, new KeyValuePair<string, object?>("status", status.ToString()));
        Duration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, commandTag);
        if (activity is not null)
        {
            activity.SetTag("smb.status", status.ToString());
            if (status.IsError()) activity.SetStatus(ActivityStatusCode.Error, status.ToString());
            activity.Dispose();
        }
    }

    public static void ConnectionOpened() => Connections.Add(1);
    public static void ConnectionClosed() => Connections.Add(-1);
}
