using System.Text;
using SmbCopy.EndToEnd.Tests.Infrastructure;
using static SmbCopy.EndToEnd.Tests.Infrastructure.FileServiceKit;

namespace SmbCopy.EndToEnd.Tests;

/// <summary>
/// Issue 3, check 3: nothing outside the share is reachable through SMB: '..' in paths (smbclient and raw
/// CREATE names through impacket), absolute-looking names, and symlinks inside the share that point
/// outside it (created on the server side). The content of /etc/passwd must never reach the client, and
/// nothing may be created outside the share.
/// Writes go through links to a directory and a file this test owns (never to /etc/passwd: a server that
/// got this wrong would overwrite the machine's password file); a write attempt into /etc uses a fresh name
/// and is removed if it ever lands.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class FileServiceConfinementTests(GatewayFixture server, ITestOutputHelper output)
{
    private static readonly string PasswdFirstLine = FirstLine("/etc/passwd");

    /// <summary>An entry beside the share directory; if it ever shows up in a listing, the listing left the share.</summary>
    private string SiblingMarker()
    {
        var sibling = Path.Combine(server.WorkDir, "outside-the-share-marker");
        Directory.CreateDirectory(sibling);
        return "outside-the-share-marker";
    }

    private void NoPasswd(ProcessResult r, params string[] localFiles)
    {
        Expect.That(!r.Output.Contains(PasswdFirstLine, StringComparison.Ordinal), "the client never printed /etc/passwd's content", r, server);
        foreach (var f in localFiles)
        {
            Expect.That(!File.Exists(f) || !File.ReadAllText(f).Contains(PasswdFirstLine, StringComparison.Ordinal),
                $"{f} does not hold /etc/passwd's content", r, server);
        }
    }

    [Fact]
    public async Task DotDotAtTheRootStaysInTheShare()
    {
        var sibling = SiblingMarker();
        File.WriteAllText(Path.Combine(server.SharePath, "root-marker.txt"), "in the share");
        File.SetUnixFileMode(Path.Combine(server.SharePath, "root-marker.txt"), (UnixFileMode)0b110_110_110);
        var r = await server.SignedSmbClientAsync("cd ..; ls; cd ..\\..\\..; ls; ls ..\\*; ls ..\\..\\*");
        output.WriteLine(r.ToString());
        var names = ParseLs(r.StdOut).Select(e => e.Name).ToList();
        Expect.That(names.Contains("root-marker.txt"), "ls after cd .. at the root lists the share's root", r, server);
        Expect.That(!names.Contains(sibling) && !names.Contains(Path.GetFileName(server.SharePath)),
            "no listing shows the directory around the share", r, server);
        Expect.That(!names.Contains("passwd") && !names.Contains("etc"),
            "no listing shows the file system root or /etc", r, server);
    }

    [Theory]
    [InlineData("..\\..\\etc\\passwd")]
    [InlineData("..\\..\\..\\..\\..\\..\\..\\..\\etc\\passwd")]
    [InlineData("../../../../../../../../etc/passwd")]
    [InlineData("\\..\\..\\..\\..\\..\\..\\etc\\passwd")]
    public async Task GetWithDotDotNeverReadsOutside(string remote)
    {
        var local = Path.Combine(server.WorkDir, "dotdot-get.out");
        File.Delete(local);
        var r = await server.SignedSmbClientAsync($"get {Q(remote)} {Q(local)}");
        output.WriteLine(r.ToString());
        NoPasswd(r, local);
        Expect.That(r.Output.Contains("NT_STATUS_", StringComparison.Ordinal), "the get failed with an NT status", r, server);
    }

    /// <summary>Raw SMB2 CREATE names (not cleaned by the client) through impacket with signing on 3.1.1.</summary>
    [Fact]
    public async Task RawCreateNamesWithDotDotOrAbsolutePathsAreRefused()
    {
        var tag = "e2e-escape-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4));
        string[] names =
        [
            "..\\" + tag,
            "..\\..\\..\\..\\..\\..\\..\\..\\..\\" + tag,
            "sub\\..\\..\\" + tag,
            "..",
            "..\\..\\..\\..\\..\\..\\..\\..\\etc\\passwd",
            "\\etc\\passwd",
            "\\\\etc\\passwd",
            "/etc/passwd",
            "..//..//..//..//..//..//..//..//etc//passwd",
            "C:\\etc\\passwd",
            "\\??\\C:\\etc\\passwd",
        ];
        Directory.CreateDirectory(Path.Combine(server.SharePath, "sub"));
        var script = Path.Combine(server.WorkDir, "raw-create.py");
        await File.WriteAllTextAsync(script, RawCreateScript);
        var r = await ProcessRunner.RunAsync(GatewayFixture.Python,
        [
            script, RepoPaths.Path("tests", "e2e-py"), server.Host, server.Port.ToString(), server.User, server.Password, server.ShareName, PasswdFirstLine, .. names,
        ], TimeSpan.FromSeconds(90), new Dictionary<string, string> { ["PYTHONDONTWRITEBYTECODE"] = "1" });
        output.WriteLine(r.ToString());
        Expect.That(r.StdOut.Contains("connected: ok", StringComparison.Ordinal), "impacket logged on (signed, 3.1.1) and connected the tree", r, server);
        NoPasswd(r);
        foreach (var name in names)
        {
            var lines = r.StdOut.Split('\n').Where(l => l.StartsWith($"create {Repr(name)}:", StringComparison.Ordinal)).ToList();
            Expect.That(lines.Count == 3, $"read, write and mkdir result lines for {name}", r, server);
            foreach (var line in lines)
            {
                Expect.That(line.Contains("STATUS_", StringComparison.Ordinal) && !line.Contains(" opened", StringComparison.Ordinal),
                    $"CREATE '{name}' is refused with an NT status (got: {line})", r, server);
            }
        }
        // nothing named tag anywhere between the share and the root
        for (var dir = Directory.GetParent(server.SharePath); dir is not null; dir = dir.Parent)
        {
            var escaped = Path.Combine(dir.FullName, tag);
            var found = File.Exists(escaped) || Directory.Exists(escaped);
            if (found)
            {
                File.Delete(escaped);
            }
            Expect.That(!found, $"no {escaped} was created outside the share", r, server);
        }
    }

    private static string Repr(string s) => "'" + s.Replace("\\", "\\\\", StringComparison.Ordinal) + "'";

    /// <summary>Symlinks to /etc and /etc/passwd inside the share: listing, get and cd through them fail.</summary>
    [Fact]
    public async Task SymlinksPointingOutsideGiveNoRead()
    {
        var etcLink = Path.Combine(server.SharePath, "etc-link");
        var pwLink = Path.Combine(server.SharePath, "pw");
        if (!Path.Exists(etcLink)) { File.CreateSymbolicLink(etcLink, "/etc"); }
        if (!Path.Exists(pwLink)) { File.CreateSymbolicLink(pwLink, "/etc/passwd"); }
        var local1 = Path.Combine(server.WorkDir, "pw-get.out");
        var local2 = Path.Combine(server.WorkDir, "etc-passwd-get.out");
        File.Delete(local1);
        File.Delete(local2);

        foreach (var cmd in new[]
                 {
                     "ls etc-link\\*", "cd etc-link; ls", $"get pw {Q(local1)}", $"get etc-link\\passwd {Q(local2)}",
                     "allinfo etc-link\\passwd", "more pw",
                 })
        {
            var r = await server.SignedSmbClientAsync(cmd);
            output.WriteLine(r.ToString());
            NoPasswd(r, local1, local2);
            var names = ParseLs(r.StdOut).Select(e => e.Name).ToList();
            Expect.That(!names.Contains("passwd") && !names.Contains("hostname") && !names.Contains("fstab"),
                $"'{cmd}' lists nothing of /etc", r, server);
            Expect.That(r.Output.Contains("NT_STATUS_", StringComparison.Ordinal), $"'{cmd}' failed with an NT status", r, server);
            Expect.That(!r.Output.Contains("stream: [::$DATA]", StringComparison.Ordinal), $"'{cmd}' gave no file information", r, server);
        }
    }

    /// <summary>Writes through symlinks that point outside (to a directory and a file owned by this test, and into /etc) fail.</summary>
    [Fact]
    public async Task SymlinksPointingOutsideGiveNoWrite()
    {
        var outside = Path.Combine(server.WorkDir, "outside-dir");
        Directory.CreateDirectory(outside);
        File.SetUnixFileMode(outside, (UnixFileMode)0b111_111_111);
        var victim = Path.Combine(outside, "victim.txt");
        File.WriteAllText(victim, "victim content\n");
        File.SetUnixFileMode(victim, (UnixFileMode)0b110_110_110);
        var dirLink = Path.Combine(server.SharePath, "out-dir");
        var fileLink = Path.Combine(server.SharePath, "out-file");
        var etcLink = Path.Combine(server.SharePath, "etc-link-w");
        if (!Path.Exists(dirLink)) { File.CreateSymbolicLink(dirLink, outside); }
        if (!Path.Exists(fileLink)) { File.CreateSymbolicLink(fileLink, victim); }
        if (!Path.Exists(etcLink)) { File.CreateSymbolicLink(etcLink, "/etc"); }
        var local = Path.Combine(server.WorkDir, "w-src.bin");
        WritePseudoRandomFile(local, 100, seed: 21);
        var tag = "smbcopy-e2e-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4));

        var cases = new (string Cmd, string Must)[]
        {
            ($"put {Q(local)} out-dir\\new.txt", Path.Combine(outside, "new.txt")),
            ($"put {Q(local)} out-file", victim),
            ($"mkdir out-dir\\newdir", Path.Combine(outside, "newdir")),
            ($"rename out-dir\\victim.txt out-dir\\renamed.txt", Path.Combine(outside, "renamed.txt")),
            ($"del out-dir\\victim.txt", victim),
            ($"put {Q(local)} etc-link-w\\{tag}", Path.Combine("/etc", tag)),
        };
        foreach (var (cmd, path) in cases)
        {
            var r = await server.SignedSmbClientAsync(cmd);
            output.WriteLine(r.ToString());
            var etcHit = File.Exists(Path.Combine("/etc", tag));
            if (etcHit)
            {
                File.Delete(Path.Combine("/etc", tag));
            }
            Expect.That(!etcHit, $"'{cmd}' created nothing in /etc", r, server);
            Expect.That(r.Output.Contains("NT_STATUS_", StringComparison.Ordinal), $"'{cmd}' failed with an NT status", r, server);
            Expect.That(File.Exists(victim) && File.ReadAllText(victim) == "victim content\n", $"'{cmd}' left {victim} as it was", r, server);
            Expect.That(path == victim || !Path.Exists(path), $"'{cmd}' did not create {path}", r, server);
            Expect.That(Directory.GetFileSystemEntries(outside).Select(Path.GetFileName).SequenceEqual(["victim.txt"]),
                $"'{cmd}': the outside directory still holds only victim.txt", r, server);
        }
        Expect.That(File.ReadAllText(victim) == "victim content\n", "victim unchanged", await server.SignedSmbClientAsync("ls"), server);
    }

    /// <summary>impacket: log on with signing on 3.1.1 (logon.py's fixes), CREATE each raw name, report the status.</summary>
    private const string RawCreateScript = """
        import sys, types, ntpath
        sys.path.insert(0, sys.argv[1])
        import logon
        from impacket import smb3
        from impacket.smb3structs import *
        from impacket.smbconnection import SMBConnection, SessionError
        from impacket.nt_errors import ERROR_MESSAGES

        host, port, user, password, share, marker = sys.argv[2:8]
        names = sys.argv[8:]
        logon.require_signing()
        logon.fix_311_preauth_hash()

        class Raw(str):
            # impacket cleans names (replace '/', ntpath.normpath, strips a leading '\'): send them as given
            def replace(self, *a):
                return self
            def __getitem__(self, i):
                return '' if i == 0 else str.__getitem__(self, i)
        smb3.ntpath = types.SimpleNamespace(normpath=lambda p: p, dirname=ntpath.dirname)

        conn = SMBConnection(host, host, sess_port=int(port), preferredDialect=SMB2_DIALECT_311, timeout=30)
        conn.login(user, password, domain="")
        tid = conn.connectTree(share)
        print("connected: ok signing=%s" % conn._SMBConnection._Session["SigningActivated"])
        s = conn._SMBConnection
        s._Connection["SupportsDirectoryLeasing"] = False  # impacket 0.10's create() breaks with it on
        for n in names:
            for what, access, disp, opts in (("read", FILE_READ_DATA | FILE_READ_ATTRIBUTES, FILE_OPEN, 0),
                                             ("write", FILE_WRITE_DATA | FILE_READ_DATA, FILE_OPEN_IF, 0),
                                             ("mkdir", FILE_READ_ATTRIBUTES, FILE_CREATE, FILE_DIRECTORY_FILE)):
                try:
                    fid = s.create(tid, Raw(n), access, FILE_SHARE_READ | FILE_SHARE_WRITE, opts, disp, 0)
                    data = b""
                    try:
                        data = s.read(tid, fid, 0, 65536)
                    except (SessionError, smb3.SessionError):
                        pass
                    s.close(tid, fid)
                    leak = " PASSWD-CONTENT" if marker.encode() in data else ""
                    print("create %r: %s opened (%d bytes read)%s" % (n, what, len(data), leak))
                except (SessionError, smb3.SessionError) as e:
                    code = e.get_error_code()
                    print("create %r: %s %s" % (n, what, ERROR_MESSAGES.get(code, ("STATUS_0x%08x" % code,))[0]))
        conn.logoff()
        print("done")
        """;
}
