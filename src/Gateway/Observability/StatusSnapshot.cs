using SmbCopy.Gateway.Configuration;
using SmbCopy.Gateway.Hosting;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Gateway.Smb.Server;
using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Protocol.Security;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Observability;

/// <summary>A share row: configuration plus what its backend can offload (null: not known, the volume has not opened).</summary>
public sealed record ShareView(string Name, string Driver, string Location, string Access, ShareHealth? Health);

/// <summary>A session row. Signing and Encryption are human-readable ("AES-128-GMAC", "no").</summary>
public sealed record SessionView(ulong SessionId, string User, string Client, string Dialect, string Signing, string Encryption,
    IReadOnlyList<string> Shares, int Opens, DateTimeOffset Since);

public sealed record OpenView(ulong SessionId, string User, string Share, string Path, bool IsDirectory, string Access);

/// <summary>Everything the status page shows, captured at one instant.</summary>
public sealed record StatusView(ServerIdentity Identity, SmbCopyOptions Options, DateTimeOffset Now, IReadOnlyList<ShareView> Shares,
    IReadOnlyList<SessionView> Sessions, IReadOnlyList<OpenView> Opens, CopyActivitySnapshot Copies, bool? Ready);

/// <summary>Reads the live server state into a <see cref="StatusView"/>.</summary>
public static class StatusSnapshot
{
    /// <summary>How long the page waits for share backends before showing them as not answering.</summary>
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(1);

    public static async Task<StatusView> CaptureAsync(SmbServer server, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var readiness = await ShareReadiness.For(server).CheckAsync(ProbeTimeout, cancellationToken).ConfigureAwait(false);
        var health = readiness.Shares.ToDictionary(s => s.Name, StringComparer.OrdinalIgnoreCase);
        var shares = server.Options.Shares.Select(o => FromOptions(o, health.GetValueOrDefault(o.Name))).ToList();

        var sessions = new List<SessionView>();
        var opens = new List<OpenView>();
        foreach (var session in server.Sessions.Where(s => s.IsValid).OrderBy(s => s.CreatedAt))
        {
            var user = CopyOrigin.FormatUser(session.Domain, session.UserName, session.IsAnonymous);
            var sessionOpens = session.Opens.Values.OrderBy(o => o.VolatileId).ToList();
            sessions.Add(new SessionView(session.SessionId, user, CopyOrigin.FormatEndPoint(session.Connection.RemoteEndPoint),
                DialectName(session.Connection.Dialect), Signing(session), Encryption(session),
                session.Trees.Values.Select(t => t.Share.Name).Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.OrdinalIgnoreCase).ToList(),
                sessionOpens.Count, session.CreatedAt));
            foreach (var open in sessionOpens)
            {
                opens.Add(new OpenView(session.SessionId, user, open.Tree.Share.Name, open.DisplayName,
                    open is FileOpen { IsDirectory: true }, AccessSummary(open.GrantedAccess)));
            }
        }
        return new StatusView(server.Identity, server.Options, now, shares, sessions, opens, CopyActivityLog.For(server).Snapshot(), readiness.Ready);
    }

    /// <summary>A share from configuration only (no live state).</summary>
    public static ShareView FromOptions(ShareOptions share, ShareHealth? health)
    {
        var access = share.ReadOnly ? "read-only" : "read-write";
        if (share.GuestAccess) access += ", guest";
        if (share.RequireEncryption) access += ", encrypted";
        return new ShareView(share.Name, share.Driver, Location(share), access, health);
    }

    /// <summary>Where a share's data lives, per driver.</summary>
    public static string Location(ShareOptions share)
    {
        SmbCopyOptionsValidator.IsKnownDriver(share.Driver, out var driver);
        return driver switch
        {
            SmbCopyOptionsValidator.DriverNfs => share.Port is { } p
                ? $"nfs://{share.Server}:{p.ToString(System.Globalization.CultureInfo.InvariantCulture)}{share.Export}"
                : $"nfs://{share.Server}{share.Export}",
            SmbCopyOptionsValidator.DriverIscsi => $"iscsi://{share.Portal}/{share.Target}/{(share.Lun ?? 0).ToString(System.Globalization.CultureInfo.InvariantCulture)} (metadata {share.Metadata})",
            _ => share.Path,
        };
    }

    public static string DialectName(Smb2Dialect dialect) => dialect switch
    {
        Smb2Dialect.Smb202 => "2.0.2",
        Smb2Dialect.Smb210 => "2.1",
        Smb2Dialect.Smb300 => "3.0",
        Smb2Dialect.Smb302 => "3.0.2",
        Smb2Dialect.Smb311 => "3.1.1",
        _ => "-",
    };

    private static string Signing(SmbSession session)
    {
        if (session.Signer is null) return "no";
        var algorithm = session.Signer.Algorithm switch
        {
            SigningAlgorithm.HmacSha256 => "HMAC-SHA256",
            SigningAlgorithm.AesCmac => "AES-128-CMAC",
            SigningAlgorithm.AesGmac => "AES-128-GMAC",
            var a => a.ToString(),
        };
        return session.SigningRequired ? algorithm + " (required)" : algorithm;
    }

    private static string Encryption(SmbSession session)
    {
        var cipher = session.Connection.Cipher switch
        {
            Protocol.Security.CipherId.Aes128Ccm => "AES-128-CCM",
            Protocol.Security.CipherId.Aes128Gcm => "AES-128-GCM",
            Protocol.Security.CipherId.Aes256Ccm => "AES-256-CCM",
            Protocol.Security.CipherId.Aes256Gcm => "AES-256-GCM",
            _ => session.Cipher is null ? "" : "yes",
        };
        if (session.Cipher is null || cipher.Length == 0) return "no";
        if (session.EncryptData) return cipher;
        var encryptedShares = session.Trees.Values.Where(t => t.EncryptData).Select(t => t.Share.Name).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        return encryptedShares.Count == 0 ? "no" : $"{cipher} ({string.Join(", ", encryptedShares)})";
    }

    /// <summary>"read", "write", "read, write", "delete"... from the granted access mask (MS-SMB2 2.2.13.1).</summary>
    public static string AccessSummary(uint access)
    {
        const uint ReadData = 0x1, WriteData = 0x2, AppendData = 0x4, Execute = 0x20, Delete = 0x10000;
        const uint GenericAll = 0x10000000, GenericExecute = 0x20000000, GenericWrite = 0x40000000, GenericRead = 0x80000000;
        var parts = new List<string>(3);
        if ((access & (ReadData | Execute | GenericRead | GenericExecute | GenericAll)) != 0) parts.Add("read");
        if ((access & (WriteData | AppendData | GenericWrite | GenericAll)) != 0) parts.Add("write");
        if ((access & (Delete | GenericAll)) != 0) parts.Add("delete");
        return parts.Count == 0 ? "attributes" : string.Join(", ", parts);
    }
}
