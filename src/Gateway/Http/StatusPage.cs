using System.Globalization;
using System.Net;
using System.Text;
using SmbCopy.Gateway.Configuration;
using SmbCopy.Gateway.Hosting;

namespace SmbCopy.Gateway.Http;

/// <summary>The HTML at "/": who the server is and what it shares. Server-side, no scripts, every value encoded.</summary>
public static class StatusPage
{
    public static string Render(ServerIdentity identity, SmbCopyOptions options, DateTimeOffset now)
    {
        var html = new StringBuilder();
        void Line(string s) => html.Append(s).Append('\n');
        static string E(string? s) => WebUtility.HtmlEncode(s ?? "");
        var uptime = now - identity.StartTime;

        Line("<!DOCTYPE html>");
        Line($"<html><head><meta charset=\"utf-8\"><title>{E(identity.ServerName)} - SmbCopy</title>");
        Line("<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}</style>");
        Line("</head><body>");
        Line($"<h1>{E(identity.ServerName)}</h1>");
        Line("<table>");
        Line($"<tr><th>Server GUID</th><td>{identity.ServerGuid:D}</td></tr>");
        Line($"<tr><th>Started</th><td>{E(identity.StartTime.ToString("u", CultureInfo.InvariantCulture))}</td></tr>");
        Line($"<tr><th>Uptime</th><td>{E(FormatUptime(uptime))}</td></tr>");
        Line($"<tr><th>SMB</th><td>{E(options.Smb.Address)}:{options.Smb.Port.ToString(CultureInfo.InvariantCulture)}</td></tr>");
        Line("</table>");
        Line("<h2>Shares</h2>");
        Line("<table><tr><th>Name</th><th>Driver</th><th>Location</th><th>Access</th></tr>");
        foreach (var share in options.Shares)
        {
            var access = share.ReadOnly ? "read-only" : "read-write";
            if (share.GuestAccess)
            {
                access += ", guest";
            }
            Line($"<tr><td>{E(share.Name)}</td><td>{E(share.Driver)}</td><td>{E(Location(share))}</td><td>{E(access)}</td></tr>");
        }
        Line("</table>");
        Line("</body></html>");
        return html.ToString();
    }

    /// <summary>Where a share's data lives, per driver.</summary>
    public static string Location(ShareOptions share)
    {
        SmbCopyOptionsValidator.IsKnownDriver(share.Driver, out var driver);
        return driver switch
        {
            SmbCopyOptionsValidator.DriverNfs => share.Port is { } p
                ? $"nfs://{share.Server}:{p.ToString(CultureInfo.InvariantCulture)}{share.Export}"
                : $"nfs://{share.Server}{share.Export}",
            SmbCopyOptionsValidator.DriverIscsi => $"iscsi://{share.Portal}/{share.Target}/{(share.Lun ?? 0).ToString(CultureInfo.InvariantCulture)} (metadata {share.Metadata})",
            _ => share.Path,
        };
    }

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
