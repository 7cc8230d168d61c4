using System.Collections;

namespace SmbCopy.Gateway.Configuration;

/// <summary>
/// The gateway's configuration sources, lowest precedence first:
/// <list type="number">
/// <item>built-in logging defaults,</item>
/// <item><c>appsettings.json</c> in the working directory (optional),</item>
/// <item>environment variables in the plain form (<c>SmbCopy__Smb__Port=4455</c>),</item>
/// <item>environment variables with the <c>SMBCOPY_</c> prefix, relative to the SmbCopy section (<c>SMBCOPY_Smb__Port=4455</c>),</item>
/// <item>the command line (<c>--SmbCopy:Smb:Port=4455</c>).</item>
/// </list>
/// The working directory is the content root so that <c>dotnet run --project src/Gateway</c> from the
/// repository root picks up the repository's appsettings.json and resolves relative paths (./data, ./.state) there.
/// </summary>
public static class GatewayConfiguration
{
    public const string SettingsFileName = "appsettings.json";
    public const string EnvironmentPrefix = "SMBCOPY_";

    /// <summary>
    /// The content root: the working directory, except when that is this project's own directory. The Web SDK makes
    /// <c>dotnet run --project src/Gateway</c> start in src/Gateway (RunWorkingDirectory), whereas the repository's
    /// appsettings.json and ./data are meant relative to the repository root; so from the project directory, the
    /// nearest ancestor holding SmbCopy.sln is used. Installed binaries never run from a directory with the .csproj.
    /// </summary>
    public static string ResolveContentRoot(string workingDirectory)
    {
        if (!File.Exists(Path.Combine(workingDirectory, "SmbCopy.Gateway.csproj")))
        {
            return workingDirectory;
        }
        for (var dir = Directory.GetParent(workingDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SmbCopy.sln")))
            {
                return dir.FullName;
            }
        }
        return workingDirectory;
    }

    /// <summary>Below appsettings.json: without a Logging section, one request would log five Information lines.</summary>
    private static readonly KeyValuePair<string, string?>[] Defaults =
    [
        new("Logging:LogLevel:Default", "Information"),
        new("Logging:LogLevel:Microsoft.AspNetCore", "Warning"),
    ];

    public static IConfigurationBuilder AddGatewaySources(
        this IConfigurationBuilder builder, string contentRoot, string[] args, IDictionary? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariables();
        builder.Add(new KeyValueSource(Defaults));
        builder.AddJsonFile(Path.Combine(contentRoot, SettingsFileName), optional: true, reloadOnChange: false);
        builder.Add(new KeyValueSource(PlainEnvironment(environment)));
        builder.Add(new KeyValueSource(PrefixedEnvironment(environment)));
        builder.AddCommandLine(args);
        return builder;
    }

    /// <summary>Every variable, <c>__</c> mapped to <c>:</c> (what AddEnvironmentVariables() does, but from a given dictionary so tests can inject it).</summary>
    internal static IEnumerable<KeyValuePair<string, string?>> PlainEnvironment(IDictionary environment)
    {
        foreach (DictionaryEntry e in environment)
        {
            var name = (string)e.Key;
            yield return new(name.Replace("__", ConfigurationPath.KeyDelimiter, StringComparison.Ordinal), (string?)e.Value);
        }
    }

    /// <summary><c>SMBCOPY_Smb__Port</c> → <c>SmbCopy:Smb:Port</c>. <c>SMBCOPY__...</c> is the plain form and is left to <see cref="PlainEnvironment"/>.</summary>
    internal static IEnumerable<KeyValuePair<string, string?>> PrefixedEnvironment(IDictionary environment)
    {
        foreach (DictionaryEntry e in environment)
        {
            var name = (string)e.Key;
            if (!name.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase)
                || name.StartsWith(EnvironmentPrefix + "_", StringComparison.OrdinalIgnoreCase)
                || name.Length == EnvironmentPrefix.Length)
            {
                continue;
            }
            var rest = name[EnvironmentPrefix.Length..].Replace("__", ConfigurationPath.KeyDelimiter, StringComparison.Ordinal);
            yield return new(ConfigurationPath.Combine(SmbCopyOptions.SectionName, rest), (string?)e.Value);
        }
    }
}

/// <summary>Like the in-memory source, but later duplicates (names differing only in case) win instead of throwing.</summary>
internal sealed class KeyValueSource(IEnumerable<KeyValuePair<string, string?>> values) : IConfigurationSource
{
    public IConfigurationProvider Build(IConfigurationBuilder builder) => new Provider(values);

    private sealed class Provider(IEnumerable<KeyValuePair<string, string?>> values) : ConfigurationProvider
    {
        public override void Load()
        {
            foreach (var (key, value) in values)
            {
                Data[key] = value;
            }
        }
    }
}
