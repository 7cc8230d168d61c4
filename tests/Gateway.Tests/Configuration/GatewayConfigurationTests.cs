using System.Collections;
using Microsoft.Extensions.Configuration;
using SmbCopy.Gateway.Configuration;

namespace SmbCopy.Gateway.Tests.Configuration;

public sealed class GatewayConfigurationTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("smbcopy-config-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private IConfigurationRoot Build(string[] args, IDictionary? environment = null, string? json = null)
    {
        if (json is not null)
        {
            File.WriteAllText(Path.Combine(_root, GatewayConfiguration.SettingsFileName), json);
        }
        return new ConfigurationBuilder().AddGatewaySources(_root, args, environment ?? new Hashtable()).Build();
    }

    private const string Json = """
        { "SmbCopy": { "Smb": { "Port": 1000 }, "Shares": [ { "Name": "data", "Driver": "Local", "Path": "./data" } ] } }
        """;

    [Fact]
    public void Appsettings_json_is_read_from_the_content_root()
    {
        var options = SmbCopyOptionsBinder.Bind(Build([], json: Json));
        Assert.Equal(1000, options.Smb.Port);
        Assert.Equal("data", Assert.Single(options.Shares).Name);
    }

    [Fact]
    public void Missing_appsettings_json_gives_the_defaults()
    {
        var options = SmbCopyOptionsBinder.Bind(Build([]));
        Assert.Equal(445, options.Smb.Port);
        Assert.Empty(options.Shares);
    }

    [Fact]
    public void Plain_environment_form_overrides_json()
    {
        var env = new Hashtable { ["SmbCopy__Smb__Port"] = "2000" };
        Assert.Equal(2000, SmbCopyOptionsBinder.Bind(Build([], env, Json)).Smb.Port);
    }

    [Fact]
    public void Prefixed_environment_form_is_relative_to_the_section_and_overrides_the_plain_form()
    {
        var env = new Hashtable { ["SmbCopy__Smb__Port"] = "2000", ["SMBCOPY_SMB__PORT"] = "3000", ["SMBCOPY_Shares__0__Path"] = "/srv/a" };
        var options = SmbCopyOptionsBinder.Bind(Build([], env, Json));
        Assert.Equal(3000, options.Smb.Port);
        Assert.Equal("/srv/a", options.Shares[0].Path);
    }

    [Fact]
    public void Upper_case_plain_form_is_not_taken_for_the_prefixed_form()
    {
        var env = new Hashtable { ["SMBCOPY__SMB__PORT"] = "2500" };
        Assert.Equal(2500, SmbCopyOptionsBinder.Bind(Build([], env, Json)).Smb.Port);
    }

    [Fact]
    public void Command_line_overrides_everything()
    {
        var env = new Hashtable { ["SMBCOPY_Smb__Port"] = "3000" };
        var options = SmbCopyOptionsBinder.Bind(Build(["--SmbCopy:Smb:Port=4455", "--SmbCopy:Shares:0:Path=/srv/x"], env, Json));
        Assert.Equal(4455, options.Smb.Port);
        Assert.Equal("/srv/x", options.Shares[0].Path);
        Assert.Equal("data", options.Shares[0].Name);
    }

    [Fact]
    public void Misspelt_key_is_an_error_naming_it()
    {
        var ex = Assert.Throws<ConfigurationException>(() => SmbCopyOptionsBinder.Bind(Build(["--SmbCopy:Security:RequireSiging=false"])));
        Assert.Equal("SmbCopy:Security:RequireSiging", ex.Error.Key);
        Assert.StartsWith("configuration error: SmbCopy:Security:RequireSiging: unknown setting", ex.Error.ToString());
    }

    [Fact]
    public void Misspelt_key_inside_a_list_entry_is_an_error()
    {
        var ex = Assert.Throws<ConfigurationException>(() => SmbCopyOptionsBinder.Bind(Build(["--SmbCopy:Shares:0:Pth=/x"])));
        Assert.Equal("SmbCopy:Shares:0:Pth", ex.Error.Key);
    }

    [Fact]
    public void Value_of_the_wrong_type_is_an_error_naming_the_key()
    {
        var ex = Assert.Throws<ConfigurationException>(() => SmbCopyOptionsBinder.Bind(Build(["--SmbCopy:Smb:Port=abc"])));
        Assert.Equal("configuration error: SmbCopy:Smb:Port: 'abc' is not an integer", ex.Error.ToString());
    }

    [Fact]
    public void Boolean_of_the_wrong_type_is_an_error_naming_the_key()
    {
        var ex = Assert.Throws<ConfigurationException>(() => SmbCopyOptionsBinder.Bind(Build(["--SmbCopy:Security:RequireSigning=yes"])));
        Assert.Equal("configuration error: SmbCopy:Security:RequireSigning: 'yes' is not true or false", ex.Error.ToString());
    }

    [Fact]
    public void Other_sections_are_not_checked()
    {
        var options = SmbCopyOptionsBinder.Bind(Build(["--Logging:LogLevel:Default=Debug", "--Whatever=1"]));
        Assert.Equal(445, options.Smb.Port);
    }
}

public sealed class ContentRootTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("smbcopy-root-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Working_directory_is_the_content_root() =>
        Assert.Equal(_root, GatewayConfiguration.ResolveContentRoot(_root));

    [Fact]
    public void Dotnet_run_from_the_project_directory_uses_the_repository_root()
    {
        var project = Directory.CreateDirectory(Path.Combine(_root, "src", "Gateway")).FullName;
        File.WriteAllText(Path.Combine(project, "SmbCopy.Gateway.csproj"), "");
        File.WriteAllText(Path.Combine(_root, "SmbCopy.sln"), "");
        Assert.Equal(_root, GatewayConfiguration.ResolveContentRoot(project));
    }
}
