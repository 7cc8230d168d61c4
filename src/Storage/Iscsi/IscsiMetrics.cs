using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using SmbCopy.Storage.Iscsi.Initiator;
using SmbCopy.Storage.Iscsi.Volume;

namespace SmbCopy.Storage.Iscsi;

/// <summary>
/// The iSCSI driver's counters on the meter named "SmbCopy" (the gateway exports it on /metrics): SCSI commands by
/// kind and payload bytes per iSCSI session (tags target, portal), reconnects and retries, and per share the bytes
/// copied on the array (EXTENDED COPY) or through the gateway (READ/WRITE fallback). Prometheus names:
/// <c>smbcopy_iscsi_commands_total{kind="read|write|extended_copy|other"}</c>, <c>smbcopy_iscsi_bytes_total{direction="in|out"}</c>,
/// <c>smbcopy_iscsi_reconnects_total</c>, <c>smbcopy_iscsi_retries_total</c>,
/// <c>smbcopy_iscsi_copy_bytes_total{share, method="extended_copy|read_write"}</c>.
/// </summary>
public static class IscsiMetrics
{
    private static readonly ConcurrentDictionary<IscsiClient, string> Sessions = new();
    private static readonly ConcurrentDictionary<IscsiVolume, string> Volumes = new();
    private static readonly Meter Meter = new("SmbCopy");

    static IscsiMetrics()
    {
        Meter.CreateObservableCounter("smbcopy.iscsi.commands", () => Per(c =>
        [
            ("read", c.ReadCommands), ("write", c.WriteCommands), ("extended_copy", c.ExtendedCopyCommands), ("other", c.OtherCommands),
        ], "kind"), null, "SCSI commands sent, by kind (read, write, extended_copy, other) and iSCSI session.");
        Meter.CreateObservableCounter("smbcopy.iscsi.bytes", () => Per(c => [("in", c.BytesIn), ("out", c.BytesOut)], "direction"), "By",
            "Data bytes received (Data-In) and sent (immediate data, Data-Out) by iSCSI session.");
        Meter.CreateObservableCounter("smbcopy.iscsi.reconnects", () => Per(c => [("", c.Reconnects)], null), null,
            "Times an iSCSI session logged in again after a fault.");
        Meter.CreateObservableCounter("smbcopy.iscsi.retries", () => Per(c => [("", c.Retries)], null), null,
            "SCSI commands retried (connection loss, UNIT ATTENTION, BUSY, ...).");
        Meter.CreateObservableCounter("smbcopy.iscsi.copy.bytes", () => Volumes.SelectMany(v => new[]
        {
            new Measurement<long>(v.Key.ExtendedCopyBytes, new("share", v.Value), new("method", "extended_copy")),
            new Measurement<long>(v.Key.ReadWriteCopyBytes, new("share", v.Value), new("method", "read_write")),
        }), "By", "Bytes copied on the LUNs by share: by the array (extended_copy) or through the gateway (read_write).");
    }

    private static IEnumerable<Measurement<long>> Per(Func<IscsiCounters, (string Value, long Count)[]> values, string? tag) =>
        Sessions.SelectMany(s => values(s.Key.Counters).Select(v => tag is null
            ? new Measurement<long>(v.Count, new("target", s.Key.Options.TargetName), new("portal", s.Value))
            : new Measurement<long>(v.Count, new(tag, v.Value), new("target", s.Key.Options.TargetName), new("portal", s.Value))));

    public static void Register(IscsiClient client) => Sessions[client] = $"{client.Options.Host}:{client.Options.Port}";

    public static void Unregister(IscsiClient client) => Sessions.TryRemove(client, out _);

    public static void Register(IscsiVolume volume) => Volumes[volume] = volume.Name;

    public static void Unregister(IscsiVolume volume) => Volumes.TryRemove(volume, out _);
}
