using SmbCopy.Gateway.Configuration;
using SmbCopy.Gateway.Hosting;
using SmbCopy.Gateway.Http;
using SmbCopy.Gateway.Observability;
using SmbCopy.Storage;

namespace SmbCopy.Gateway.Tests.Http;

public sealed class StatusPageRenderTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private static StatusView View(CopyActivitySnapshot copies)
    {
        var identity = new ServerIdentity { ServerGuid = Guid.NewGuid(), ServerName = "SRV", StartTime = Now.AddHours(-1) };
        var options = new SmbCopyOptions
        {
            Shares =
            [
                new() { Name = "btr", Driver = "Local", Path = "/srv/btr" },
                new() { Name = "<i>x</i>", Driver = "Nfs", Server = "nas", Export = "/e" },
            ],
        };
        var clone = StorageCapabilities.CloneRange | StorageCapabilities.RangeCopy;
        ShareView[] shares =
        [
            StatusSnapshot.FromOptions(options.Shares[0], new ShareHealth("btr", "Local", true, null, clone, 4096, "btrfs")),
            StatusSnapshot.FromOptions(options.Shares[1], new ShareHealth("<i>x</i>", "Nfs", false, "volume did not open: Unavailable: <nas> down", null, 0, null)),
        ];
        SessionView[] sessions = [new(1, "WORKGROUP\\alice", "10.0.0.5:50000", "3.1.1", "AES-128-GMAC (required)", "AES-128-GCM", ["btr"], 1, Now)];
        OpenView[] opens = [new(1, "WORKGROUP\\alice", "btr", "dir\\a&b.vhdx", false, "read, write")];
        return new StatusView(identity, options, Now, shares, sessions, opens, copies, false);
    }

    private static CopyEntry Copy(string dst, long bytes, int active, string methods, string reason) =>
        new(1, new CopyOrigin("COPYCHUNK", "btr", "btr", "src.vhdx", dst, "WORKGROUP\\alice", "10.0.0.5:50000", 1, 1, 2),
            Now.AddSeconds(-2), Now, bytes, bytes, 16, active, methods, reason, TimeSpan.FromMilliseconds(40), null);

    [Fact]
    public void Shows_capabilities_sessions_opens_copies_and_the_offload_chart_all_encoded()
    {
        var copies = new CopyActivitySnapshot(
            [Copy("<script>alert(1)</script>.vhdx", 1 << 20, 1, "none", "")],
            [Copy("done.vhdx", 16L << 20, 0, "clone", "")],
            [new ShareCopyTotals("btr", 3L << 20, 0, 1L << 20)]);

        var html = StatusPage.Render(View(copies));

        Assert.Contains("<td class=\"ok\">ready (btrfs)</td><td class=\"ok\">yes (4096 B blocks)</td><td class=\"ok\">yes</td><td>yes, by clone</td>", html);
        Assert.Contains("<td class=\"bad\">volume did not open: Unavailable: &lt;nas&gt; down</td>", html);
        Assert.Contains("&lt;i&gt;x&lt;/i&gt;", html);
        Assert.Contains("<td>WORKGROUP\\alice</td><td>10.0.0.5:50000</td><td>3.1.1</td><td>AES-128-GMAC (required)</td><td>AES-128-GCM</td>", html);
        Assert.Contains("<td>dir\\a&amp;b.vhdx</td>", html);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;.vhdx", html);
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("<i>", html);
        Assert.Contains("<td class=\"method\">clone</td><td class=\"num\" data-bytes=\"16777216\"", html);
        Assert.Contains("COPYCHUNK (16 calls)", html);
        Assert.Contains("<td class=\"num\">75 %</td>", html); // 3 MiB cloned of 4 MiB
        Assert.Contains("<svg width=\"300\"", html);
        Assert.Contains("<rect x=\"0\" y=\"0\" width=\"225\" height=\"16\" fill=\"#1b7f3b\">", html);
        Assert.Contains("no: see the shares below", html);
        Assert.DoesNotContain("src=\"http", html);
        Assert.DoesNotContain("href=\"http", html);
    }

    [Fact]
    public void Empty_sections_say_so()
    {
        var html = StatusPage.Render(View(CopyActivitySnapshot.Empty));
        Assert.Contains("<p id=\"copies-in-flight\" class=\"muted\">None.</p>", html);
        Assert.Contains("<p id=\"copies-recent\" class=\"muted\">None.</p>", html);
        Assert.Contains("No server-side copies yet.", html);
    }

    [Theory]
    [InlineData(0L, "0 B")]
    [InlineData(1023L, "1023 B")]
    [InlineData(1536L, "1.5 KiB")]
    [InlineData(3L << 30, "3.0 GiB")]
    public void Formats_bytes(long bytes, string expected) => Assert.Equal(expected, StatusPage.FormatBytes(bytes));
}
