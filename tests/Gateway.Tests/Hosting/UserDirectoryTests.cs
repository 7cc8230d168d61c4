using SmbCopy.Protocol.Security;
using SmbCopy.Gateway.Configuration;
using SmbCopy.Gateway.Hosting;

namespace SmbCopy.Gateway.Tests.Hosting;

public sealed class UserDirectoryTests : IDisposable
{
    private readonly string _state = Path.Combine(Directory.CreateTempSubdirectory("smbcopy-users-").FullName, "state");

    public void Dispose() => Directory.Delete(Path.GetDirectoryName(_state)!, recursive: true);

    [Fact]
    public void First_start_generates_a_user_and_stores_only_its_hash()
    {
        var users = UserDirectory.LoadOrCreate(_state, out var password);

        Assert.NotNull(password);
        Assert.Equal(UserDirectory.GeneratedPasswordLength, password.Length);
        Assert.Equal(NtHash.FromPassword(password), users.GetNtHash("smbcopy"));

        var path = Path.Combine(_state, UserDirectory.FileName);
        var text = File.ReadAllText(path);
        Assert.DoesNotContain(password, text, StringComparison.Ordinal);
        Assert.Contains(Convert.ToHexStringLower(NtHash.FromPassword(password)), text, StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_state));
        }
    }

    [Fact]
    public void Later_starts_load_the_same_user_without_a_new_password()
    {
        var first = UserDirectory.LoadOrCreate(_state, out var password);
        var second = UserDirectory.LoadOrCreate(_state, out var again);

        Assert.Null(again);
        Assert.Equal(first.GetNtHash("smbcopy"), second.GetNtHash("SMBCOPY"));
        Assert.Equal(NtHash.FromPassword(password!), second.GetNtHash("SmbCopy"));
    }

    [Fact]
    public void Round_trip_keeps_every_hash()
    {
        Directory.CreateDirectory(_state);
        var path = Path.Combine(_state, UserDirectory.FileName);
        UserDirectory.Save(path, [("alice", NtHash.FromPassword("a")), ("Bob", NtHash.FromPassword("b"))]);

        var users = UserDirectory.Load(path);
        Assert.Equal(NtHash.FromPassword("a"), users.GetNtHash("ALICE"));
        Assert.Equal(NtHash.FromPassword("b"), users.GetNtHash("bob"));
        Assert.Null(users.GetNtHash("carol"));
    }

    [Fact]
    public void Callers_cannot_change_a_stored_hash()
    {
        var users = UserDirectory.FromOptions([new UserOptions { Name = "alice", NtHash = "a4f49c406510bdcab6824ee7c30fd852" }]);
        users.GetNtHash("alice")![0] ^= 0xff;
        Assert.Equal(NtHash.FromPassword("Password"), users.GetNtHash("alice"));
    }

    [Fact]
    public void Corrupt_file_is_an_error_not_a_new_password()
    {
        Directory.CreateDirectory(_state);
        File.WriteAllText(Path.Combine(_state, UserDirectory.FileName), "{ not json");
        Assert.Throws<InvalidDataException>(() => UserDirectory.LoadOrCreate(_state, out _));
    }

    [Fact]
    public void Generated_passwords_differ()
    {
        UserDirectory.LoadOrCreate(_state, out var a);
        Directory.Delete(_state, recursive: true);
        UserDirectory.LoadOrCreate(_state, out var b);
        Assert.NotEqual(a, b);
    }
}
