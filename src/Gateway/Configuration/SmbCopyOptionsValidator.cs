using SmbCopy.Protocol.Security;
using System.Globalization;
using System.Net;
using SmbCopy.Gateway.Hosting;

namespace SmbCopy.Gateway.Configuration;

/// <summary>
/// Checks a bound <see cref="SmbCopyOptions"/> before anything listens. Every problem names its full key
/// (<c>SmbCopy:Shares:1:Driver</c>) so the one line printed at start is enough to fix it.
/// </summary>
public static class SmbCopyOptionsValidator
{
    public const string DriverLocal = "Local";
    public const string DriverNfs = "Nfs";
    public const string DriverIscsi = "Iscsi";

    /// <summary>The share path appsettings.json ships with; only this one is created when missing.</summary>
    public const string DefaultLocalPath = "./data";

    public const int MaxShareNameLength = 80;
    public const int MaxNetBiosNameLength = 15;
    private const string InvalidShareNameChars = "\\/:*?\"<>|";
    private const string InvalidNetBiosChars = "\\/:*?\"<>|.";

    /// <summary>Validates <paramref name="options"/>; relative paths are resolved against <paramref name="baseDirectory"/>.</summary>
    public static IReadOnlyList<ConfigurationError> Validate(SmbCopyOptions options, string baseDirectory)
    {
        var errors = new List<ConfigurationError>();
        void Error(string key, string problem) => errors.Add(new($"{SmbCopyOptions.SectionName}:{key}", problem));

        var smb = ValidateEndpoint("Smb", options.Smb.Address, options.Smb.Port, Error);
        var http = ValidateEndpoint("Http", options.Http.Address, options.Http.Port, Error);
        if (smb is not null && http is not null && smb.Port == http.Port && Overlap(smb.Address, http.Address))
        {
            Error("Http:Port", $"{http} overlaps the SMB endpoint {smb}");
        }

        if (string.IsNullOrWhiteSpace(options.StateDirectory))
        {
            Error("StateDirectory", "must not be empty");
        }
        ValidateNetBiosName("ServerName", options.ServerName, Error);
        ValidateNetBiosName("DomainName", options.DomainName, Error);

        if (options.Security.FailedLogonsBeforeThrottle < 0)
        {
            Error("Security:FailedLogonsBeforeThrottle", "must not be negative");
        }
        ValidateLimits(options.Limits, Error);
        ValidateUsers(options.Users, Error);
        ValidateShares(options.Shares, baseDirectory, Error);
        return errors;
    }

    /// <summary>True for the Local share path that is created automatically when it does not exist.</summary>
    public static bool IsDefaultLocalPath(string path) =>
        path.TrimEnd('/') == DefaultLocalPath;

    public static bool IsKnownDriver(string driver, out string canonical)
    {
        canonical = driver.ToUpperInvariant() switch
        {
            "LOCAL" => DriverLocal,
            "NFS" => DriverNfs,
            "ISCSI" => DriverIscsi,
            _ => "",
        };
        return canonical.Length > 0;
    }

    private static IPEndPoint? ValidateEndpoint(string name, string address, int port, Action<string, string> error)
    {
        var ok = true;
        if (!IPAddress.TryParse(address, out var ip))
        {
            error($"{name}:Address", $"'{address}' is not an IP address (use 0.0.0.0, :: or a local address)");
            ok = false;
        }
        if (port is < 1 or > 65535)
        {
            error($"{name}:Port", $"{port} is out of range (1-65535)");
            ok = false;
        }
        return ok ? new IPEndPoint(ip!, port) : null;
    }

    private static bool Overlap(IPAddress a, IPAddress b) =>
        a.Equals(b) || IsAny(a) || IsAny(b);

    private static bool IsAny(IPAddress a) => a.Equals(IPAddress.Any) || a.Equals(IPAddress.IPv6Any);

    private static void ValidateNetBiosName(string key, string value, Action<string, string> error)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            error(key, "must not be empty");
        }
        else if (value.Length > MaxNetBiosNameLength)
        {
            error(key, $"'{value}' is longer than {MaxNetBiosNameLength} characters");
        }
        else if (value.IndexOfAny(InvalidNetBiosChars.ToCharArray()) >= 0 || value.Any(c => char.IsControl(c) || c == ' '))
        {
            error(key, $"'{value}' contains a space, a control character or one of {InvalidNetBiosChars}");
        }
    }

    private static void ValidateLimits(LimitsOptions limits, Action<string, string> error)
    {
        void AtLeast(string key, int value, int min)
        {
            if (value < min)
            {
                error($"Limits:{key}", $"{value.ToString(CultureInfo.InvariantCulture)} is below the minimum {min.ToString(CultureInfo.InvariantCulture)}");
            }
        }
        AtLeast(nameof(limits.MaxIoSize), limits.MaxIoSize, 65536); // MS-SMB2 3.3.5.4: at least 64 KiB
        AtLeast(nameof(limits.MaxUnauthenticatedFrame), limits.MaxUnauthenticatedFrame, 1024);
        AtLeast(nameof(limits.MaxConnections), limits.MaxConnections, 1);
        AtLeast(nameof(limits.MaxCreditsPerConnection), limits.MaxCreditsPerConnection, 1);
        AtLeast(nameof(limits.CopyChunkMaxChunks), limits.CopyChunkMaxChunks, 1);
        AtLeast(nameof(limits.CopyChunkMaxChunkSize), limits.CopyChunkMaxChunkSize, 1);
        AtLeast(nameof(limits.CopyChunkMaxDataSize), limits.CopyChunkMaxDataSize, 1);
    }

    private static void ValidateUsers(List<UserOptions> users, Action<string, string> error)
    {
        var seen = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < users.Count; i++)
        {
            var user = users[i];
            if (string.IsNullOrWhiteSpace(user.Name))
            {
                error($"Users:{i}:Name", "must not be empty");
            }
            else if (user.Name.Any(char.IsControl) || user.Name.IndexOfAny(['\\', '/', '@']) >= 0)
            {
                error($"Users:{i}:Name", $"'{user.Name}' contains a control character, \\, / or @");
            }
            else if (seen.TryGetValue(user.Name, out var first))
            {
                error($"Users:{i}:Name", $"duplicate user name '{user.Name}' (also SmbCopy:Users:{first}:Name)");
            }
            else
            {
                seen.Add(user.Name, i);
            }
            if (!NtHash.TryParseHex((user.NtHash ?? "").Trim(), out _))
            {
                error($"Users:{i}:NtHash", "must be 32 hex digits (run 'smbcopy hash-password')");
            }
        }
    }

    private static void ValidateShares(List<ShareOptions> shares, string baseDirectory, Action<string, string> error)
    {
        var seen = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < shares.Count; i++)
        {
            var share = shares[i];
            var key = $"Shares:{i}";
            var name = share.Name ?? "";
            if (string.IsNullOrWhiteSpace(name))
            {
                error($"{key}:Name", "must not be empty");
            }
            else if (name.Length > MaxShareNameLength)
            {
                error($"{key}:Name", $"'{name}' is longer than {MaxShareNameLength} characters");
            }
            else if (name.IndexOfAny(InvalidShareNameChars.ToCharArray()) >= 0 || name.Any(char.IsControl))
            {
                error($"{key}:Name", $"'{name}' contains a control character or one of {InvalidShareNameChars}");
            }
            else if (string.Equals(name, "IPC$", StringComparison.OrdinalIgnoreCase))
            {
                error($"{key}:Name", "IPC$ is reserved");
            }
            else if (seen.TryGetValue(name, out var first))
            {
                error($"{key}:Name", $"duplicate share name '{name}' (also SmbCopy:Shares:{first}:Name)");
            }
            else
            {
                seen.Add(name, i);
            }

            if (!IsKnownDriver(share.Driver ?? "", out var driver))
            {
                error($"{key}:Driver", $"unknown driver '{share.Driver}' (expected {DriverLocal}, {DriverNfs} or {DriverIscsi})");
                continue;
            }
            foreach (var (setting, owner) in DriverOnlySettings(share))
            {
                if (owner != driver)
                {
                    error($"{key}:{setting}", $"applies only to the {owner} driver (this share's driver is {driver})");
                }
            }
            switch (driver)
            {
                case DriverLocal:
                    if (string.IsNullOrWhiteSpace(share.Path))
                    {
                        error($"{key}:Path", "is required for the Local driver");
                    }
                    else
                    {
                        var full = Path.GetFullPath(share.Path, baseDirectory);
                        if (File.Exists(full))
                        {
                            error($"{key}:Path", $"'{share.Path}' is a file, not a directory");
                        }
                        else if (!Directory.Exists(full))
                        {
                            error($"{key}:Path", $"directory '{share.Path}' does not exist");
                        }
                    }
                    break;
                case DriverNfs:
                    Required($"{key}:Server", share.Server, "Nfs", error);
                    Required($"{key}:Export", share.Export, "Nfs", error);
                    if (share.Port is { } port && port is < 1 or > 65535)
                    {
                        error($"{key}:Port", $"{port} is out of range (1-65535)");
                    }
                    if (share.Uid is < 0)
                    {
                        error($"{key}:Uid", "must not be negative");
                    }
                    if (share.Gid is < 0)
                    {
                        error($"{key}:Gid", "must not be negative");
                    }
                    if (share.AsyncCopyMinBytes is { } min && min is < 0 or > int.MaxValue)
                    {
                        error($"{key}:AsyncCopyMinBytes", $"{min.ToString(CultureInfo.InvariantCulture)} is out of range (0-{int.MaxValue.ToString(CultureInfo.InvariantCulture)})");
                    }
                    break;
                case DriverIscsi:
                    Required($"{key}:Portal", share.Portal, "Iscsi", error);
                    Required($"{key}:Target", share.Target, "Iscsi", error);
                    Required($"{key}:Metadata", share.Metadata, "Iscsi", error);
                    if (share.Lun is < 0)
                    {
                        error($"{key}:Lun", "must not be negative");
                    }
                    if (share.FirstLba is < 0)
                    {
                        error($"{key}:FirstLba", "must not be negative");
                    }
                    if (share.Blocks is < 0)
                    {
                        error($"{key}:Blocks", "must not be negative");
                    }
                    ValidateIscsiLogin(key, share, error);
                    break;
            }
        }
    }

    /// <summary>The settings given for this share that only one driver reads (Path, Name, ReadOnly ... are common).</summary>
    private static IEnumerable<(string Setting, string Driver)> DriverOnlySettings(ShareOptions s)
    {
        (string, string, bool)[] all =
        [
            (nameof(s.Server), DriverNfs, s.Server is not null), (nameof(s.Port), DriverNfs, s.Port is not null),
            (nameof(s.Export), DriverNfs, s.Export is not null), (nameof(s.Uid), DriverNfs, s.Uid is not null),
            (nameof(s.Gid), DriverNfs, s.Gid is not null), (nameof(s.AsyncCopyMinBytes), DriverNfs, s.AsyncCopyMinBytes is not null),
            (nameof(s.Portal), DriverIscsi, s.Portal is not null), (nameof(s.Target), DriverIscsi, s.Target is not null),
            (nameof(s.Lun), DriverIscsi, s.Lun is not null), (nameof(s.Metadata), DriverIscsi, s.Metadata is not null),
            (nameof(s.FirstLba), DriverIscsi, s.FirstLba is not null), (nameof(s.Blocks), DriverIscsi, s.Blocks is not null),
            (nameof(s.ExtendedCopy), DriverIscsi, s.ExtendedCopy is not null), (nameof(s.Format), DriverIscsi, s.Format is not null),
            (nameof(s.InitiatorName), DriverIscsi, s.InitiatorName is not null), (nameof(s.ChapUser), DriverIscsi, s.ChapUser is not null),
            (nameof(s.ChapSecret), DriverIscsi, s.ChapSecret is not null),
        ];
        return all.Where(t => t.Item3).Select(t => (t.Item1, t.Item2));
    }

    /// <summary>InitiatorName is an iSCSI name (RFC 7143 4.2.7: iqn., eui. or naa.); CHAP (RFC 7143 12.1.3) needs a
    /// user and a secret together. The secret's value never appears in an error.</summary>
    private static void ValidateIscsiLogin(string key, ShareOptions share, Action<string, string> error)
    {
        if (share.InitiatorName is { } initiator
            && (!(initiator.StartsWith("iqn.", StringComparison.OrdinalIgnoreCase) || initiator.StartsWith("eui.", StringComparison.OrdinalIgnoreCase)
                  || initiator.StartsWith("naa.", StringComparison.OrdinalIgnoreCase))
                || initiator.Length > 223 || initiator.Any(c => char.IsControl(c) || c == ' ')))
        {
            error($"{key}:InitiatorName", $"'{initiator}' is not an iSCSI name (iqn.…, eui.… or naa.…, no spaces, at most 223 characters)");
        }
        bool user = !string.IsNullOrEmpty(share.ChapUser), secret = !string.IsNullOrEmpty(share.ChapSecret);
        if (user && !secret)
        {
            error($"{key}:ChapSecret", "is required when ChapUser is set");
        }
        else if (secret && !user)
        {
            error($"{key}:ChapUser", "is required when ChapSecret is set");
        }
    }

    private static void Required(string key, string? value, string driver, Action<string, string> error)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            error(key, $"is required for the {driver} driver");
        }
    }
}
