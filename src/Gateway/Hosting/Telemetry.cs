using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;

namespace SmbCopy.Gateway.Hosting;

/// <summary>The gateway's one meter and activity source. Instruments are created on <see cref="Meter"/>;
/// everything named <c>SmbCopy*</c> is exported on /metrics.</summary>
public static class Telemetry
{
    public const string MeterName = "SmbCopy";
    public const string ActivitySourceName = MeterName;

    private static readonly string? Version =
        typeof(Telemetry).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;

    public static readonly Meter Meter = new(MeterName, Version);
    public static readonly ActivitySource ActivitySource = new(ActivitySourceName, Version);
}
