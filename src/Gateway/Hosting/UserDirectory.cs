using SmbCopy.Protocol.Security;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using SmbCopy.Gateway.Configuration;

namespace SmbCopy.Gateway.Hosting;

/// <summary>
/// Users from configuration (<c>SmbCopy:Users</c>) or, when the configuration has none, from
/// <c>StateDirectory/users.json</c>; on the very first start that file is created with one generated user.
/// </summary>
public sealed class UserDirectory : IUserDirectory
{
    public const string FileName = "users.json";
    public const string GeneratedUserName = "smbcopy";
    public const int GeneratedPasswordLength = 20;
    // No look-alikes (0/O, 1/l/I): the password is read off a console once and typed in elsewhere.
    private const string PasswordAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
    };

    private readonly Dictionary<string, byte[]> _hashes;

    public UserDirectory(IEnumerable<(string Name, byte[] NtHash)> users, string source)
    {
        _hashes = new(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, hash) in users)
        {
            if (hash.Length != NtHash.Size)
            {
                throw new ArgumentException($"NT hash of '{name}' is not {NtHash.Size} bytes", nameof(users));
            }
            _hashes[name] = hash.ToArray();
        }
        Source = source;
    }

    /// <summary>Where the users came from, for the start-up log: "configuration" or the users.json path.</summary>
    public string Source { get; }

    public int Count => _hashes.Count;

    public IReadOnlyCollection<string> UserNames => _hashes.Keys;

    public byte[]? GetNtHash(string user) => _hashes.TryGetValue(user, out var hash) ? hash.ToArray() : null;

    /// <summary>Users from validated configuration entries.</summary>
    public static UserDirectory FromOptions(IEnumerable<UserOptions> users) =>
        new(users.Select(u => (u.Name, NtHash.TryParseHex((u.NtHash ?? "").Trim(), out var h)
            ? h
            : throw new ArgumentException($"NtHash of '{u.Name}' is not 32 hex digits", nameof(users)))), "configuration");

    /// <summary>Loads <c>users.json</c> from <paramref name="stateDirectory"/>, or creates it with a generated user.
    /// <paramref name="generatedPassword"/> is the new password on that first start (to be shown once), else null.</summary>
    public static UserDirectory LoadOrCreate(string stateDirectory, out string? generatedPassword)
    {
        var path = Path.Combine(stateDirectory, FileName);
        generatedPassword = null;
        if (File.Exists(path))
        {
            return Load(path);
        }
        generatedPassword = RandomNumberGenerator.GetString(PasswordAlphabet, GeneratedPasswordLength);
        var hash = NtHash.FromPassword(generatedPassword);
        StateFiles.EnsureDirectory(stateDirectory);
        Save(path, [(GeneratedUserName, hash)]);
        return new([(GeneratedUserName, hash)], path);
    }

    internal static UserDirectory Load(string path)
    {
        UserFile? file;
        try
        {
            file = JsonSerializer.Deserialize<UserFile>(File.ReadAllText(path), JsonOptions);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"'{path}' is not valid JSON: {ex.Message}", ex);
        }
        var users = new List<(string, byte[])>();
        foreach (var (entry, i) in (file?.Users ?? []).Select((e, i) => (e, i)))
        {
            if (string.IsNullOrWhiteSpace(entry.Name) || !NtHash.TryParseHex((entry.NtHash ?? "").Trim(), out var hash))
            {
                throw new InvalidDataException($"'{path}': entry {i} needs a name and a 32-hex-digit ntHash");
            }
            users.Add((entry.Name, hash));
        }
        if (users.Count == 0)
        {
            throw new InvalidDataException($"'{path}' lists no users; delete it to generate one, or configure SmbCopy:Users");
        }
        return new(users, path);
    }

    internal static void Save(string path, IEnumerable<(string Name, byte[] NtHash)> users)
    {
        var file = new UserFile { Users = [.. users.Select(u => new UserEntry { Name = u.Name, NtHash = Convert.ToHexStringLower(u.NtHash) })] };
        StateFiles.WriteAtomically(path, JsonSerializer.Serialize(file, JsonOptions) + "\n");
    }

    private sealed class UserFile
    {
        [JsonPropertyName("users")]
        public List<UserEntry> Users { get; set; } = [];
    }

    private sealed class UserEntry
    {
        [JsonPropertyName("name")]
        public string Name { get; set; } = "";

        [JsonPropertyName("ntHash")]
        public string NtHash { get; set; } = "";
    }
}
