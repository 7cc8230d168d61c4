using System.Text.RegularExpressions;
using SmbCopy.EndToEnd.Tests.Infrastructure;

namespace SmbCopy.EndToEnd.Tests;

/// <summary>Samba's smbclient (4.17) against the server: dialects, signing, encryption, refusals.</summary>
[Collection(ServerCollection.Name)]
public sealed partial class SmbClientTests(GatewayFixture server, ITestOutputHelper output)
{
    /// <summary>Each dialect pinned (client min = max protocol), client signing required: -L lists the share and IPC$.</summary>
    [Theory]
    [InlineData("SMB3_11")]
    [InlineData("SMB3_02")]
    [InlineData("SMB3")]
    [InlineData("SMB2_10")]
    [InlineData("SMB2_02")]
    public async Task ListSharesWithSigningRequired(string dialect)
    {
        var r = await server.SmbClientAsync(
            "-L", $"//{server.Host}", "-U", $"{server.User}%{server.Password}",
            "-m", dialect, $"--option=client min protocol={dialect}", "--client-protection=sign");
        output.WriteLine(r.ToString());
        Expect.Succeeded(r, server);
        var shares = ShareLine().Matches(r.StdOut).Select(m => (Name: m.Groups[1].Value, Type: m.Groups[2].Value)).ToList();
        Expect.That(shares.Contains((server.ShareName, "Disk")), $"share '{server.ShareName}' of type Disk in the list", r, server);
        Expect.That(shares.Contains(("IPC$", "IPC")), "IPC$ of type IPC in the list", r, server);
    }

    /// <summary>SMB 3.1.1 with encryption required and only one cipher offered: a file goes up and comes back intact.</summary>
    [Theory]
    [InlineData("aes-128-gcm")]
    [InlineData("aes-128-ccm")]
    [InlineData("aes-256-gcm")]
    [InlineData("aes-256-ccm")]
    public async Task EncryptedSessionWithEachCipher(string cipher)
    {
        var name = $"enc-{cipher}.bin";
        var local = Path.Combine(server.WorkDir, name);
        var back = local + ".back";
        var content = new byte[300_000 + cipher.Length]; // several SMB2 READ/WRITEs at smbclient's sizes
        Random.Shared.NextBytes(content);
        await File.WriteAllBytesAsync(local, content);

        var r = await server.SmbClientAsync(
            $"//{server.Host}/{server.ShareName}", "-U", $"{server.User}%{server.Password}",
            "-m", "SMB3_11", "--option=client min protocol=SMB3_11", "--client-protection=encrypt",
            $"--option=client smb3 encryption algorithms={cipher}",
            "-c", $"put {local} {name}; ls; get {name} {back}");
        output.WriteLine(r.ToString());
        Expect.Succeeded(r, server);
        Expect.That(Regex.IsMatch(r.StdOut, $@"^\s+{Regex.Escape(name)}\s+A\s+{content.Length}\s", RegexOptions.Multiline),
            $"ls shows {name} with {content.Length} bytes", r, server);
        Expect.That(File.Exists(back) && (await File.ReadAllBytesAsync(back)).AsSpan().SequenceEqual(content),
            "the file read back equals the file written", r, server);
        var stored = Path.Combine(server.SharePath, name);
        Expect.That(File.Exists(stored) && (await File.ReadAllBytesAsync(stored)).AsSpan().SequenceEqual(content),
            $"the share directory holds {name} with the written bytes", r, server);
    }

    [Fact]
    public async Task WrongPasswordIsLogonFailure()
    {
        var r = await server.SmbClientAsync(
            $"//{server.Host}/{server.ShareName}", "-U", $"{server.User}%not-{server.Password}", "-m", "SMB3_11", "-c", "ls");
        output.WriteLine(r.ToString());
        Expect.FailedWith(r, server, "NT_STATUS_LOGON_FAILURE");
    }

    [Fact]
    public async Task UnknownUserIsLogonFailure()
    {
        var r = await server.SmbClientAsync(
            $"//{server.Host}/{server.ShareName}", "-U", $"mallory%{server.Password}", "-m", "SMB3_11", "-c", "ls");
        output.WriteLine(r.ToString());
        Expect.FailedWith(r, server, "NT_STATUS_LOGON_FAILURE");
    }

    [Fact]
    public async Task UnknownShareIsBadNetworkName()
    {
        var r = await server.SmbClientAsync(
            $"//{server.Host}/no-such-share", "-U", $"{server.User}%{server.Password}", "-m", "SMB3_11", "-c", "ls");
        output.WriteLine(r.ToString());
        Expect.FailedWith(r, server, "NT_STATUS_BAD_NETWORK_NAME");
    }

    /// <summary>No anonymous or guest access: either the session setup or the tree connect is refused.</summary>
    [Theory]
    [InlineData("-N")]
    [InlineData("--user=guest%")]
    public async Task NoGuestAccess(string credentials)
    {
        var r = await server.SmbClientAsync($"//{server.Host}/{server.ShareName}", credentials, "-m", "SMB3_11", "-c", "ls");
        output.WriteLine(r.ToString());
        Expect.FailedWith(r, server, "NT_STATUS_LOGON_FAILURE", "NT_STATUS_ACCESS_DENIED");
        Expect.That(!r.StdOut.Contains("blocks available", StringComparison.Ordinal), "no directory listing", r, server);
    }

    // "\tdata            Disk      comment"
    [GeneratedRegex(@"^\s+(\S+)\s+(Disk|IPC|Printer)\b", RegexOptions.Multiline)]
    private static partial Regex ShareLine();
}
