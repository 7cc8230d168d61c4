using SmbCopy.Gateway.Configuration;
using SmbCopy.Storage;

namespace SmbCopy.Gateway.Smb.Server;

/// <summary>The configured shares plus IPC$, looked up case-insensitively (MS-SMB2 3.3.5.7).</summary>
public sealed class ShareRegistry
{
    private readonly Dictionary<string, SmbShare> _byName = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<SmbShare> _ordered = [];

    public ShareRegistry(IEnumerable<ShareOptions> shares, IEnumerable<IStorageDriver> drivers)
    {
        var byDriver = drivers.ToDictionary(d => d.Name, StringComparer.OrdinalIgnoreCase);
        foreach (var options in shares)
        {
            // Configuration validation has already refused unknown drivers; a driver that is not
            // built yet (Nfs, Iscsi) leaves the share out rather than failing every request on it.
            if (byDriver.TryGetValue(options.Driver, out var driver)) Add(SmbShare.Disk(options, driver));
        }
        Add(SmbShare.Ipc());
    }

    private void Add(SmbShare share)
    {
        _byName[share.Name] = share;
        _ordered.Add(share);
    }

    public IReadOnlyList<SmbShare> All => _ordered;
    public bool AnyAllowsGuest => _ordered.Any(s => s.AllowsGuest);

    public SmbShare? Find(string name) => _byName.GetValueOrDefault(name);
}
