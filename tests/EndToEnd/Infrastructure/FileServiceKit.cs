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

    /// <summary>Writes <paramref name="length"/> bytes of a pseudo-random stream seeded with <paramref name="seed"/>
    /// (incompressible, never all zeros, the same on every run) and returns their SHA-256 (hex). The stream is
    /// AES-128 in counter mode, one key per MiB derived from the seed: AES-NI makes 1 GiB take seconds.</summary>
    public static string WritePseudoRandomFile(string path, long length, ulong seed)
    {
        const int chunk = 1 << 20;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, chunk);
        var counters = new byte[chunk];
        for (var i = 0; i < chunk / 16; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(counters.AsSpan(i * 16), i);
        }
        var buffer = new byte[chunk];
        var keyInput = new byte[16];
        using var aes = Aes.Create();
        for (long done = 0, index = 0; done < length; index++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(keyInput, seed);
            BinaryPrimitives.WriteInt64LittleEndian(keyInput.AsSpan(8), index);
            aes.Key = SHA256.HashData(keyInput)[..16];
            aes.EncryptEcb(counters, buffer, PaddingMode.None);
            var n = (int)Math.Min(chunk, length - done);
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
