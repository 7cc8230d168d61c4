using System.Diagnostics;
using System.Text.RegularExpressions;
using SmbCopy.EndToEnd.Tests.Infrastructure;
using static SmbCopy.EndToEnd.Tests.Infrastructure.FileServiceKit;

namespace SmbCopy.EndToEnd.Tests;

/// <summary>
/// Issue 3, check 1: the file service through smbclient on SMB 3.1.1 with client signing required:
/// put/get/ls/mkdir/rmdir/rename/del/allinfo, byte-exact transfers of pseudo-random files from 0 bytes
/// to 1 GiB, Unicode names and names with spaces, and case-insensitive opens that keep the stored case.
/// Every step is checked on both sides: what the client printed and what the share directory holds.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class FileServiceSmbClientTests(GatewayFixture server, ITestOutputHelper output)
{
    /// <summary>mkdir, put, ls, rename, allinfo, get, then del, rmdir: each step visible in the share directory.</summary>
    [Fact]
    public async Task BasicCommandsRoundTrip()
    {
        const int size = 5_000;
        var local = Path.Combine(server.WorkDir, "rt-src.bin");
        var back = Path.Combine(server.WorkDir, "rt-back.bin");
        var sha = WritePseudoRandomFile(local, size, seed: 11);
        var dir = Path.Combine(server.SharePath, "rt-dir");

        var r = await server.SignedSmbClientAsync($"mkdir rt-dir; cd rt-dir; put {Q(local)} a.bin; ls");
        output.WriteLine(r.ToString());
        Expect.Succeeded(r, server);
        Expect.That(!r.Output.Contains("NT_STATUS_", StringComparison.Ordinal), "no NT_STATUS error from mkdir/put/ls", r, server);
        Expect.That(Directory.Exists(dir), "mkdir created rt-dir in the share directory", r, server);
        Expect.That(File.Exists(Path.Combine(dir, "a.bin")) && Sha256File(Path.Combine(dir, "a.bin")) == sha, "put stored a.bin byte for byte", r, server);
        var listed = ParseLs(r.StdOut);
        Expect.That(listed.Any(e => e is { Name: "a.bin", Size: size } && e.Attributes.Contains('A')), $"ls shows a.bin, archive, {size} bytes", r, server);
        Expect.That(listed.Any(e => e.Name == ".") && listed.Any(e => e.Name == ".."), "ls of a subdirectory shows . and ..", r, server);

        r = await server.SignedSmbClientAsync($"cd rt-dir; rename a.bin b.bin; allinfo b.bin; get b.bin {Q(back)}");
        output.WriteLine(r.ToString());
        Expect.Succeeded(r, server);
        Expect.That(!r.Output.Contains("NT_STATUS_", StringComparison.Ordinal), "no NT_STATUS error from rename/allinfo/get", r, server);
        Expect.That(!File.Exists(Path.Combine(dir, "a.bin")) && File.Exists(Path.Combine(dir, "b.bin")), "rename moved a.bin to b.bin", r, server);
        Expect.That(Regex.IsMatch(r.StdOut, $@"^stream: \[::\$DATA\], {size} bytes$", RegexOptions.Multiline), $"allinfo reports the data stream of {size} bytes", r, server);
        Expect.That(Regex.IsMatch(r.StdOut, @"^attributes: A \(20\)$", RegexOptions.Multiline), "allinfo reports attributes A (0x20)", r, server);
        var mtime = File.GetLastWriteTimeUtc(Path.Combine(dir, "b.bin"));
        Expect.That(Regex.IsMatch(r.StdOut, $@"^write_time:\s+\w{{3}} \w{{3}} [ \d]\d \d\d:\d\d:\d\d {mtime.ToLocalTime().Year}", RegexOptions.Multiline),
            "allinfo reports a write time", r, server);
        Expect.That(File.Exists(back) && Sha256File(back) == sha, "get returned the stored bytes", r, server);

        r = await server.SignedSmbClientAsync("cd rt-dir; del b.bin; cd ..; rmdir rt-dir; ls");
        output.WriteLine(r.ToString());
        Expect.Succeeded(r, server);
        Expect.That(!r.Output.Contains("NT_STATUS_", StringComparison.Ordinal), "no NT_STATUS error from del/rmdir/ls", r, server);
        Expect.That(!Directory.Exists(dir), "del and rmdir removed rt-dir", r, server);
        Expect.That(!ParseLs(r.StdOut).Any(e => e.Name == "rt-dir"), "ls no longer shows rt-dir", r, server);
    }

    /// <summary>Refusals a client relies on: rmdir of a non-empty directory, get of a missing file.</summary>
    [Fact]
    public async Task RmdirOfNonEmptyDirectoryAndGetOfMissingFileFail()
    {
        var dir = Path.Combine(server.SharePath, "full-dir");
        var local = Path.Combine(server.WorkDir, "full-src.bin");
        WritePseudoRandomFile(local, 10, seed: 12);
        var r = await server.SignedSmbClientAsync($"mkdir full-dir; put {Q(local)} full-dir\\x.bin; rmdir full-dir");
        output.WriteLine(r.ToString());
        // smbclient -c exits with the last command's status, and not always non-zero: the message is the check
        Expect.That(r.Output.Contains("NT_STATUS_DIRECTORY_NOT_EMPTY", StringComparison.Ordinal), "rmdir fails with NT_STATUS_DIRECTORY_NOT_EMPTY", r, server);
        Expect.That(File.Exists(Path.Combine(dir, "x.bin")), "the directory and its file are still there", r, server);

        var missing = Path.Combine(server.WorkDir, "never-there.bin");
        r = await server.SignedSmbClientAsync($"get no-such-file.bin {Q(missing)}");
        output.WriteLine(r.ToString());
        Expect.That(r.Output.Contains("NT_STATUS_OBJECT_NAME_NOT_FOUND", StringComparison.Ordinal), "get fails with NT_STATUS_OBJECT_NAME_NOT_FOUND", r, server);
        Expect.That(!File.Exists(missing) || new FileInfo(missing).Length == 0, "nothing was downloaded", r, server);
    }

    /// <summary>put then get of a fixed-seed pseudo-random file: the SHA-256 is the same locally, in the share, and back.</summary>
    [Theory]
    [InlineData(0L)]
    [InlineData(1L)]
    [InlineData(64L * 1024 + 1)]
    [InlineData(8L * 1024 * 1024 + 3)]
    [InlineData(100L * 1024 * 1024)]
    [InlineData(1024L * 1024 * 1024)]
    public async Task TransferIsByteExact(long size)
    {
        var name = $"size-{size}.bin";
        var local = Path.Combine(server.WorkDir, name); // under /tmp, written once per run, removed after
        var back = local + ".back";
        var stored = Path.Combine(server.SharePath, name);
        try
        {
            var sw = Stopwatch.StartNew();
            var sha = WritePseudoRandomFile(local, size, seed: 0x5EED_0000UL + (ulong)size);
            output.WriteLine($"generated {size} bytes in {sw.Elapsed.TotalSeconds:F1} s, sha256 {sha}");

            // put, get and ls in separate runs: each step is judged on its own
            var put = await server.SignedSmbClientAsync($"put {Q(local)} {name}", TimeSpan.FromMinutes(5));
            output.WriteLine(put.ToString());
            output.WriteLine($"put: {size / 1048576.0:F1} MiB in {put.Elapsed.TotalSeconds:F1} s");
            Expect.Succeeded(put, server);
            Expect.That(File.Exists(stored) && new FileInfo(stored).Length == size && Sha256File(stored) == sha,
                "the share directory holds the same bytes", put, server);

            var get = await server.SignedSmbClientAsync($"get {name} {Q(back)}", TimeSpan.FromMinutes(5));
            output.WriteLine(get.ToString());
            output.WriteLine($"get: {size / 1048576.0:F1} MiB in {get.Elapsed.TotalSeconds:F1} s");
            Expect.Succeeded(get, server);
            Expect.That(File.Exists(back) && new FileInfo(back).Length == size && Sha256File(back) == sha,
                "the file read back has the same SHA-256", get, server);

            var ls = await server.SignedSmbClientAsync($"ls {name}");
            output.WriteLine(ls.ToString());
            Expect.That(ParseLs(ls.StdOut).Any(e => e.Name == name && e.Size == size), $"ls shows {name} with {size} bytes", ls, server);
        }
        finally
        {
            foreach (var f in new[] { local, back, stored })
            {
                File.Delete(f);
            }
        }
    }

    /// <summary>Unicode and spaces in file and directory names: stored as UTF-8 with the exact name, listed, read back.</summary>
    [Theory]
    [InlineData("Résumé – 日本語.txt")]
    [InlineData("name with  two spaces.txt")]
    [InlineData("Ünïcødé dir ü/ファイル 名前 ü.bin")]
    public async Task UnicodeAndSpacedNamesRoundTrip(string name)
    {
        var local = Path.Combine(server.WorkDir, "uni-src.bin");
        var back = Path.Combine(server.WorkDir, "uni-back.bin");
        File.Delete(back);
        var sha = WritePseudoRandomFile(local, 777 + name.Length, seed: 13);
        var dir = name.Contains('/') ? name[..name.IndexOf('/')] : null;
        var leaf = name[(name.LastIndexOf('/') + 1)..];
        var remote = name.Replace('/', '\\');

        var r = await server.SignedSmbClientAsync(
            (dir is null ? "" : $"mkdir {Q(dir)}; ") + $"put {Q(local)} {Q(remote)}; ls {Q(dir is null ? remote : dir + "\\*")}; get {Q(remote)} {Q(back)}");
        output.WriteLine(r.ToString());
        Expect.Succeeded(r, server);
        Expect.That(!r.Output.Contains("NT_STATUS_", StringComparison.Ordinal), "no NT_STATUS error", r, server);
        var stored = Path.Combine(server.SharePath, name);
        Expect.That(File.Exists(stored) && Sha256File(stored) == sha, $"the share directory holds '{name}' (UTF-8) with the bytes", r, server);
        Expect.That(ParseLs(r.StdOut).Any(e => e.Name == leaf), $"ls shows '{leaf}' exactly", r, server);
        Expect.That(File.Exists(back) && Sha256File(back) == sha, "get by the Unicode name returned the bytes", r, server);
    }

    /// <summary>Windows semantics: a file created as Report.TXT opens as report.txt and REPORT.txt; ls keeps Report.TXT.</summary>
    [Fact]
    public async Task NamesAreCaseInsensitiveAndCasePreserving()
    {
        var local = Path.Combine(server.WorkDir, "case-src.bin");
        var back1 = Path.Combine(server.WorkDir, "case-back1.bin");
        var back2 = Path.Combine(server.WorkDir, "case-back2.bin");
        var sha = WritePseudoRandomFile(local, 4321, seed: 14);
        var r = await server.SignedSmbClientAsync(
            $"mkdir CaseDir; put {Q(local)} CaseDir\\Report.TXT; get casedir\\report.txt {Q(back1)}; get CASEDIR\\REPORT.txt {Q(back2)}; allinfo casedir\\rEpOrT.tXt; ls casedir\\*");
        output.WriteLine(r.ToString());
        Expect.Succeeded(r, server);
        Expect.That(!r.Output.Contains("NT_STATUS_", StringComparison.Ordinal), "no NT_STATUS error", r, server);
        Expect.That(File.Exists(back1) && Sha256File(back1) == sha, "get casedir\\report.txt returned Report.TXT's bytes", r, server);
        Expect.That(File.Exists(back2) && Sha256File(back2) == sha, "get CASEDIR\\REPORT.txt returned Report.TXT's bytes", r, server);
        Expect.That(Regex.IsMatch(r.StdOut, @"^stream: \[::\$DATA\], 4321 bytes$", RegexOptions.Multiline), "allinfo by another case finds the file", r, server);
        var names = ParseLs(r.StdOut).Select(e => e.Name).Where(n => n is not ("." or "..")).ToList();
        Expect.That(names.SequenceEqual(["Report.TXT"]), $"ls shows exactly Report.TXT (saw: {string.Join(", ", names)})", r, server);
        var onDisk = Directory.GetFileSystemEntries(server.SharePath, "*", new EnumerationOptions { MatchCasing = MatchCasing.CaseInsensitive })
            .Select(Path.GetFileName).Where(n => string.Equals(n, "casedir", StringComparison.OrdinalIgnoreCase)).ToList();
        Expect.That(onDisk.SequenceEqual(["CaseDir"]), "one directory CaseDir on disk", r, server);
        var files = Directory.GetFiles(Path.Combine(server.SharePath, "CaseDir")).Select(Path.GetFileName).ToList();
        Expect.That(files.SequenceEqual(["Report.TXT"]), "one file Report.TXT on disk (no second file by another case)", r, server);

        // a put by another case overwrites the existing file instead of creating a second one
        var local2 = Path.Combine(server.WorkDir, "case-src2.bin");
        var sha2 = WritePseudoRandomFile(local2, 99, seed: 15);
        r = await server.SignedSmbClientAsync($"put {Q(local2)} casedir\\REPORT.TXT; ls casedir\\*");
        output.WriteLine(r.ToString());
        Expect.Succeeded(r, server);
        files = Directory.GetFiles(Path.Combine(server.SharePath, "CaseDir")).Select(Path.GetFileName).ToList();
        Expect.That(files.SequenceEqual(["Report.TXT"]) && Sha256File(Path.Combine(server.SharePath, "CaseDir", "Report.TXT")) == sha2,
            $"put to REPORT.TXT replaced Report.TXT's content (files: {string.Join(", ", files)})", r, server);
    }
}
