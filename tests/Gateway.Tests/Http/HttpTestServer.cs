using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SmbCopy.Gateway.Configuration;
using SmbCopy.Gateway.Hosting;
using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Server;
using SmbCopy.Storage;
using SmbCopy.Storage.Local;

namespace SmbCopy.Gateway.Tests.Http;

/// <summary>An <see cref="SmbServer"/> with no transport, for the HTTP endpoints' logic.</summary>
internal static class HttpTestServer
{
    public static SmbServer Create(IEnumerable<ShareOptions> shares, params IStorageDriver[] drivers) =>
        new(Options.Create(new SmbCopyOptions { Shares = [.. shares] }),
            new ServerIdentity { ServerGuid = Guid.NewGuid(), ServerName = "SRV", StartTime = DateTimeOffset.UtcNow },
            UserDirectory.FromOptions([]), Array.Empty<ISmb2Handler>(), drivers, NullLoggerFactory.Instance, TimeProvider.System);

    /// <summary>Executes an endpoint's result the way ASP.NET Core would; returns the status code and body.</summary>
    public static async Task<(int Status, string Body)> ExecuteAsync(IResult result)
    {
        var context = new DefaultHttpContext { RequestServices = new ServiceCollection().AddLogging().BuildServiceProvider() };
        using var body = new MemoryStream();
        context.Response.Body = body;
        await result.ExecuteAsync(context);
        return (context.Response.StatusCode, System.Text.Encoding.UTF8.GetString(body.ToArray()));
    }
}

/// <summary>The local driver behind a gate: volumes open only once <see cref="Open"/> is called, or fail with <see cref="Fail"/>.</summary>
internal sealed class GatedDriver(string name = "Local") : IStorageDriver
{
    private readonly TaskCompletionSource<Exception?> _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly LocalStorageDriver _local = new();

    public string Name => name;

    public void Open() => _gate.TrySetResult(null);
    public void Fail(Exception e) => _gate.TrySetResult(e);

    public async ValueTask<IStorageVolume> OpenVolumeAsync(StorageVolumeOptions options, CancellationToken cancellationToken = default)
    {
        if (await _gate.Task.ConfigureAwait(false) is { } failure) throw failure;
        return await _local.OpenVolumeAsync(options, cancellationToken).ConfigureAwait(false);
    }
}
