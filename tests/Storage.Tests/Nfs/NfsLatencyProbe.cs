using System.Diagnostics;
using SmbCopy.Storage.Nfs;
using Xunit.Abstractions;

namespace SmbCopy.Storage.Tests.Nfs;

[Collection(NfsServerCollection.Name)]
public sealed class NfsLatencyProbe(NfsServerFixture server, ITestOutputHelper output)
{
    [Fact(Skip = "manual latency probe: remove Skip to measure round trips")]
    public async Task Latency()
    {
        var v = server.Admin;
        for (int round = 0; round < 2; round++)
        {
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < 200; i++)
                await v.RunAsync(c => { c.PutFh(v.RootFh); c.Getattr(v.StdMask); }, false, default);
            output.WriteLine($"GETATTR sequential: {sw.Elapsed.TotalMilliseconds / 200:F2} ms");
            sw.Restart();
            for (int i = 0; i < 200; i++)
                await v.RunAsync(c => { }, false, default);
            output.WriteLine($"SEQUENCE only: {sw.Elapsed.TotalMilliseconds / 200:F2} ms");
            sw.Restart();
            await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
            {
                for (int i = 0; i < 100; i++)
                    await v.RunAsync(c => { c.PutFh(v.RootFh); c.Getattr(v.StdMask); }, false, default);
            }));
            output.WriteLine($"GETATTR 8 parallel: {sw.Elapsed.TotalMilliseconds / 800:F2} ms each");
        }
    }
}
