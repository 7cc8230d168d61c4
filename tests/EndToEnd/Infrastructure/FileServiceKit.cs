using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace SmbCopy.EndToEnd.Tests.Infrastructure;

/// <summary>Helpers for the file-service end-to-end tests: signed SMB 3.1.1 smbclient runs, deterministic
/// pseudo-random files, hashes, and smbclient <c>ls</c> parsing.</summary>
public static class FileServiceKit
{
    /// <summary>smbclient on SMB 3.1.1 only, client signing required, one -c command string.</summary>
    public static Task<ProcessResult> SignedSmbClientAsync(this GatewayFixture server, string commands, TimeSpan? timeout = null,
        string? workingDirectory = null) =>
        ProcessRunner.RunAsync("smbclient",
        [
            "--configfile=/dev/null", "-p", server.Port.ToString(), $"//{server.Host}/{server.ShareName}",
            "-U", $"{server.User}%{server.Password}", "-m", "SMB3_11", "--option=client min protocol=SMB3_11",
            "--client-protection=sign", "-c", commands,
        ], timeout ?? TimeSpan.FromSeconds(60), workingDirectory: workingDirectory);

    /// <summary>A name in double quotes for an smbclient -c command (smbclient has no escape for '"').</summary>
    public static string Q(string name) =>
        name.Contains('"', StringComparison.Ordinal) ? throw new ArgumentException("no '\"' in smbclient names", nameof(name)) : "\"" + name + "\"";

    /// <summary>Writes <paramref name="length"/> bytes of a SplitMix64 stream seeded with <paramref name="seed"/>
    /// (incompressible, never all zeros, the same on every run) and returns their SHA-256 (hex).</summary>
    public static string WritePseudoRandomFile(string path, long length, ulong seed)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        var buffer = new byte[1 << 20];
        var state = seed;
        for (long done = 0; done < length;)
        {
            for (var i = 0; i < buffer.Length; i += 8)
            {
                state += 0x9E3779B97F4A7C15UL;
                var z = state;
                z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
                z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
                BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(i), z ^ (z >> 31));
            }
            var n = (int)Math.Min(buffer.Length, length - done);
            fs.Write(buffer, 0, n);
            sha.AppendData(buffer, 0, n);
            done += n;
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    public static string Sha256File(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(fs));
    }

    /// <summary>
    /// The entries of smbclient <c>ls</c> output: name, attribute letters, size. A line is
    /// <c>"  NAME   ATTRS   SIZE  Www Mmm dd hh:mm:ss yyyy"</c>; names may contain spaces, so the line is
    /// parsed from its end (the date has a fixed shape, the size is digits, the attributes letters).
    /// </summary>
    public static IReadOnlyList<(string Name, string Attributes, long Size)> ParseLs(string stdout)
    {
        var entries = new List<(string, string, long)>();
        foreach (var raw in stdout.Split('\n'))
        {
            var m = LsLine.Match(raw.TrimEnd('\r'));
            if (m.Success)
            {
                entries.Add((m.Groups["name"].Value, m.Groups["attr"].Value, long.Parse(m.Groups["size"].Value, System.Globalization.CultureInfo.InvariantCulture)));
            }
        }
        return entries;
    }

    private static readonly System.Text.RegularExpressions.Regex LsLine = new(
        @"^  (?<name>.+?)\s+(?<attr>[ADHSRNI]*)\s+(?<size>\d+)  [A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}$",
        System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <summary>The first line of a local file as text, for "this content never appears" checks.</summary>
    public static string FirstLine(string path) => File.ReadLines(path, Encoding.UTF8).First();
}
