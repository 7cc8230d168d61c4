using SmbCopy.Gateway.Configuration;
using SmbCopy.Gateway.Http;
using SmbCopy.Gateway.Observability;
using SmbCopy.Storage;

namespace SmbCopy.Gateway.Tests.Http;

public sealed class ReadinessTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("smbcopy-ready-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private ShareOptions Share(string name)
    {
        var path = Path.Combine(_dir, name);
        Directory.CreateDirectory(path);
        return new ShareOptions { Name = name, Driver = "Local", Path = path };
    }

    [Fact]
    public async Task Ready_is_503_until_every_share_volume_opens_then_200()
    {
        var gated = new GatedDriver();
        var server = HttpTestServer.Create([Share("a"), Share("b")], gated);
        var readiness = new ShareReadiness(server.Shares.All, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

        var before = await readiness.CheckAsync(TimeSpan.FromMilliseconds(200));
        Assert.False(before.Ready);
        Assert.All(before.Shares, s => Assert.Contains("no answer within", s.Problem));
        var (status, body) = await HttpTestServer.ExecuteAsync(await HttpEndpoints.ReadyAsync(server, CancellationToken.None));
        Assert.Equal(503, status);
        Assert.StartsWith("not ready\n", body);
        Assert.Contains("share a: volume did not open: no answer within 2 s", body);

        gated.Open();
        (status, body) = await HttpTestServer.ExecuteAsync(await HttpEndpoints.ReadyAsync(server, CancellationToken.None));
        Assert.Equal(200, status);
        Assert.Equal("ready\nshare a: ok\nshare b: ok\n", body);
        var after = await readiness.CheckAsync(TimeSpan.FromSeconds(2));
        Assert.True(after.Ready);
        Assert.All(after.Shares, s => Assert.True(s.CanRangeCopy));
    }

    [Fact]
    public async Task A_share_whose_backend_fails_keeps_readiness_at_503_with_the_reason()
    {
        var gated = new GatedDriver();
        gated.Fail(new StorageException(StorageError.NotFound, "export /e not found on nas"));
        var server = HttpTestServer.Create([Share("a")], gated);

        var (status, body) = await HttpTestServer.ExecuteAsync(await HttpEndpoints.ReadyAsync(server, CancellationToken.None));

        Assert.Equal(503, status);
        Assert.Equal("not ready\nshare a: volume did not open: NotFound: export /e not found on nas\n", body);
    }
}
