using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using SmbCopy.EndToEnd.Tests.Infrastructure;

namespace SmbCopy.EndToEnd.Tests;

/// <summary>
/// What an administrator sees (docs/operations.md): the status page in a real browser (Debian's headless chromium)
/// and the Prometheus metrics, after real copy-chunks from a real client (python3-impacket). Own gateway
/// (<see cref="OperationsGateway"/>); in the server collection so it does not compete with the other end-to-end tests.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed partial class OperationsTests(OperationsGateway gateway, ITestOutputHelper output) : IClassFixture<OperationsGateway>
{
    /// <summary>The method the gateway must pick for a copy inside one local file system: clone where it can reflink,
    /// else the kernel's copy_file_range. Found independently of the gateway, with cp --reflink=always.</summary>
    private async Task<string> ExpectedLocalMethodAsync()
    {
        var dir = gateway.SharePath("data");
        var probe = Path.Combine(dir, ".reflink-probe");
        await File.WriteAllBytesAsync(probe, new byte[65536]);
        try
        {
            var r = await ProcessRunner.RunAsync("cp", ["--reflink=always", probe, probe + ".2"], TimeSpan.FromSeconds(30));
            return r.ExitCode == 0 ? "clone" : "offload";
        }
        finally
        {
            File.Delete(probe);
            File.Delete(probe + ".2");
        }
    }

    [Fact]
    public async Task Status_page_in_chromium_shows_the_share_the_session_and_the_copy_chunk_with_its_method()
    {
        var method = await ExpectedLocalMethodAsync();
        const int size = (3 << 20) + 11;
        await using var client = gateway.StartClient();
        var hello = await client.ReadLineAsync();
        Assert.StartsWith("ready 0x", hello);
        var dialect = hello[^4..] switch { "0202" => "2.0.2", "0210" => "2.1", "0300" => "3.0", "0302" => "3.0.2", "0311" => "3.1.1", var d => d };
        Assert.Equal($"put {size}", await client.SendAsync($"put data page-src.bin {size} 1"));
        Assert.Equal($"copied {size}", await client.SendAsync("copychunk data page-src.bin data page-copy.bin"));
        Assert.Equal("holding", await client.SendAsync("hold data page-src.bin"));
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(gateway.SharePath("data"), "page-src.bin")),
            await File.ReadAllBytesAsync(Path.Combine(gateway.SharePath("data"), "page-copy.bin")));

        var r = await gateway.ChromiumDumpDomAsync("/");
        output.WriteLine(r.CommandLine);
        Assert.True(r.ExitCode == 0, $"chromium failed:\n{r}");
        var dom = r.StdOut;
        output.WriteLine(dom);

        var shares = Table(dom, "shares");
        var data = Assert.Single(shares, row => row[0] == "data");
        Assert.Equal("Local", data[1]);
        Assert.Equal(gateway.SharePath("data"), data[2]);
        Assert.StartsWith("ready", data[4]);
        Assert.Equal(method == "clone" ? "yes" : "no", data[5].Split(' ')[0]); // Clone column
        Assert.Equal("yes", data[6]); // range copy

        var sessions = Table(dom, "sessions");
        var session = Assert.Single(sessions, row => row[0] == gateway.User || row[0].EndsWith("\\" + gateway.User, StringComparison.Ordinal));
        Assert.StartsWith("127.0.0.1:", session[1]);
        Assert.Equal(dialect, session[2]);
        Assert.StartsWith(dialect.StartsWith('3') ? "AES-128-" : "HMAC-SHA256", session[3]); // signed, with the dialect's algorithm
        Assert.Equal("no", session[4]);            // not encrypted

        Assert.Contains(Table(dom, "opens"), row => row[0] == "data" && row[1] == "page-src.bin");

        var copies = Table(dom, "copies-recent");
        var copy = Assert.Single(copies, row => row[4] == "page-copy.bin");
        Assert.Equal("COPYCHUNK", copy[1].Split(' ')[0]);
        Assert.Equal("data", copy[2]);
        Assert.Equal("page-src.bin", copy[3]);
        Assert.Equal(method, copy[7]);
        Assert.Equal("3.0 MiB", copy[8]);
        Assert.Equal(method == "clone" ? "" : "clone_unsupported", copy[10]);
        Assert.Equal("ok", copy[11]);
        Assert.Matches($"data-bytes=\"{size}\"", dom);
        Assert.Contains(Table(dom, "offload"), row => row[0] == "data" && row[1] == "100 %");
    }

    [Fact]
    public async Task Metrics_count_copied_bytes_by_share_and_method()
    {
        var method = await ExpectedLocalMethodAsync();
        const int inside = (2 << 20) + 5, across = (1 << 20) + 4097;
        var before = await BytesTotalsAsync();
        await using (var client = gateway.StartClient())
        {
            Assert.StartsWith("ready 0x", await client.ReadLineAsync());
            Assert.Equal($"put {inside}", await client.SendAsync($"put data m-a.bin {inside} 2"));
            Assert.Equal($"put {across}", await client.SendAsync($"put data m-b.bin {across} 3"));
            Assert.Equal($"copied {inside}", await client.SendAsync("copychunk data m-a.bin data m-a-copy.bin"));
            Assert.Equal($"copied {across}", await client.SendAsync("copychunk data m-b.bin other m-b-copy.bin"));
            Assert.Equal($"copied {across}", await client.SendAsync("copychunk data m-b.bin other m-b-copy2.bin"));
        }
        var after = await BytesTotalsAsync();

        // Counted for the destination's share, by the method that moved the bytes; nothing else moved.
        long Delta(string share, string m) => after.GetValueOrDefault((share, m)) - before.GetValueOrDefault((share, m));
        Assert.Equal(inside, Delta("data", method));
        Assert.Equal(2L * across, Delta("other", method));
        foreach (var key in after.Keys.Union(before.Keys).Where(k => k != ("data", method) && k != ("other", method)))
        {
            Assert.Equal(0, Delta(key.Share, key.Method));
        }
        var text = await gateway.GetAsync("/metrics");
        Assert.Matches(@"(?m)^smbcopy_copy_operations_total\{[^}]*share=""other""", text);
        Assert.Matches(@"(?m)^smbcopy_smb_requests_total\{[^}]*command=""Ioctl""", text);
        if (method == "offload")
        {
            Assert.Matches(@"(?m)^smbcopy_copy_fallbacks_total\{[^}]*reason=""clone_unsupported""", text);
        }
    }

    [Fact]
    public async Task Ready_after_the_shares_open_and_logs_carry_no_secrets()
    {
        var ready = await gateway.GetAsync("/healthz/ready");
        Assert.Equal("ready\nshare data: ok\nshare other: ok\n", ready);
        Assert.Equal("ok", await gateway.GetAsync("/healthz"));
        await using (var client = gateway.StartClient())
        {
            Assert.StartsWith("ready 0x", await client.ReadLineAsync());
        }
        var log = gateway.Output;
        Assert.Contains("session", log, StringComparison.Ordinal); // the log-on was logged (at Debug, everything is)
        Assert.DoesNotContain(gateway.Password, log, StringComparison.Ordinal);
        Assert.DoesNotContain(NtHash.Hex(gateway.Password), log, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>smbcopy_copy_bytes_total by (share, method), from the Prometheus text.</summary>
    private async Task<Dictionary<(string Share, string Method), long>> BytesTotalsAsync()
    {
        var text = await gateway.GetAsync("/metrics");
        var totals = new Dictionary<(string, string), long>();
        foreach (Match m in BytesLine().Matches(text))
        {
            var labels = Label().Matches(m.Groups[1].Value).ToDictionary(l => l.Groups[1].Value, l => l.Groups[2].Value);
            var key = (labels["share"], labels["method"]);
            totals[key] = totals.GetValueOrDefault(key) + long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        }
        output.WriteLine(string.Join("\n", totals.Select(t => $"{t.Key}: {t.Value}")));
        return totals;
    }

    /// <summary>The rows (cells as text) of the table with this id, header row excluded.</summary>
    private static List<string[]> Table(string dom, string id)
    {
        var table = Regex.Match(dom, $"<table id=\"{id}\">(.*?)</table>", RegexOptions.Singleline);
        Assert.True(table.Success, $"no table #{id} on the page");
        return Regex.Matches(table.Groups[1].Value, "<tr>(.*?)</tr>", RegexOptions.Singleline)
            .Select(row => Regex.Matches(row.Groups[1].Value, "<td[^>]*>(.*?)</td>", RegexOptions.Singleline)
                .Select(c => WebUtility.HtmlDecode(Regex.Replace(c.Groups[1].Value, "<[^>]+>", "")).Trim()).ToArray())
            .Where(cells => cells.Length > 0)
            .ToList();
    }

    [GeneratedRegex(@"(?m)^smbcopy_copy_bytes_total\{([^}]*)\} (\d+)")]
    private static partial Regex BytesLine();

    [GeneratedRegex(@"(\w+)=""([^""]*)""")]
    private static partial Regex Label();
}
