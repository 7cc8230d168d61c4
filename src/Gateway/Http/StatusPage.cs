using System.Globalization;
using System.Net;
using System.Text;
using SmbCopy.Gateway.Configuration;
using SmbCopy.Gateway.Hosting;
using SmbCopy.Gateway.Observability;

namespace SmbCopy.Gateway.Http;

/// <summary>
/// The HTML at "/": who the server is, its shares and what each can offload, sessions, open files, copies in flight and
/// recent, and the share of bytes offloaded per share. Rendered on the server: no scripts, no external assets (the
/// chart is inline SVG), every value HTML-encoded. Tables carry ids (shares, sessions, opens, copies-in-flight,
/// copies-recent, offload) for tests and scrapers.
/// </summary>
public static class StatusPage
{
    /// <summary>Server and configured shares only (no live state): what the page shows before anything is known.</summary>
    public static string Render(ServerIdentity identity, SmbCopyOptions options, DateTimeOffset now) =>
        Render(new StatusView(identity, options, now, options.Shares.Select(s => StatusSnapshot.FromOptions(s, null)).ToList(),
            [], [], CopyActivitySnapshot.Empty, null));

    public static string Render(StatusView view)
    {
        var html = new StringBuilder();
        void Line(string s) => html.Append(s).Append('\n');
        var identity = view.Identity;
        var options = view.Options;

        Line("<!DOCTYPE html>");
        Line($"<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{E(identity.ServerName)} - SmbCopy</title>");
        Line("<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-bottom:1em}"
            + "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}th{background:#f4f4f4}"
            + ".num{text-align:right;font-variant-numeric:tabular-nums}.bad{color:#b00}.ok{color:#070}.muted{color:#777}"
            + "code{font-size:90%}</style>");
        Line("</head><body>");
        Line($"<h1>{E(identity.ServerName)}</h1>");
        Line("<table id=\"server\">");
        Line($"<tr><th>Server GUID</th><td>{identity.ServerGuid:D}</td></tr>");
        Line($"<tr><th>Started</th><td>{E(identity.StartTime.ToString("u", CultureInfo.InvariantCulture))}</td></tr>");
        Line($"<tr><th>Uptime</th><td>{E(FormatUptime(view.Now - identity.StartTime))}</td></tr>");
        Line($"<tr><th>SMB</th><td>{E(options.Smb.Address)}:{options.Smb.Port.ToString(CultureInfo.InvariantCulture)}</td></tr>");
        if (view.Ready is { } ready)
        {
            Line(ready ? "<tr><th>Ready</th><td class=\"ok\">yes: every share's backend answers</td></tr>"
                : "<tr><th>Ready</th><td class=\"bad\">no: see the shares below</td></tr>");
        }
        Line("</table>");

        RenderShares(view, Line);
        RenderChart(view.Copies.Totals, Line);
        RenderSessions(view, Line);
        RenderOpens(view, Line);
        RenderCopies("copies-in-flight", "Copies in flight", view.Copies.InFlight, view.Now, Line);
        RenderCopies("copies-recent", "Recent copies", view.Copies.Recent, view.Now, Line);
        Line("<p class=\"muted\">Metrics: <a href=\"/metrics\">/metrics</a> (smbcopy_copy_bytes_total by share and method, "
            + "smbcopy_copy_fallbacks_total by reason). Health: <a href=\"/healthz\">/healthz</a>, <a href=\"/healthz/ready\">/healthz/ready</a>.</p>");
        Line("</body></html>");
        return html.ToString();
    }

    private static void RenderShares(StatusView view, Action<string> line)
    {
        line("<h2>Shares</h2>");
        line("<table id=\"shares\"><tr><th>Name</th><th>Driver</th><th>Location</th><th>Access</th><th>Backend</th>"
            + "<th>Clone</th><th>Range copy</th><th>ODX</th></tr>");
        foreach (var share in view.Shares)
        {
            var h = share.Health;
            string state = h is null ? "<td class=\"muted\">not probed</td>"
                : h.Reachable ? $"<td class=\"ok\">ready{(h.FileSystem is { Length: > 0 } fs ? " (" + E(fs) + ")" : "")}</td>"
                : $"<td class=\"bad\">{E(h.Problem)}</td>";
            string Cap(bool? can) => can is null ? "<td class=\"muted\">?</td>" : can.Value ? "<td class=\"ok\">yes</td>" : "<td>no</td>";
            bool? clone = h?.Capabilities is null ? null : h.CanClone;
            bool? range = h?.Capabilities is null ? null : h.CanRangeCopy;
            // ODX (OFFLOAD_READ/WRITE) is answered on every disk share; the data then moves by the cheapest method the
            // two volumes allow, so what it offloads is what clone and range copy say.
            string odx = h?.Capabilities is null ? "<td class=\"muted\">?</td>"
                : $"<td>yes, by {(h.CanClone ? "clone" : h.CanRangeCopy ? "range copy" : "streaming")}</td>";
            string cloneCell = clone == true && h!.CloneAlignment > 0
                ? $"<td class=\"ok\">yes ({h.CloneAlignment.ToString(CultureInfo.InvariantCulture)} B blocks)</td>" : Cap(clone);
            line($"<tr><td>{E(share.Name)}</td><td>{E(share.Driver)}</td><td>{E(share.Location)}</td><td>{E(share.Access)}</td>"
                + $"{state}{cloneCell}{Cap(range)}{odx}</tr>");
        }
        line("</table>");
    }

    /// <summary>One horizontal stacked bar per share: clone, range copy (offload), streamed; inline SVG.</summary>
    private static void RenderChart(IReadOnlyList<ShareCopyTotals> totals, Action<string> line)
    {
        line("<h2>Bytes offloaded per share</h2>");
        if (totals.Count == 0)
        {
            line("<p id=\"offload\" class=\"muted\">No server-side copies yet.</p>");
            return;
        }
        const int Width = 300, Height = 16;
        line("<table id=\"offload\"><tr><th>Share</th><th>Offloaded</th><th>Clone</th><th>Range copy</th><th>Streamed</th><th></th></tr>");
        foreach (var t in totals)
        {
            var svg = new StringBuilder();
            svg.Append(CultureInfo.InvariantCulture, $"<svg width=\"{Width}\" height=\"{Height}\" role=\"img\" aria-label=\"{E(Percent(t.OffloadedFraction))} offloaded\">");
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"0\" y=\"0\" width=\"{Width}\" height=\"{Height}\" fill=\"#eee\"/>");
            double x = 0;
            foreach (var (bytes, color, name) in new[] { (t.Cloned, "#1b7f3b", "clone"), (t.Offload, "#5cb85c", "range copy"), (t.Streamed, "#d9822b", "streamed") })
            {
                if (bytes == 0 || t.Total == 0) continue;
                double w = (double)bytes / t.Total * Width;
                svg.Append(CultureInfo.InvariantCulture,
                    $"<rect x=\"{x:0.##}\" y=\"0\" width=\"{w:0.##}\" height=\"{Height}\" fill=\"{color}\"><title>{E(name)}: {E(FormatBytes(bytes))}</title></rect>");
                x += w;
            }
            svg.Append("</svg>");
            line($"<tr><td>{E(t.Share)}</td><td class=\"num\">{E(Percent(t.OffloadedFraction))}</td>{BytesCell(t.Cloned)}{BytesCell(t.Offload)}"
                + $"{BytesCell(t.Streamed)}<td>{svg}</td></tr>");
        }
        line("</table>");
    }

    private static void RenderSessions(StatusView view, Action<string> line)
    {
        line("<h2>Sessions</h2>");
        if (view.Sessions.Count == 0)
        {
            line("<p id=\"sessions\" class=\"muted\">No sessions.</p>");
            return;
        }
        line("<table id=\"sessions\"><tr><th>User</th><th>Client</th><th>Dialect</th><th>Signing</th><th>Encryption</th>"
            + "<th>Shares</th><th>Open files</th><th>Since</th></tr>");
        foreach (var s in view.Sessions)
        {
            line($"<tr><td>{E(s.User)}</td><td>{E(s.Client)}</td><td>{E(s.Dialect)}</td><td>{E(s.Signing)}</td><td>{E(s.Encryption)}</td>"
                + $"<td>{E(string.Join(", ", s.Shares))}</td><td class=\"num\">{s.Opens.ToString(CultureInfo.InvariantCulture)}</td>"
                + $"<td>{E(s.Since.ToString("u", CultureInfo.InvariantCulture))}</td></tr>");
        }
        line("</table>");
    }

    private static void RenderOpens(StatusView view, Action<string> line)
    {
        line("<h2>Open files</h2>");
        if (view.Opens.Count == 0)
        {
            line("<p id=\"opens\" class=\"muted\">No open files.</p>");
            return;
        }
        line("<table id=\"opens\"><tr><th>Share</th><th>Path</th><th>User</th><th>Access</th></tr>");
        foreach (var o in view.Opens)
        {
            var path = o.Path.Length == 0 ? "\\" : o.Path + (o.IsDirectory ? "\\" : "");
            line($"<tr><td>{E(o.Share)}</td><td>{E(path)}</td><td>{E(o.User)}</td><td>{E(o.Access)}</td></tr>");
        }
        line("</table>");
    }

    private static void RenderCopies(string id, string title, IReadOnlyList<CopyEntry> copies, DateTimeOffset now, Action<string> line)
    {
        line($"<h2>{E(title)}</h2>");
        if (copies.Count == 0)
        {
            line($"<p id=\"{id}\" class=\"muted\">None.</p>");
            return;
        }
        line($"<table id=\"{id}\"><tr><th>Started</th><th>Request</th><th>Share</th><th>Source</th><th>Destination</th><th>User</th>"
            + "<th>Client</th><th>Method</th><th>Bytes</th><th>Duration</th><th>Fallback reason</th><th>Result</th></tr>");
        foreach (var c in copies)
        {
            var source = string.Equals(c.Origin.SourceShare, c.Origin.Share, StringComparison.OrdinalIgnoreCase)
                ? c.Origin.SourcePath : c.Origin.SourceShare + ":" + c.Origin.SourcePath;
            var request = c.Calls > 1 ? $"{c.Origin.Kind} ({c.Calls.ToString(CultureInfo.InvariantCulture)} calls)" : c.Origin.Kind;
            var result = c.InFlight ? "<td>in flight</td>" : c.Error is null ? "<td class=\"ok\">ok</td>" : $"<td class=\"bad\">{E(c.Error)}</td>";
            var duration = c.InFlight ? now - c.Started : c.Duration;
            line($"<tr><td>{E(c.Started.ToString("HH:mm:ss", CultureInfo.InvariantCulture))}</td><td>{E(request)}</td><td>{E(c.Origin.Share)}</td>"
                + $"<td>{E(source)}</td><td>{E(c.Origin.DestinationPath)}</td><td>{E(c.Origin.User)}</td><td>{E(c.Origin.Client)}</td>"
                + $"<td class=\"method\">{E(c.Methods)}</td>{BytesCell(c.BytesCopied)}<td class=\"num\">{E(FormatDuration(duration))}</td>"
                + $"<td>{E(c.FallbackReason)}</td>{result}</tr>");
        }
        line("</table>");
    }

    private static string E(string? s) => WebUtility.HtmlEncode(s ?? "");

    private static string BytesCell(long bytes) =>
        $"<td class=\"num\" data-bytes=\"{bytes.ToString(CultureInfo.InvariantCulture)}\" title=\"{bytes.ToString(CultureInfo.InvariantCulture)} bytes\">{E(FormatBytes(bytes))}</td>";

    public static string Percent(double fraction) => (fraction * 100).ToString("0.#", CultureInfo.InvariantCulture) + " %";

    public static string FormatBytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return unit == 0 ? string.Create(CultureInfo.InvariantCulture, $"{bytes} B")
            : string.Create(CultureInfo.InvariantCulture, $"{value:0.0} {units[unit]}");
    }

    public static string FormatDuration(TimeSpan d) =>
        d < TimeSpan.FromSeconds(1) ? string.Create(CultureInfo.InvariantCulture, $"{d.TotalMilliseconds:0.0} ms")
        : d < TimeSpan.FromMinutes(1) ? string.Create(CultureInfo.InvariantCulture, $"{d.TotalSeconds:0.00} s")
        : FormatUptime(d);

    /// <summary>Where a share's data lives, per driver.</summary>
    public static string Location(ShareOptions share) => StatusSnapshot.Location(share);

    public static string FormatUptime(TimeSpan uptime)
    {
        if (uptime < TimeSpan.Zero)
        {
            uptime = TimeSpan.Zero;
        }
        return uptime.Days > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{uptime.Days}d {uptime.Hours}h {uptime.Minutes}m")
            : string.Create(CultureInfo.InvariantCulture, $"{uptime.Hours}h {uptime.Minutes}m {uptime.Seconds}s");
    }
}
