using System.Text;
using SmbCopy.Gateway.Observability;
using SmbCopy.Gateway.Smb.Server;

namespace SmbCopy.Gateway.Http;

/// <summary>
/// The operator's HTTP endpoint (SmbCopy:Http, default 127.0.0.1:8445): liveness and readiness, Prometheus metrics
/// (OpenTelemetry's exporter) and the status page.
/// </summary>
public static class HttpEndpoints
{
    public const string HealthPath = "/healthz";
    public const string LivePath = "/healthz/live";
    public const string ReadyPath = "/healthz/ready";
    public const string MetricsPath = "/metrics";

    public static IEndpointRouteBuilder MapGatewayHttp(this IEndpointRouteBuilder app)
    {
        // Live: the process answers. Back ends are not part of it, so a slow NFS server does not get the gateway
        // restarted; /healthz?ready (or /healthz/ready) is the readiness check.
        app.MapGet(HealthPath, (HttpRequest request, SmbServer server, CancellationToken cancel) =>
            request.Query.ContainsKey("ready") ? ReadyAsync(server, cancel) : Task.FromResult(Live()));
        app.MapGet(LivePath, Live);
        app.MapGet(ReadyPath, (SmbServer server, CancellationToken cancel) => ReadyAsync(server, cancel));
        app.MapPrometheusScrapingEndpoint(MetricsPath);
        app.MapGet("/", async (SmbServer server, TimeProvider time, HttpResponse response, CancellationToken cancel) =>
        {
            var view = await StatusSnapshot.CaptureAsync(server, time.GetUtcNow(), cancel).ConfigureAwait(false);
            response.Headers.CacheControl = "no-store";
            response.Headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'";
            response.Headers.XContentTypeOptions = "nosniff";
            return Results.Content(StatusPage.Render(view), "text/html; charset=utf-8");
        });

        // Open the share volumes at start and log each share's state and what it can offload, so the journal answers
        // "is it up" before any client or probe asks.
        var lifetime = app.ServiceProvider.GetRequiredService<IHostApplicationLifetime>();
        var smb = app.ServiceProvider.GetRequiredService<SmbServer>();
        lifetime.ApplicationStarted.Register(() => _ = ShareReadiness.For(smb).CheckAsync(ShareReadiness.DefaultTimeout, lifetime.ApplicationStopping));
        return app;
    }

    private static IResult Live() => Results.Text("ok", "text/plain");

    /// <summary>200 "ready" when every share's backend opened and answers, else 503 with one line per share that does not.</summary>
    public static async Task<IResult> ReadyAsync(SmbServer server, CancellationToken cancel)
    {
        var report = await ShareReadiness.For(server).CheckAsync(ShareReadiness.DefaultTimeout, cancel).ConfigureAwait(false);
        return Results.Text(ReadinessText(report), "text/plain", Encoding.UTF8,
            report.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }

    public static string ReadinessText(ReadinessReport report)
    {
        var text = new StringBuilder(report.Ready ? "ready\n" : "not ready\n");
        foreach (var share in report.Shares)
        {
            text.Append("share ").Append(share.Name).Append(": ")
                .Append(share.Reachable ? "ok" : share.Problem).Append('\n');
        }
        return text.ToString();
    }
}
