using SmbCopy.Gateway.Configuration;

namespace SmbCopy.Gateway.Tests.Configuration;

public sealed class SmbCopyOptionsValidatorTests : IDisposable
{
    private const string GoodHash = "a4f49c406510bdcab6824ee7c30fd852";
    private readonly string _root = Directory.CreateTempSubdirectory("smbcopy-validate-").FullName;

    public SmbCopyOptionsValidatorTests() => Directory.CreateDirectory(Path.Combine(_root, "share"));

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static SmbCopyOptions Valid() => new()
    {
        Smb = { Address = "127.0.0.1", Port = 4455 },
        Http = { Address = "127.0.0.1", Port = 8445 },
        Users = [new() { Name = "alice", NtHash = GoodHash }],
        Shares = [new() { Name = "share", Driver = "Local", Path = "./share" }],
    };

    private string Single(SmbCopyOptions options)
    {
        var errors = SmbCopyOptionsValidator.Validate(options, _root);
        Assert.Single(errors);
        return errors[0].ToString();
    }

    [Fact]
    public void Valid_options_have_no_errors() => Assert.Empty(SmbCopyOptionsValidator.Validate(Valid(), _root));

    [Fact]
    public void Error_line_names_the_key_and_the_problem()
    {
        var o = Valid();
        o.Users[0].NtHash = "abc";
        Assert.Equal("configuration error: SmbCopy:Users:0:NtHash: must be 32 hex digits (run 'smbcopy hash-password')", Single(o));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a4f49c406510bdcab6824ee7c30fd85")]
    [InlineData("a4f49c406510bdcab6824ee7c30fd852a")]
    [InlineData("g4f49c406510bdcab6824ee7c30fd852")]
    public void NtHash_must_be_32_hex_digits(string hash)
    {
        var o = Valid();
        o.Users[0].NtHash = hash;
        Assert.StartsWith("configuration error: SmbCopy:Users:0:NtHash: must be 32 hex digits", Single(o));
    }

    [Fact]
    public void NtHash_accepts_upper_case()
    {
        var o = Valid();
        o.Users[0].NtHash = GoodHash.ToUpperInvariant();
        Assert.Empty(SmbCopyOptionsValidator.Validate(o, _root));
    }

    [Fact]
    public void Duplicate_user_names_are_case_insensitive()
    {
        var o = Valid();
        o.Users.Add(new() { Name = "ALICE", NtHash = GoodHash });
        Assert.Contains("SmbCopy:Users:1:Name: duplicate user name 'ALICE'", Single(o));
    }

    [Fact]
    public void Empty_user_name()
    {
        var o = Valid();
        o.Users[0].Name = "";
        Assert.Contains("SmbCopy:Users:0:Name: must not be empty", Single(o));
    }

    [Fact]
    public void Unknown_driver()
    {
        var o = Valid();
        o.Shares.Add(new() { Name = "two", Driver = "Foo", Path = "./share" });
        Assert.Equal("configuration error: SmbCopy:Shares:1:Driver: unknown driver 'Foo' (expected Local, Nfs or Iscsi)", Single(o));
    }

    [Fact]
    public void Driver_names_are_case_insensitive()
    {
        var o = Valid();
        o.Shares[0].Driver = "local";
        Assert.Empty(SmbCopyOptionsValidator.Validate(o, _root));
    }

    [Fact]
    public void Missing_local_directory()
    {
        var o = Valid();
        o.Shares[0].Path = "/x/does/not/exist";
        Assert.Equal("configuration error: SmbCopy:Shares:0:Path: directory '/x/does/not/exist' does not exist", Single(o));
    }

    [Fact]
    public void Missing_default_data_directory_is_still_an_error_for_the_validator()
    {
        // The host creates ./data before validating; the validator itself never creates anything.
        var o = Valid();
        o.Shares[0].Path = "./data";
        Assert.Contains("SmbCopy:Shares:0:Path: directory './data' does not exist", Single(o));
        Assert.False(Directory.Exists(Path.Combine(_root, "data")));
    }

    [Fact]
    public void Local_path_that_is_a_file()
    {
        File.WriteAllText(Path.Combine(_root, "file"), "");
        var o = Valid();
        o.Shares[0].Path = "file";
        Assert.Contains("SmbCopy:Shares:0:Path: 'file' is a file, not a directory", Single(o));
    }

    [Fact]
    public void Local_path_is_required()
    {
        var o = Valid();
        o.Shares[0].Path = "";
        Assert.Contains("SmbCopy:Shares:0:Path: is required for the Local driver", Single(o));
    }

    [Fact]
    public void Duplicate_share_names_are_case_insensitive()
    {
        var o = Valid();
        o.Shares.Add(new() { Name = "SHARE", Driver = "Local", Path = "./share" });
        Assert.Contains("SmbCopy:Shares:1:Name: duplicate share name 'SHARE' (also SmbCopy:Shares:0:Name)", Single(o));
    }

    [Theory]
    [InlineData("", "must not be empty")]
    [InlineData("   ", "must not be empty")]
    [InlineData("a\\b", "contains a control character")]
    [InlineData("a/b", "contains a control character")]
    [InlineData("a:b", "contains a control character")]
    [InlineData("a*b", "contains a control character")]
    [InlineData("a?b", "contains a control character")]
    [InlineData("a\"b", "contains a control character")]
    [InlineData("a<b", "contains a control character")]
    [InlineData("a>b", "contains a control character")]
    [InlineData("a|b", "contains a control character")]
    [InlineData("a\tb", "contains a control character")]
    [InlineData("IPC$", "IPC$ is reserved")]
    [InlineData("ipc$", "IPC$ is reserved")]
    public void Invalid_share_names(string name, string problem)
    {
        var o = Valid();
        o.Shares[0].Name = name;
        var line = Single(o);
        Assert.StartsWith("configuration error: SmbCopy:Shares:0:Name: ", line);
        Assert.Contains(problem, line);
    }

    [Fact]
    public void Share_name_longer_than_80_characters()
    {
        var o = Valid();
        o.Shares[0].Name = new string('s', 81);
        Assert.Contains("SmbCopy:Shares:0:Name: ", Single(o));
        o.Shares[0].Name = new string('s', 80);
        Assert.Empty(SmbCopyOptionsValidator.Validate(o, _root));
    }

    [Theory]
    [InlineData("Smb", 0)]
    [InlineData("Smb", 65536)]
    [InlineData("Http", -1)]
    [InlineData("Http", 70000)]
    public void Ports_out_of_range(string endpoint, int port)
    {
        var o = Valid();
        (endpoint == "Smb" ? (Action)(() => o.Smb.Port = port) : () => o.Http.Port = port)();
        Assert.Equal($"configuration error: SmbCopy:{endpoint}:Port: {port} is out of range (1-65535)", Single(o));
    }

    [Fact]
    public void Address_must_be_an_ip_address()
    {
        var o = Valid();
        o.Smb.Address = "example.org";
        Assert.Contains("SmbCopy:Smb:Address: 'example.org' is not an IP address", Single(o));
    }

    [Fact]
    public void Http_and_smb_on_the_same_port()
    {
        var o = Valid();
        o.Smb.Address = "0.0.0.0";
        o.Http.Port = o.Smb.Port;
        Assert.Contains("SmbCopy:Http:Port: ", Single(o));
    }

    [Fact]
    public void Nfs_share_needs_server_and_export()
    {
        var o = Valid();
        o.Shares[0] = new() { Name = "n", Driver = "Nfs" };
        var errors = SmbCopyOptionsValidator.Validate(o, _root).Select(e => e.ToString()).ToList();
        Assert.Equal(
        [
            "configuration error: SmbCopy:Shares:0:Server: is required for the Nfs driver",
            "configuration error: SmbCopy:Shares:0:Export: is required for the Nfs driver",
        ], errors);
        o.Shares[0].Server = "nfs.example";
        o.Shares[0].Export = "/export";
        Assert.Empty(SmbCopyOptionsValidator.Validate(o, _root));
        o.Shares[0].Port = 0;
        Assert.Contains("SmbCopy:Shares:0:Port: 0 is out of range", Single(o));
    }

    [Fact]
    public void Iscsi_share_needs_portal_target_and_metadata()
    {
        var o = Valid();
        o.Shares[0] = new() { Name = "i", Driver = "Iscsi" };
        var errors = SmbCopyOptionsValidator.Validate(o, _root).Select(e => e.Key).ToList();
        Assert.Equal(["SmbCopy:Shares:0:Portal", "SmbCopy:Shares:0:Target", "SmbCopy:Shares:0:Metadata"], errors);
        o.Shares[0].Portal = "10.0.0.1:3260";
        o.Shares[0].Target = "iqn.2024-01.example:disk";
        o.Shares[0].Metadata = "/var/lib/smbcopy/i.db";
        Assert.Empty(SmbCopyOptionsValidator.Validate(o, _root));
    }

    [Theory]
    [InlineData("")]
    [InlineData("SIXTEEN-CHARS-XX")]
    [InlineData("HAS SPACE")]
    [InlineData("A.B")]
    public void Invalid_server_name(string name)
    {
        var o = Valid();
        o.ServerName = name;
        Assert.StartsWith("configuration error: SmbCopy:ServerName: ", Single(o));
    }

    [Fact]
    public void MaxIoSize_below_64KiB()
    {
        var o = Valid();
        o.Limits.MaxIoSize = 4096;
        Assert.Contains("SmbCopy:Limits:MaxIoSize: 4096 is below the minimum 65536", Single(o));
    }

    [Fact]
    public void Every_problem_is_reported()
    {
        var o = Valid();
        o.Smb.Port = 0;
        o.Users[0].NtHash = "";
        o.Shares[0].Driver = "Foo";
        Assert.Equal(3, SmbCopyOptionsValidator.Validate(o, _root).Count);
    }
}
