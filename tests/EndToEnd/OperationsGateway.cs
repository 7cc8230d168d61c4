using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using SmbCopy.EndToEnd.Tests.Infrastructure;
using Xunit.Sdk;

namespace SmbCopy.EndToEnd.Tests;

/// <summary>
/// A gateway of its own for the operations tests (status page, metrics): two local shares, <c>data</c> and
/// <c>other</c>, and a known HTTP port. Always the gateway (its operator endpoints are what is tested), whatever
/// SMBCOPY_E2E_TARGET says. Its output is kept, so tests can check that logs carry no secrets.
/// </summary>
public sealed class OperationsGateway : IAsyncLifetime
{
    private readonly IMessageSink _sink;
    private GatewayProcess? _gateway;

    public OperationsGateway(IMessageSink sink)
    {
        _sink = sink;
        Password = "Pw" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)) + "X9";
        WorkDir = Directory.CreateTempSubdirectory("smbcopy-ops-").FullName;
    }

    public string User => "alice";
    public string Password { get; }
    public string WorkDir { get; }
    public int SmbPort { get; private set; }
    public int HttpPort { get; private set; }
    public string BaseUrl => $"http://127.0.0.1:{HttpPort}";
    public string SharePath(string share) => Path.Combine(WorkDir, "share-" + share);

    public string Output => _gateway?.Output ?? "";

    public async Task InitializeAsync()
    {
        GatewayProcess.Dll(); // fail early, before mounting anything, when the gateway is not built
        Directory.CreateDirectory(SharePath("data"));
        Directory.CreateDirectory(SharePath("other"));
        SmbPort = GatewayFixture.FreePort();
        HttpPort = GatewayFixture.FreePort();
        _gateway = GatewayProcess.Start(WorkDir,
            [
                "--SmbCopy:Smb:Address=127.0.0.1", $"--SmbCopy:Smb:Port={SmbPort}",
                "--SmbCopy:Http:Address=127.0.0.1", $"--SmbCopy:Http:Port={HttpPort}",
                $"--SmbCopy:Users:0:Name={User}", $"--SmbCopy:Users:0:NtHash={NtHash.Hex(Password)}",
                "--SmbCopy:Shares:0:Name=data", $"--SmbCopy:Shares:0:Path={SharePath("data")}",
                "--SmbCopy:Shares:1:Name=other", $"--SmbCopy:Shares:1:Path={SharePath("other")}",
                $"--SmbCopy:StateDirectory={Path.Combine(WorkDir, "state")}",
            ],
            // the most the logs ever say: still no secrets
            new Dictionary<string, string> { ["Logging__LogLevel__Default"] = "Debug" });
        await _gateway.WaitUntilReadyAsync(() => GatewayProcess.HealthyAsync(HttpPort), "operations gateway", TimeSpan.FromSeconds(60));
        _sink.OnMessage(new DiagnosticMessage($"[e2e] operations gateway pid {_gateway.Id}: SMB {SmbPort}, HTTP {HttpPort}"));
    }

    public async Task DisposeAsync()
    {
        if (_gateway is not null) await _gateway.DisposeAsync();
        try { Directory.Delete(WorkDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }


    public async Task<string> GetAsync(string path)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        return await http.GetStringAsync(BaseUrl + path);
    }

    /// <summary>Debian's chromium, headless, prints the DOM after the page loaded (what a browser renders from it).</summary>
    public async Task<ProcessResult> ChromiumDumpDomAsync(string path)
    {
        var profile = Directory.CreateTempSubdirectory("smbcopy-chromium-").FullName;
        try
        {
            return await ProcessRunner.RunAsync(Chromium,
            [
                "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", $"--user-data-dir={profile}", "--dump-dom", BaseUrl + path,
            ], TimeSpan.FromSeconds(90));
        }
        finally
        {
            try { Directory.Delete(profile, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    public static string Chromium =>
        Environment.GetEnvironmentVariable("SMBCOPY_CHROMIUM") is { Length: > 0 } c ? c : "/usr/bin/chromium";

    /// <summary>Starts the impacket client (<see cref="OperationsClient"/>) logged on as alice; it takes commands on stdin.</summary>
    public OperationsClient StartClient() => OperationsClient.Start(this);

    public static bool Accepts(int port)
    {
        using var client = new TcpClient();
        try
        {
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

/// <summary>
/// A python3-impacket client (its default dialect, signed) that stays logged on between commands, so that the status page can be read
/// while its session and opens exist. Commands (one per line, one reply line each): <c>put SHARE NAME SIZE SEED</c>
/// (writes SIZE pseudo-random bytes), <c>copychunk SRCSHARE SRC DSTSHARE DST</c> (FSCTL_SRV_COPYCHUNK of the whole
/// file, 1 MiB chunks, 16 per request; replies "copied N"), <c>hold SHARE NAME</c> (opens and keeps the file open),
/// <c>quit</c>.
/// </summary>
public sealed class OperationsClient : IAsyncDisposable
{
    private const string Script = """
        import struct, sys, random
        from impacket.smbconnection import SMBConnection
        from impacket.smb3structs import (FILE_READ_DATA, FILE_WRITE_DATA, FILE_APPEND_DATA, FILE_READ_ATTRIBUTES,
            FILE_WRITE_ATTRIBUTES, FILE_SHARE_READ, FILE_SHARE_WRITE, FILE_SHARE_DELETE, FILE_OVERWRITE_IF, FILE_OPEN,
            FILE_NON_DIRECTORY_FILE, SMB2_0_IOCTL_IS_FSCTL)
        FSCTL_SRV_REQUEST_RESUME_KEY = 0x00140078
        FSCTL_SRV_COPYCHUNK = 0x001440F2
        RW = FILE_READ_DATA | FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES
        SHARE_ALL = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE
        port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
        conn = SMBConnection("127.0.0.1", "127.0.0.1", sess_port=port, timeout=60)
        conn.login(user, password)
        smb = conn.getSMBServer()
        trees = {}
        def tree(share):
            if share not in trees:
                trees[share] = conn.connectTree(share)
            return trees[share]
        def create(share, name, access, disposition):
            return smb.create(tree(share), name, access, SHARE_ALL, FILE_NON_DIRECTORY_FILE, disposition, 0)
        def size_of(share, fid):
            return struct.unpack_from("<q", smb.queryInfo(tree(share), fid, fileInfoClass=5), 8)[0]  # FileStandardInformation.EndOfFile
        print("ready 0x%04x" % conn.getDialect(), flush=True)
        for line in sys.stdin:
            cmd = line.split()
            if not cmd:
                continue
            try:
                if cmd[0] == "quit":
                    break
                elif cmd[0] == "put":
                    share, name, size, seed = cmd[1], cmd[2], int(cmd[3]), int(cmd[4])
                    data = random.Random(seed).randbytes(size)
                    fid = create(share, name, RW, FILE_OVERWRITE_IF)
                    for i in range(0, size, 1 << 20):
                        smb.write(tree(share), fid, data[i:i + (1 << 20)], i, len(data[i:i + (1 << 20)]))
                    smb.close(tree(share), fid)
                    print("put %d" % size, flush=True)
                elif cmd[0] == "copychunk":
                    ss, sn, ds, dn = cmd[1:5]
                    src = create(ss, sn, FILE_READ_DATA | FILE_READ_ATTRIBUTES, FILE_OPEN)
                    size = size_of(ss, src)
                    key = smb.ioctl(tree(ss), src, FSCTL_SRV_REQUEST_RESUME_KEY, SMB2_0_IOCTL_IS_FSCTL, b"", 0, 32)[:24]
                    dst = create(ds, dn, RW, FILE_OVERWRITE_IF)
                    chunk, per = 1 << 20, 16
                    total = 0
                    for base in range(0, size, chunk * per):
                        chunks = [(o, o, min(chunk, size - o)) for o in range(base, min(size, base + chunk * per), chunk)]
                        blob = key + struct.pack("<II", len(chunks), 0) + b"".join(struct.pack("<QQII", s, t, l, 0) for s, t, l in chunks)
                        out = smb.ioctl(tree(ds), dst, FSCTL_SRV_COPYCHUNK, SMB2_0_IOCTL_IS_FSCTL, blob, 0, 12)
                        total += struct.unpack("<III", out)[2]
                    smb.close(tree(ds), dst)
                    smb.close(tree(ss), src)
                    print("copied %d" % total, flush=True)
                elif cmd[0] == "hold":
                    create(cmd[1], cmd[2], FILE_READ_DATA | FILE_READ_ATTRIBUTES, FILE_OPEN)
                    print("holding", flush=True)
                else:
                    print("error unknown command " + cmd[0], flush=True)
            except Exception as e:
                print("error %s" % e, flush=True)
        conn.logoff()
        print("bye", flush=True)
        """;

    private readonly Process _process;
    private readonly StringBuilder _stderr = new();

    private OperationsClient(Process process) => _process = process;

    public static OperationsClient Start(OperationsGateway gateway)
    {
        var script = Path.Combine(gateway.WorkDir, "ops_client.py");
        File.WriteAllText(script, Script);
        var psi = new ProcessStartInfo(GatewayFixture.Python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = gateway.WorkDir,
        };
        foreach (var a in new[] { "-u", script, gateway.SmbPort.ToString(), gateway.User, gateway.Password })
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        var client = new OperationsClient(Process.Start(psi)!);
        client._process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (client._stderr) { client._stderr.AppendLine(e.Data); } } };
        client._process.BeginErrorReadLine();
        return client;
    }

    public string StdErr
    {
        get { lock (_stderr) { return _stderr.ToString(); } }
    }

    /// <summary>Waits for the next reply line (the first one is "ready 0xDIALECT", after the log-on).</summary>
    public async Task<string> ReadLineAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var line = await _process.StandardOutput.ReadLineAsync(cts.Token);
        return line ?? $"(client exited: {StdErr})";
    }

    public async Task<string> SendAsync(string command)
    {
        await _process.StandardInput.WriteLineAsync(command);
        await _process.StandardInput.FlushAsync();
        return await ReadLineAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                await _process.StandardInput.WriteLineAsync("quit");
                _process.StandardInput.Close();
            }
            catch (IOException)
            {
            }
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        _process.Dispose();
    }
}
