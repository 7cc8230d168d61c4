using Microsoft.Extensions.Options;
using SmbCopy.Gateway.Configuration;
using SmbCopy.Gateway.Hosting;

namespace SmbCopy.Gateway.Http;

/// <summary>The operator's HTTP endpoint (SmbCopy:Http): liveness, Prometheus metrics and a status page.</summary>
public static class HttpEndpoints
{
    public const string HealthPath = "/healthz";
    public const string MetricsPath = "/metrics";

    public static IEndpointRouteBuilder MapGatewayHttp(this IEndpointRouteBuilder app)
    {
        // Live means the process serves requests; share back ends are reported on the status page, not here,
        // so a slow NFS server does not get the gateway restarted.
        app.MapGet(HealthPath, () => Results.Text("ok", "text/plain"));
        app.MapPrometheusScrapingEndpoint(MetricsPath);
        app.MapGet("/", (ServerIdentity identity, IOptions<SmbCopyOptions> options, TimeProvider time) =>
            Results.Content(StatusPage.Render(identity, options.Value, time.GetUtcNow()), "text/html; charset=utf-8"));
        return app;
    }
}
