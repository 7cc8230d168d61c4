using System.Globalization;

namespace SmbCopy.Gateway.Hosting;

/// <summary>
/// Who this server is: the ServerGuid announced in NEGOTIATE (MS-SMB2 2.2.4) must not change across restarts,
/// or clients treat the restarted server as a different one (durable handles, multichannel, leases).
/// </summary>
public sealed class ServerIdentity
{
    public const string GuidFileName = "server-guid";

    public required Guid ServerGuid { get; init; }
    public required string ServerName { get; init; }
    public required DateTimeOffset StartTime { get; init; }

    /// <summary>Reads <c>server-guid</c> from <paramref name="stateDirectory"/>, creating it once with a new GUID.</summary>
    public static ServerIdentity LoadOrCreate(string stateDirectory, string serverName, DateTimeOffset startTime) => new()
    {
        ServerGuid = LoadOrCreateGuid(stateDirectory),
        ServerName = serverName,
        StartTime = startTime,
    };

    internal static Guid LoadOrCreateGuid(string stateDirectory)
    {
        var path = Path.Combine(stateDirectory, GuidFileName);
        if (File.Exists(path))
        {
            var text = File.ReadAllText(path).Trim();
            if (!Guid.TryParseExact(text, "D", out var existing) || existing == Guid.Empty)
            {
                // Never silently replace an identity clients may already know; let the operator decide.
                throw new InvalidDataException($"'{path}' does not contain a GUID; delete it to generate a new server GUID");
            }
            return existing;
        }
        StateFiles.EnsureDirectory(stateDirectory);
        var guid = Guid.NewGuid();
        StateFiles.WriteAtomically(path, guid.ToString("D", CultureInfo.InvariantCulture) + "\n");
        return guid;
    }
}
