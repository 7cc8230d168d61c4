using SmbCopy.EndToEnd.Tests.Infrastructure;

namespace SmbCopy.EndToEnd.Tests;

/// <summary>The capture check must be able to fail: a hand-made truncated SMB2 frame is flagged. Needs no server.</summary>
public sealed class TsharkCheckSelfTests(ITestOutputHelper output)
{
    [Fact]
    public async Task FlagsATruncatedSmb2Header()
    {
        var dir = Directory.CreateTempSubdirectory("smbcopy-tshark-").FullName;
        try
        {
            // NBSS length 20, then an SMB2 header cut off after 20 of its 64 bytes
            byte[] payload = [0, 0, 0, 20, 0xFE, (byte)'S', (byte)'M', (byte)'B', 64, 0, .. new byte[14]];
            var hex = Path.Combine(dir, "bad.txt");
            var pcap = Path.Combine(dir, "bad.pcap");
            await File.WriteAllTextAsync(hex, "000000 " + string.Join(' ', payload.Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture))) + "\n");
            var t2p = await ProcessRunner.RunAsync("text2pcap", ["-q", "-T", "40000,12345", hex, pcap], TimeSpan.FromSeconds(30));
            output.WriteLine(t2p.ToString());
            Assert.Equal(0, t2p.ExitCode);

            var findings = await TsharkCheck.FindProblemsAsync(pcap, 12345);
            output.WriteLine(findings.Tshark.ToString());
            Assert.Equal(0, findings.Tshark.ExitCode);
            var problem = Assert.Single(findings.Problems);
            Assert.Contains("Malformed Packet", problem, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
