using Microsoft.Extensions.Configuration;
using SmbCopy.Gateway.Configuration;
using SmbCopy.Gateway.Hosting;
using SmbCopy.Gateway.Http;
using SmbCopy.Gateway.Smb.Server;
using SmbCopy.Storage;

namespace SmbCopy.Gateway.Tests.Configuration;

/// <summary>Backend settings the drivers read (iSCSI initiator name and CHAP, NFS asynchronous-copy threshold): from
/// the command line through binding and validation into the driver's settings dictionary, and the errors on the way.</summary>
public sealed class ShareBackendSettingsTests : IDisposable
{
    private const string GoodHash = "a4f49c406510bdcab6824ee7c30fd852";
    private const string Secret = "s3cret-never-shown";
    private readonly string _root = Directory.CreateTempSubdirectory("smbcopy-backend-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static SmbCopyOptions Bind(params string[] args) =>
        SmbCopyOptionsBinder.Bind(new ConfigurationBuilder().AddCommandLine(args).Build());

    private static readonly string[] IscsiArgs =
    [
        "--SmbCopy:Shares:0:Name=san", "--SmbCopy:Shares:0:Driver=Iscsi", "--SmbCopy:Shares:0:Portal=192.0.2.1:3260",
        "--SmbCopy:Shares:0:Target=iqn.2004-10.com.example:lun0", "--SmbCopy:Shares:0:Metadata=/var/lib/smbcopy/san.db",
    ];

    private static readonly string[] NfsArgs =
    [
        "--SmbCopy:Shares:0:Name=filer", "--SmbCopy:Shares:0:Driver=Nfs", "--SmbCopy:Shares:0:Server=nas", "--SmbCopy:Shares:0:Export=/e",
    ];

    private List<string> Errors(SmbCopyOptions o)
    {
        o.Users = [new() { Name = "alice", NtHash = GoodHash }];
        return SmbCopyOptionsValidator.Validate(o, _root).Select(e => e.ToString()).ToList();
    }

    /// <summary>Records what the gateway hands the driver, then fails the open (no volume needed).</summary>
    private sealed class RecordingDriver(string name) : IStorageDriver
    {
        public StorageVolumeOptions? Seen { get; private set; }
        public string Name => name;

        public ValueTask<IStorageVolume> OpenVolumeAsync(StorageVolumeOptions options, CancellationToken cancellationToken = default)
        {
            Seen = options;
            throw new StorageException(StorageError.Unavailable, "recorded");
        }
    }

    private static async Task<IReadOnlyDictionary<string, string?>> DriverSettings(ShareOptions share)
    {
        var driver = new RecordingDriver(share.Driver);
        await Assert.ThrowsAsync<StorageException>(() => SmbShare.Disk(share, driver).GetVolumeAsync());
        return driver.Seen!.Settings!;
    }

    [Fact]
    public async Task Iscsi_initiator_name_and_chap_reach_the_driver()
    {
        var o = Bind([.. IscsiArgs, "--SmbCopy:Shares:0:InitiatorName=iqn.2025-01.com.example:gw1",
            "--SmbCopy:Shares:0:ChapUser=gw", $"--SmbCopy:Shares:0:ChapSecret={Secret}"]);
        Assert.Empty(Errors(o));

        var s = await DriverSettings(o.Shares[0]);
        Assert.Equal("iqn.2025-01.com.example:gw1", s["InitiatorName"]);
        Assert.Equal("gw", s["ChapUser"]);
        Assert.Equal(Secret, s["ChapSecret"]);
    }

    [Fact]
    public async Task Nfs_async_copy_threshold_reaches_the_driver()
    {
        var o = Bind([.. NfsArgs, "--SmbCopy:Shares:0:AsyncCopyMinBytes=1048576"]);
        Assert.Empty(Errors(o));

        var s = await DriverSettings(o.Shares[0]);
        Assert.Equal("1048576", s["AsyncCopyMinBytes"]);
    }

    [Fact]
    public void Non_numeric_size_is_one_line_naming_the_key()
    {
        var ex = Assert.Throws<ConfigurationException>(() => Bind([.. NfsArgs, "--SmbCopy:Shares:0:AsyncCopyMinBytes=16M"]));
        Assert.Equal("configuration error: SmbCopy:Shares:0:AsyncCopyMinBytes: '16M' is not an integer", ex.Error.ToString());
    }

    [Fact]
    public void Non_numeric_share_port_is_an_error_not_the_default()
    {
        // ConfigurationBinder alone ignores a failed conversion inside a list entry: the share would use port 2049.
        var ex = Assert.Throws<ConfigurationException>(() => Bind([.. NfsArgs, "--SmbCopy:Shares:0:Port=nfs"]));
        Assert.Equal("configuration error: SmbCopy:Shares:0:Port: 'nfs' is not an integer", ex.Error.ToString());
    }

    [Fact]
    public void Non_boolean_iscsi_switch_is_one_line_naming_the_key()
    {
        var ex = Assert.Throws<ConfigurationException>(() => Bind([.. IscsiArgs, "--SmbCopy:Shares:0:ExtendedCopy=no"]));
        Assert.Equal("configuration error: SmbCopy:Shares:0:ExtendedCopy: 'no' is not true or false", ex.Error.ToString());
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("2147483648")]
    public void Async_copy_threshold_out_of_range(string value)
    {
        var o = Bind([.. NfsArgs, $"--SmbCopy:Shares:0:AsyncCopyMinBytes={value}"]);
        Assert.Equal([$"configuration error: SmbCopy:Shares:0:AsyncCopyMinBytes: {value} is out of range (0-2147483647)"], Errors(o));
    }

    [Fact]
    public void Chap_user_without_secret()
    {
        var o = Bind([.. IscsiArgs, "--SmbCopy:Shares:0:ChapUser=gw"]);
        Assert.Equal(["configuration error: SmbCopy:Shares:0:ChapSecret: is required when ChapUser is set"], Errors(o));
    }

    [Fact]
    public void Chap_secret_without_user_does_not_echo_the_secret()
    {
        var o = Bind([.. IscsiArgs, $"--SmbCopy:Shares:0:ChapSecret={Secret}"]);
        Assert.Equal(["configuration error: SmbCopy:Shares:0:ChapUser: is required when ChapSecret is set"], Errors(o));
    }

    [Fact]
    public void Chap_secret_on_an_nfs_share_is_refused_without_echoing_it()
    {
        var o = Bind([.. NfsArgs, $"--SmbCopy:Shares:0:ChapSecret={Secret}"]);
        var errors = Errors(o);
        Assert.Equal(["configuration error: SmbCopy:Shares:0:ChapSecret: applies only to the Iscsi driver (this share's driver is Nfs)"], errors);
        Assert.DoesNotContain(Secret, string.Join('\n', errors), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Iscsi", "AsyncCopyMinBytes=1", "Nfs")]
    [InlineData("Iscsi", "Uid=1", "Nfs")]
    [InlineData("Nfs", "InitiatorName=iqn.2025-01.com.example:gw", "Iscsi")]
    [InlineData("Nfs", "Format=true", "Iscsi")]
    [InlineData("Local", "Portal=192.0.2.1", "Iscsi")]
    [InlineData("Local", "Server=nas", "Nfs")]
    public void Setting_for_another_driver(string driver, string setting, string owner)
    {
        Directory.CreateDirectory(Path.Combine(_root, "d"));
        string[] share = driver switch
        {
            "Iscsi" => IscsiArgs,
            "Nfs" => NfsArgs,
            _ => ["--SmbCopy:Shares:0:Name=d", "--SmbCopy:Shares:0:Driver=Local", "--SmbCopy:Shares:0:Path=./d"],
        };
        var o = Bind([.. share, $"--SmbCopy:Shares:0:{setting}"]);
        var key = setting[..setting.IndexOf('=')];
        Assert.Equal([$"configuration error: SmbCopy:Shares:0:{key}: applies only to the {owner} driver (this share's driver is {driver})"], Errors(o));
    }

    [Theory]
    [InlineData("gateway1")]
    [InlineData("iqn.2025-01.com.example:has space")]
    public void Initiator_name_must_be_an_iscsi_name(string name)
    {
        var o = Bind([.. IscsiArgs, $"--SmbCopy:Shares:0:InitiatorName={name}"]);
        Assert.Equal([$"configuration error: SmbCopy:Shares:0:InitiatorName: '{name}' is not an iSCSI name (iqn.…, eui.… or naa.…, no spaces, at most 223 characters)"], Errors(o));
    }

    [Fact]
    public void Negative_lun_region_is_refused()
    {
        var o = Bind([.. IscsiArgs, "--SmbCopy:Shares:0:FirstLba=-8", "--SmbCopy:Shares:0:Blocks=-1"]);
        Assert.Equal(
        [
            "configuration error: SmbCopy:Shares:0:FirstLba: must not be negative",
            "configuration error: SmbCopy:Shares:0:Blocks: must not be negative",
        ], Errors(o));
    }

    [Fact]
    public void Status_page_does_not_show_the_chap_secret()
    {
        var o = Bind([.. IscsiArgs, "--SmbCopy:Shares:0:ChapUser=gw", $"--SmbCopy:Shares:0:ChapSecret={Secret}"]);
        var identity = new ServerIdentity { ServerGuid = Guid.NewGuid(), ServerName = "SRV", StartTime = DateTimeOffset.UnixEpoch };
        var html = StatusPage.Render(identity, o, DateTimeOffset.UnixEpoch);
        Assert.Contains("iscsi://192.0.2.1:3260/iqn.2004-10.com.example:lun0/0", html);
        Assert.DoesNotContain(Secret, html, StringComparison.Ordinal);
    }
}
