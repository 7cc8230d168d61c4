using SmbCopy.Gateway.Configuration;

namespace SmbCopy.Gateway.Smb.Server;

/// <summary>The configured shares plus IPC$, looked up case-insensitively (MS-SMB2 3.3.5.7).</summary>
public sealed class ShareRegistry
{
    private readonly Dictionary<string, SmbShare> _byName = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<SmbShare> _ordered = [];

    public ShareRegistry(IEnumerable<ShareOptions> shares)
    {
        foreach (var options in shares) Add(SmbShare.Disk(options));
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
