using SmbCopy.Gateway.Hosting;

namespace SmbCopy.Gateway.Tests.Hosting;

public sealed class ServerIdentityTests : IDisposable
{
    private readonly string _state = Path.Combine(Directory.CreateTempSubdirectory("smbcopy-guid-").FullName, "state");

    public void Dispose() => Directory.Delete(Path.GetDirectoryName(_state)!, recursive: true);

    [Fact]
    public void Guid_survives_restarts()
    {
        var first = ServerIdentity.LoadOrCreate(_state, "SRV", DateTimeOffset.UnixEpoch);
        var second = ServerIdentity.LoadOrCreate(_state, "SRV", DateTimeOffset.UnixEpoch.AddHours(1));

        Assert.NotEqual(Guid.Empty, first.ServerGuid);
        Assert.Equal(first.ServerGuid, second.ServerGuid);
        Assert.Equal("SRV", second.ServerName);
        Assert.Equal(DateTimeOffset.UnixEpoch.AddHours(1), second.StartTime);
        Assert.Equal(first.ServerGuid.ToString("D") + "\n", File.ReadAllText(Path.Combine(_state, ServerIdentity.GuidFileName)));
    }

    [Fact]
    public void Different_state_directories_have_different_guids()
    {
        var a = ServerIdentity.LoadOrCreate(Path.Combine(_state, "a"), "SRV", DateTimeOffset.UnixEpoch);
        var b = ServerIdentity.LoadOrCreate(Path.Combine(_state, "b"), "SRV", DateTimeOffset.UnixEpoch);
        Assert.NotEqual(a.ServerGuid, b.ServerGuid);
    }

    [Fact]
    public void Corrupt_guid_file_is_not_silently_replaced()
    {
        Directory.CreateDirectory(_state);
        var path = Path.Combine(_state, ServerIdentity.GuidFileName);
        File.WriteAllText(path, "garbage");
        Assert.Throws<InvalidDataException>(() => ServerIdentity.LoadOrCreate(_state, "SRV", DateTimeOffset.UnixEpoch));
        Assert.Equal("garbage", File.ReadAllText(path));
    }
}
