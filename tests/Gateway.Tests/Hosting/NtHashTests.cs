using SmbCopy.Protocol.Security;
using SmbCopy.Gateway.Hosting;

namespace SmbCopy.Gateway.Tests.Hosting;

public sealed class NtHashTests
{
    [Fact]
    public void Spec_value_for_Password()
    {
        // MS-NLMP 4.2.2.1.2: NTOWFv1("Password") = a4 f4 9c 40 65 10 bd ca b6 82 4e e7 c3 0f d8 52
        Assert.Equal("a4f49c406510bdcab6824ee7c30fd852", Convert.ToHexStringLower(NtHash.FromPassword("Password")));
    }

    [Fact]
    public void Empty_password() =>
        Assert.Equal("31d6cfe0d16ae931b73c59d7e0c089c0", Convert.ToHexStringLower(NtHash.FromPassword("")));

    [Fact]
    public void Non_ascii_password_is_hashed_as_utf16le()
    {
        // Differs from the hash of the UTF-8 bytes read as Latin-1 (a common bug).
        Assert.NotEqual(NtHash.FromPassword("Ã¼"), NtHash.FromPassword("ü"));
        Assert.Equal(16, NtHash.FromPassword("ü").Length);
    }

    [Fact]
    public void Hex_round_trip()
    {
        Assert.True(NtHash.TryParseHex("A4F49C406510BDCAB6824EE7C30FD852", out var hash));
        Assert.Equal(NtHash.FromPassword("Password"), hash);
        Assert.False(NtHash.TryParseHex("xyz", out _));
        Assert.False(NtHash.TryParseHex(null, out _));
    }

    [Fact]
    public void Hash_password_command_reads_stdin_and_prints_the_hash()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var rc = HashPasswordCommand.Run(new StringReader("Password\n"), output, error, interactive: false);
        Assert.Equal(0, rc);
        Assert.Equal("a4f49c406510bdcab6824ee7c30fd852" + Environment.NewLine, output.ToString());
        Assert.Equal("", error.ToString());
    }

    [Fact]
    public void Hash_password_command_keeps_spaces_and_rejects_empty()
    {
        var output = new StringWriter();
        Assert.Equal(0, HashPasswordCommand.Run(new StringReader(" pw \r\n"), output, TextWriter.Null, interactive: false));
        Assert.Equal(Convert.ToHexStringLower(NtHash.FromPassword(" pw ")), output.ToString().Trim());
        Assert.Equal(2, HashPasswordCommand.Run(new StringReader(""), TextWriter.Null, TextWriter.Null, interactive: false));
    }
}
