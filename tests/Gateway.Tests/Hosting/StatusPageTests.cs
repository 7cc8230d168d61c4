using SmbCopy.Gateway.Configuration;
using SmbCopy.Gateway.Http;
using SmbCopy.Gateway.Hosting;

namespace SmbCopy.Gateway.Tests.Hosting;

public sealed class StatusPageTests
{
    [Fact]
    public void Shows_identity_uptime_and_shares_encoded()
    {
        var identity = new ServerIdentity { ServerGuid = Guid.Parse("01234567-89ab-cdef-0123-456789abcdef"), ServerName = "SRV", StartTime = DateTimeOffset.UnixEpoch };
        var options = new SmbCopyOptions
        {
            Shares =
            [
                new() { Name = "<b>x</b>", Driver = "Local", Path = "/srv/x" },
                new() { Name = "n", Driver = "Nfs", Server = "nas", Export = "/e" },
            ],
        };
        var html = StatusPage.Render(identity, options, DateTimeOffset.UnixEpoch.AddSeconds(3725));

        Assert.Contains("01234567-89ab-cdef-0123-456789abcdef", html);
        Assert.Contains("1h 2m 5s", html);
        Assert.Contains("&lt;b&gt;x&lt;/b&gt;", html);
        Assert.DoesNotContain("<b>x</b>", html);
        Assert.Contains("/srv/x", html);
        Assert.Contains("nfs://nas/e", html);
    }
}
