using System.Text.RegularExpressions;
using SmbCopy.EndToEnd.Tests.Infrastructure;
using static SmbCopy.EndToEnd.Tests.Infrastructure.FileServiceKit;

namespace SmbCopy.EndToEnd.Tests;

/// <summary>
/// Named streams through smbclient (SMB 3.1.1, signed): a stream is written and read back byte for byte beside its
/// file's own data, allinfo lists it, a listing shows only the file, and deleting the file deletes its streams.
/// On the gateway the stream store itself never shows in the share and goes away with the file.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class FileServiceStreamsTests(GatewayFixture server, ITestOutputHelper output)
{
    [Fact]
    public async Task StreamRoundTripBesideTheFileData()
    {
        var main = Path.Combine(server.WorkDir, "st-main.bin");
        var stream = Path.Combine(server.WorkDir, "st-stream.bin");
        var backMain = Path.Combine(server.WorkDir, "st-main-back.bin");
        var backStream = Path.Combine(server.WorkDir, "st-stream-back.bin");
        var shaMain = WritePseudoRandomFile(main, 3_000, seed: 31);
        // A stream is a file of its own on the gateway (1 MiB here); Samba's streams_xattr keeps it in one xattr (ext4: < 4 KiB).
        int streamSize = server.Target == "gateway" ? 1 << 20 : 2_000;
        var shaStream = WritePseudoRandomFile(stream, streamSize, seed: 32);
        var store = Path.Combine(server.SharePath, "smbcopy:streams");
        int StoreCount() => Directory.Exists(store) ? Directory.GetDirectories(store).Length : 0;
        int before = StoreCount(); // other tests of the collection may have left files with streams

        var r = await server.SignedSmbClientAsync(
            $"mkdir st-dir; cd st-dir; put {Q(main)} f.bin; put {Q(stream)} f.bin:Zone.Identifier; allinfo f.bin; ls");
        output.WriteLine(r.ToString());
        Expect.Succeeded(r, server);
        Expect.That(!r.Output.Contains("NT_STATUS_", StringComparison.Ordinal), "no NT_STATUS error from put/allinfo/ls", r, server);
        Expect.That(Regex.IsMatch(r.StdOut, @"^stream: \[::\$DATA\], 3000 bytes$", RegexOptions.Multiline), "allinfo lists the unnamed stream, 3000 bytes", r, server);
        Expect.That(Regex.IsMatch(r.StdOut, $@"^stream: \[:Zone\.Identifier:\$DATA\], {streamSize} bytes$", RegexOptions.Multiline),
            $"allinfo lists :Zone.Identifier:$DATA, {streamSize} bytes", r, server);
        var listed = ParseLs(r.StdOut);
        Expect.That(listed.Count(e => e.Name is not ("." or "..")) == 1 && listed.Any(e => e is { Name: "f.bin", Size: 3000 }),
            "ls shows f.bin (3000 bytes) and nothing else", r, server);
        var dir = Path.Combine(server.SharePath, "st-dir");
        Expect.That(Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).SequenceEqual(["f.bin"]),
            "the share directory holds only f.bin", r, server);
        Expect.That(Sha256File(Path.Combine(dir, "f.bin")) == shaMain, "the file's own data is what was put", r, server);

        r = await server.SignedSmbClientAsync($"cd st-dir; get f.bin {Q(backMain)}; get F.BIN:zone.identifier {Q(backStream)}");
        output.WriteLine(r.ToString());
        Expect.Succeeded(r, server);
        Expect.That(File.Exists(backMain) && Sha256File(backMain) == shaMain, "get of f.bin returned its data", r, server);
        Expect.That(File.Exists(backStream) && Sha256File(backStream) == shaStream,
            "get of the stream (other case) returned the stream's bytes", r, server);

        if (server.Target == "gateway")
        {
            Expect.That(StoreCount() == before + 1, "the gateway keeps the stream in its store", r, server);
            r = await server.SignedSmbClientAsync("ls");
            Expect.That(!r.StdOut.Contains("smbcopy", StringComparison.Ordinal), "the stream store is not listed at the share root", r, server);
        }

        r = await server.SignedSmbClientAsync($"cd st-dir; del f.bin; put {Q(main)} f.bin; allinfo f.bin; get f.bin:Zone.Identifier {Q(backStream + ".2")}");
        output.WriteLine(r.ToString());
        Expect.That(!Regex.IsMatch(r.StdOut, @"^stream: \[:Zone\.Identifier", RegexOptions.Multiline), "a new f.bin has no stream", r, server);
        Expect.That(r.Output.Contains("NT_STATUS_OBJECT_NAME_NOT_FOUND", StringComparison.Ordinal), "the old stream is gone with its file", r, server);
        if (server.Target == "gateway")
            Expect.That(StoreCount() == before, "deleting the file removed its streams from the store", r, server);
        await server.SignedSmbClientAsync("cd st-dir; del f.bin; cd ..; rmdir st-dir");
    }

    /// <summary>
    /// Extended attributes (smbclient setea / geteas: SET_INFO and QUERY_INFO FileFullEaInformation) kept per file, names
    /// upper-cased as Windows does, an empty value removing one; and the 8.3 name of a long name (altname).
    /// </summary>
    [Fact]
    public async Task ExtendedAttributesAndShortNames()
    {
        var local = Path.Combine(server.WorkDir, "ea-src.txt");
        WritePseudoRandomFile(local, 100, seed: 33);
        const string name = "A long file name.txt";
        var r = await server.SignedSmbClientAsync(
            $"put {Q(local)} {Q(name)}; setea {Q(name)} user.first value-one; setea {Q(name)} Second v2; geteas {Q(name)}; altname {Q(name)}");
        output.WriteLine(r.ToString());
        Expect.Succeeded(r, server);
        Expect.That(!r.Output.Contains("NT_STATUS_", StringComparison.Ordinal), "no NT_STATUS error from put/setea/geteas/altname", r, server);
        // Windows (and the gateway) keep EA names upper-cased; Samba keeps the case given.
        var nameCase = server.Target == "gateway" ? RegexOptions.Multiline : RegexOptions.Multiline | RegexOptions.IgnoreCase;
        Expect.That(Regex.IsMatch(r.StdOut, @"^USER\.FIRST \(0\) =\s*\n\[0000\] 76 61 6C 75 65 2D 6F 6E\s+65", nameCase),
            "geteas shows USER.FIRST = value-one (upper-cased name)", r, server);
        Expect.That(Regex.IsMatch(r.StdOut, @"^SECOND \(0\) =", nameCase), "geteas shows SECOND", r, server);
        var alt = Regex.Match(r.StdOut, @"^([A-Z0-9_]{1,6}[A-Z0-9_]*~[0-9A-Z]+\.TXT)\s*$", RegexOptions.Multiline);
        Expect.That(alt.Success && alt.Value.Trim().Length <= 12, "altname prints an 8.3 name ending in ~N.TXT", r, server);

        r = await server.SignedSmbClientAsync($"setea {Q(name)} user.first \"\"; geteas {Q(name)}; del {Q(name)}");
        output.WriteLine(r.ToString());
        Expect.That(!r.StdOut.Contains("USER.FIRST", StringComparison.OrdinalIgnoreCase) && r.StdOut.Contains("SECOND", StringComparison.OrdinalIgnoreCase),
            "an empty value removed USER.FIRST and left SECOND", r, server);
    }
}
