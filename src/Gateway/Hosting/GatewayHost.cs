using SmbCopy.Gateway.Smb.Transport;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using SmbCopy.Gateway.Configuration;
using SmbCopy.Gateway.Http;
using SmbCopy.Gateway.Smb;

namespace SmbCopy.Gateway.Hosting;

/// <summary>
/// The process: parses the command, loads and validates configuration, prepares state (server GUID, users),
/// and runs Kestrel with exactly two listeners — SMB (connection handler) and HTTP (operator endpoints).
/// </summary>
public static class GatewayHost
{
    public const int ExitOk = 0;
    public const int ExitFailure = 1;
    public const int ExitConfigurationError = 2;
    public const string InitialPasswordFileName = "initial-password";

    private static readonly string[] IgnoredHostVariables =
    [
        "ASPNETCORE_URLS", "ASPNETCORE_HTTP_PORTS", "ASPNETCORE_HTTPS_PORTS",
        "DOTNET_URLS", "DOTNET_HTTP_PORTS", "DOTNET_HTTPS_PORTS",
    ];

    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(15);

    public const string Usage = """
        usage: smbcopy [--SmbCopy:Key=Value ...]    run the gateway
               smbcopy hash-password                 read a password from stdin, print its NT hash
               smbcopy --help

        Settings, later ones win: ./appsettings.json, SmbCopy__Key__Sub environment variables,
        SMBCOPY_Key__Sub environment variables, --SmbCopy:Key:Sub=Value arguments. For example
          smbcopy --SmbCopy:Smb:Port=4455 --SmbCopy:Shares:0:Path=/srv/x
        Exit codes: 0 stopped normally, 2 configuration error (one line on stderr), 1 other failure.
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length > 0 && args[0] == HashPasswordCommand.Name)
        {
            return HashPasswordCommand.Run(Console.In, Console.Out, Console.Error, interactive: !Console.IsInputRedirected);
        }
        if (args is ["--help"] or ["-h"] or ["help"])
        {
            Console.Out.WriteLine(Usage);
            return ExitOk;
        }
        if (args.Length > 0 && !args[0].StartsWith('-') && !args[0].StartsWith('/'))
        {
            Console.Error.WriteLine($"smbcopy: unknown command '{args[0]}' (expected hash-password or --SmbCopy:Key=Value settings; see --help)");
            return ExitConfigurationError;
        }
        try
        {
            return await RunServerAsync(args).ConfigureAwait(false);
        }
        catch (ConfigurationException ex)
        {
            Console.Error.WriteLine(ex.Error.ToString());
            return ExitConfigurationError;
        }
        catch (Exception ex)
        {
            // Anything else is a bug or an environment failure: keep the detail, but exit with a defined code.
            Console.Error.WriteLine($"smbcopy: fatal: {ex}");
            return ExitFailure;
        }
    }

    private static async Task<int> RunServerAsync(string[] args)
    {
        var contentRoot = GatewayConfiguration.ResolveContentRoot(Directory.GetCurrentDirectory());
        // Relative paths mean the same thing to every component (storage drivers included) only if they share one base.
        Directory.SetCurrentDirectory(contentRoot);
        // Kestrel would otherwise read these host settings at start and log that it overrides them (container images
        // set ASPNETCORE_HTTP_PORTS=8080); the gateway listens only where SmbCopy:Smb and SmbCopy:Http say.
        foreach (var name in IgnoredHostVariables)
        {
            Environment.SetEnvironmentVariable(name, null);
        }
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = contentRoot });
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddGatewaySources(contentRoot, args);

        var options = SmbCopyOptionsBinder.Bind(builder.Configuration);
        CreateDefaultShareDirectories(options, contentRoot);
        var errors = SmbCopyOptionsValidator.Validate(options, contentRoot);
        if (errors.Count > 0)
        {
            foreach (var error in errors)
            {
                Console.Error.WriteLine(error.ToString());
            }
            return ExitConfigurationError;
        }
        Normalize(options, contentRoot);

        var smbEndpoint = new IPEndPoint(IPAddress.Parse(options.Smb.Address), options.Smb.Port);
        var httpEndpoint = new IPEndPoint(IPAddress.Parse(options.Http.Address), options.Http.Port);
        if (ProbeEndpoints(smbEndpoint, httpEndpoint) is { } bindError)
        {
            throw new ConfigurationException(bindError);
        }

        var (identity, users, generatedPassword) = PrepareState(options);

        ConfigureLogging(builder);
        builder.Host.UseSystemd();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = ShutdownTimeout);
        ConfigureKestrel(builder, smbEndpoint, httpEndpoint);

        // Re-bound from the same configuration so IOptions, IOptionsSnapshot and IOptionsMonitor all agree;
        // PostConfigure applies the same normalization as above (absolute paths, canonical driver names).
        builder.Services.AddOptions<SmbCopyOptions>()
            .Bind(builder.Configuration.GetSection(SmbCopyOptions.SectionName))
            .PostConfigure(o => Normalize(o, contentRoot));
        builder.Services.AddSingleton(sp => sp.GetRequiredService<IOptions<SmbCopyOptions>>().Value);
        builder.Services.AddSingleton(identity);
        builder.Services.AddSingleton(users);
        builder.Services.AddSingleton<IUserDirectory>(users);
        builder.Services.TryAddSingleton(TimeProvider.System);
        ConfigureTelemetry(builder);
        builder.Services.AddSmbServer();

        await using var app = builder.Build();
        app.MapGatewayHttp();

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("SmbCopy.Gateway");
        if (generatedPassword is not null)
        {
            AnnounceGeneratedPassword(generatedPassword, options.StateDirectory, logger);
        }

        try
        {
            await app.StartAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (IsBindFailure(ex))
        {
            // Lost a race with another process after the probe; Kestrel has released what it bound, so probe again.
            throw ProbeEndpoints(smbEndpoint, httpEndpoint) is { } late ? new ConfigurationException(late, ex) : ex;
        }

        logger.LogInformation(
            "SmbCopy {ServerName} {ServerGuid} listening: SMB {Smb}, HTTP http://{Http}; {Shares} share(s); {Users} user(s) from {UserSource}",
            identity.ServerName, identity.ServerGuid, smbEndpoint, httpEndpoint, options.Shares.Count, users.Count, users.Source);
        await app.WaitForShutdownAsync().ConfigureAwait(false);
        return ExitOk;
    }

    /// <summary>The shipped appsettings.json points at ./data; creating it keeps a fresh checkout runnable.
    /// Any other missing path is an operator mistake and is reported by the validator.</summary>
    internal static void CreateDefaultShareDirectories(SmbCopyOptions options, string contentRoot)
    {
        foreach (var share in options.Shares)
        {
            if (SmbCopyOptionsValidator.IsKnownDriver(share.Driver ?? "", out var driver)
                && driver == SmbCopyOptionsValidator.DriverLocal
                && SmbCopyOptionsValidator.IsDefaultLocalPath(share.Path ?? ""))
            {
                var full = Path.GetFullPath(share.Path!, contentRoot);
                if (!File.Exists(full))
                {
                    Directory.CreateDirectory(full);
                }
            }
        }
    }

    /// <summary>Absolute paths and canonical driver names, so every consumer resolves them identically.</summary>
    internal static void Normalize(SmbCopyOptions options, string contentRoot)
    {
        options.StateDirectory = Path.GetFullPath(options.StateDirectory, contentRoot);
        foreach (var share in options.Shares)
        {
            if (SmbCopyOptionsValidator.IsKnownDriver(share.Driver ?? "", out var driver))
            {
                share.Driver = driver;
            }
            if (share.Driver == SmbCopyOptionsValidator.DriverLocal && !string.IsNullOrWhiteSpace(share.Path))
            {
                share.Path = Path.GetFullPath(share.Path, contentRoot);
            }
        }
    }

    private static ConfigurationError? ProbeEndpoints(IPEndPoint smb, IPEndPoint http) =>
        EndpointProbe.Check("SmbCopy:Smb:Port", "SmbCopy:Smb:Address", smb)
        ?? EndpointProbe.Check("SmbCopy:Http:Port", "SmbCopy:Http:Address", http);

    private static bool IsBindFailure(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is SocketException or AddressInUseException)
            {
                return true;
            }
        }
        return false;
    }

    private static (ServerIdentity, UserDirectory, string?) PrepareState(SmbCopyOptions options)
    {
        const string key = "SmbCopy:StateDirectory";
        try
        {
            StateFiles.EnsureDirectory(options.StateDirectory);
            var identity = ServerIdentity.LoadOrCreate(options.StateDirectory, options.ServerName, DateTimeOffset.UtcNow);
            string? generatedPassword = null;
            var users = options.Users.Count > 0
                ? UserDirectory.FromOptions(options.Users)
                : UserDirectory.LoadOrCreate(options.StateDirectory, out generatedPassword);
            return (identity, users, generatedPassword);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            throw new ConfigurationException(new(key, $"{options.StateDirectory}: {ex.Message}"), ex);
        }
    }

    /// <summary>
    /// The generated password is shown exactly once. On a terminal (or redirected console) it is one marked line on
    /// stdout; under systemd stdout is the journal, which is a log, so it goes to a 0600 file instead.
    /// </summary>
    private static void AnnounceGeneratedPassword(string password, string stateDirectory, ILogger logger)
    {
        var usersFile = Path.Combine(stateDirectory, UserDirectory.FileName);
        if (SystemdHelpers.IsSystemdService())
        {
            var path = Path.Combine(stateDirectory, InitialPasswordFileName);
            StateFiles.WriteAtomically(path, $"user: {UserDirectory.GeneratedUserName}\npassword: {password}\n");
            logger.LogWarning("Generated user '{User}'; its password is in {Path} (delete that file once read); only its NT hash is kept in {UsersFile}",
                UserDirectory.GeneratedUserName, path, usersFile);
            return;
        }
        Console.Out.WriteLine(
            $"*** SMBCOPY GENERATED USER '{UserDirectory.GeneratedUserName}' PASSWORD: {password} *** (shown only this once; only its NT hash is kept in {usersFile})");
        Console.Out.Flush();
    }

    private static void ConfigureLogging(WebApplicationBuilder builder)
    {
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.IncludeScopes = false;
            o.TimestampFormat = "HH:mm:ss ";
        });
        // UseSystemd (called after this) switches the formatter to the journal's format when run as a service.
    }

    private static void ConfigureKestrel(WebApplicationBuilder builder, IPEndPoint smb, IPEndPoint http)
    {
        // Only our two listeners: no URLS / ASPNETCORE_URLS / HTTP_PORTS defaults, no Kestrel:Endpoints section.
        builder.WebHost.UseSetting(WebHostDefaults.ServerUrlsKey, "");
        builder.WebHost.UseSetting(WebHostDefaults.HttpPortsKey, "");
        builder.WebHost.UseSetting(WebHostDefaults.HttpsPortsKey, "");
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Configure(new ConfigurationBuilder().Build());
            k.AddServerHeader = false;
            k.Listen(new SmbListenEndPoint(smb), lo => lo.UseConnectionHandler<SmbConnectionHandler>());
            k.Listen(http, lo => lo.Protocols = HttpProtocols.Http1);
        });
    }

    private static void ConfigureTelemetry(WebApplicationBuilder builder)
    {
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("smbcopy"))
            .WithMetrics(m => m.AddMeter(Telemetry.MeterName + "*").AddPrometheusExporter());
        // OTLP (traces and metrics) only when an endpoint is configured the standard way.
        if (!string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            otel.WithTracing(t => t.AddSource(Telemetry.ActivitySourceName + "*")).UseOtlpExporter();
        }
    }
}
