using SmbCopy.EndToEnd.Tests.Infrastructure;
using static SmbCopy.EndToEnd.Tests.Infrastructure.FileServiceKit;

namespace SmbCopy.EndToEnd.Tests;

/// <summary>
/// Issue 3, check 4: a directory of 10,000 files (created on the server side, straight in the share
/// directory) lists completely and exactly once through smbclient <c>ls</c>, which needs many
/// QUERY_DIRECTORY round trips with resumption between them.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class FileServiceLargeDirectoryTests(GatewayFixture server, ITestOutputHelper output)
{
    [Fact]
    public async Task TenThousandFilesListCompletelyAndOnce()
    {
        const int count = 10_000;
        var dir = Path.Combine(server.SharePath, "big10k");
        Directory.CreateDirectory(dir);
        File.SetUnixFileMode(dir, (UnixFileMode)0b111_111_111);
        // names of varying length (entries straddle the response buffers at different offsets), some with spaces and Unicode
        var expected = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var name = $"f{i:D5}-{new string((char)('a' + i % 26), i % 41)}" + (i % 97 == 0 ? " é spaced" : "") + ".dat";
            expected.Add(name);
            File.WriteAllBytes(Path.Combine(dir, name), i % 10 == 0 ? [(byte)i] : []);
        }

        var r = await server.SignedSmbClientAsync("ls big10k\\*", TimeSpan.FromMinutes(3));
        output.WriteLine($"$ {r.CommandLine}\nexit {r.ExitCode} after {r.Elapsed.TotalSeconds:F1} s, {r.StdOut.Length} bytes of output\n{r.StdErr}");
        Expect.Succeeded(r, server);
        var entries = ParseLs(r.StdOut).Where(e => e.Name is not ("." or "..")).ToList();
        var seen = entries.GroupBy(e => e.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var duplicates = seen.Where(kv => kv.Value > 1).Select(kv => $"{kv.Key} ×{kv.Value}").ToList();
        var missing = expected.Where(n => !seen.ContainsKey(n)).ToList();
        var extra = seen.Keys.Where(n => !expected.Contains(n)).ToList();
        output.WriteLine($"{entries.Count} entries, {seen.Count} distinct, {duplicates.Count} duplicated, {missing.Count} missing, {extra.Count} unexpected");
        var summary = r with { StdOut = string.Join('\n', r.StdOut.Split('\n').Take(20)) + "\n…" };
        Expect.That(duplicates.Count == 0, $"no name listed twice (duplicated: {string.Join(", ", duplicates.Take(10))})", summary, server);
        Expect.That(missing.Count == 0, $"every file listed ({missing.Count} missing, e.g. {string.Join(", ", missing.Take(10))})", summary, server);
        Expect.That(extra.Count == 0, $"nothing else listed ({string.Join(", ", extra.Take(10))})", summary, server);
        Expect.That(entries.Count == count, $"exactly {count} entries besides . and ..", summary, server);
        Expect.That(entries.All(e => e.Size == (int.Parse(e.Name.AsSpan(1, 5), System.Globalization.CultureInfo.InvariantCulture) % 10 == 0 ? 1 : 0)),
            "every entry has its size", summary, server);
        var dots = ParseLs(r.StdOut).Count(e => e.Name is "." or "..");
        Expect.That(dots == 2, $". and .. once each (saw {dots})", summary, server);
    }
}
