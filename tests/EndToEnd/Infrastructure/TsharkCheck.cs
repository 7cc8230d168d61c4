using System.Globalization;

namespace SmbCopy.EndToEnd.Tests.Infrastructure;

/// <summary>Decodes a capture with tshark and finds malformed frames and expert errors.</summary>
public static class TsharkCheck
{
    // epan/proto.h: PI_ERROR and PI_MALFORMED. tshark 4.0 does not read the bare word 'error' in
    // '_ws.expert.severity >= error' as PI_ERROR (it matched Warning frames here), so use numbers.
    public const string PiError = "0x00800000";
    public const string PiMalformed = "0x07000000";

    /// <summary>
    /// The one tolerated tshark 4.0 artifact: in a NEGOTIATE response's security buffer, negTokenInit2's
    /// negHints ([3] SEQUENCE, sent by Windows and Samba) is read as RFC 4178's mechListMIC
    /// ([3] OCTET STRING) and flagged malformed at Warning severity.
    /// </summary>
    public const string NegHintsArtifact = "BER Error: OctetString expected but class:UNIVERSAL(0) Constructed tag:16 was unexpected";

    public sealed record Findings(ProcessResult Tshark, IReadOnlyList<string> Problems, IReadOnlyList<string> Tolerated);

    public static Task<ProcessResult> RunAsync(string pcap, params string[] args) =>
        ProcessRunner.RunAsync("tshark", ["-n", "-r", pcap, .. args], TimeSpan.FromMinutes(2));

    /// <summary>Every frame marked malformed or carrying an expert item of severity Error or group Malformed;
    /// lines are 'frame, smb2.cmd, severities, groups, messages' (tab-separated, lists joined by '|').</summary>
    public static async Task<Findings> FindProblemsAsync(string pcap, int smbPort)
    {
        var r = await RunAsync(pcap, "-d", $"tcp.port=={smbPort},nbss",
            "-Y", $"_ws.malformed || _ws.expert.severity >= {PiError} || _ws.expert.group == {PiMalformed}",
            "-T", "fields", "-e", "frame.number", "-e", "smb2.cmd", "-e", "_ws.expert.severity", "-e", "_ws.expert.group",
            "-e", "_ws.expert.message", "-E", "occurrence=a", "-E", "aggregator=|");
        var lines = r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var problems = lines.Where(IsProblem).ToList();
        return new Findings(r, problems, lines.Except(problems).ToList());
    }

    private static bool IsProblem(string line)
    {
        var c = line.Split('\t');
        if (c.Length < 5 || c[1] != "0") // only NEGOTIATE (command 0) may carry the artifact
        {
            return true;
        }
        var severities = c[2].Split('|');
        var groups = c[3].Split('|');
        var messages = c[4].Split('|');
        if (severities.Length != messages.Length || groups.Length != messages.Length)
        {
            return true;
        }
        for (var i = 0; i < messages.Length; i++)
        {
            if (!long.TryParse(severities[i], CultureInfo.InvariantCulture, out var severity) ||
                !long.TryParse(groups[i], CultureInfo.InvariantCulture, out var group))
            {
                return true;
            }
            var error = severity >= Convert.ToInt64(PiError, 16);
            var malformed = group == Convert.ToInt64(PiMalformed, 16);
            if (error || (malformed && messages[i] != NegHintsArtifact))
            {
                return true;
            }
        }
        return false;
    }
}
