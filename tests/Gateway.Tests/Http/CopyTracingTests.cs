using System.Diagnostics;
using SmbCopy.Gateway.Hosting;
using SmbCopy.Gateway.Observability;
using SmbCopy.Storage;
using SmbCopy.Storage.Copy;
using SmbCopy.Storage.Local;

namespace SmbCopy.Gateway.Tests.Http;

/// <summary>A span per copy, with the engine's backend calls as its children (what an OTLP collector receives).</summary>
public sealed class CopyTracingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("smbcopy-trace-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Copy_span_is_a_child_of_the_request_and_parents_the_backend_calls()
    {
        var spans = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name.StartsWith(Telemetry.ActivitySourceName, StringComparison.Ordinal),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => { lock (spans) { spans.Add(a); } },
        };
        ActivitySource.AddActivityListener(listener);

        var storage = SmbCopy.Storage.CreateDisposition.Create;
        await using var volume = await new LocalStorageDriver().OpenVolumeAsync(new StorageVolumeOptions("data", _dir, false, new Dictionary<string, string?>()));
        var (src, _) = await volume.OpenAsync("a.bin", new OpenRequest(storage, StorageAccess.ReadWrite, ObjectKind.File));
        var (dst, _) = await volume.OpenAsync("b.bin", new OpenRequest(storage, StorageAccess.ReadWrite, ObjectKind.File));
        await src.WriteAsync(0, new byte[300_000]);

        var log = new CopyActivityLog(TimeProvider.System);
        var origin = new CopyOrigin("COPYCHUNK", "data", "data", "a.bin", "b.bin", "alice", "127.0.0.1:1", 1, 1, 2);
        CopyResult result;
        ActivityTraceId traceId;
        using (var request = Telemetry.ActivitySource.StartActivity("SMB2 Ioctl", ActivityKind.Server))
        {
            traceId = request!.TraceId;
            result = await log.RunAsync(origin, 300_000, () => CopyEngine.Shared.CopyAsync(new CopyEndpoint(volume, src, 0),
                new CopyEndpoint(volume, dst, 0), 300_000, new CopyOptions(AllowClone: false, AllowOffload: false)));
        }
        await src.DisposeAsync();
        await dst.DisposeAsync();

        Assert.Equal((300_000L, CopyMethod.Streamed), (result.BytesCopied, result.Method));
        List<Activity> ours;
        lock (spans) { ours = spans.Where(s => s.TraceId == traceId).ToList(); } // other tests run copies in parallel
        var req = Assert.Single(ours, s => s.DisplayName == "SMB2 Ioctl");
        var copy = Assert.Single(ours, s => s.DisplayName == "copy COPYCHUNK");
        var stream = Assert.Single(ours, s => s.DisplayName == "stream");
        Assert.Equal(req.SpanId, copy.ParentSpanId);
        Assert.Equal(copy.SpanId, stream.ParentSpanId);
        Assert.Equal(CopyTracing.ActivitySourceName, stream.Source.Name);
        Assert.Equal("streamed", copy.GetTagItem("smbcopy.copy.method"));
        Assert.Equal(300_000L, copy.GetTagItem("smbcopy.copy.bytes"));
        Assert.Equal("range_copy_refused", copy.GetTagItem("smbcopy.copy.fallback_reason"));
        Assert.Equal("data", copy.GetTagItem("smbcopy.share"));
    }
}
