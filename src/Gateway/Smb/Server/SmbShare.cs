using SmbCopy.Gateway.Configuration;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Storage;

namespace SmbCopy.Gateway.Smb.Server;

/// <summary>A share as the SMB server sees it: a disk share backed by a storage volume, or IPC$.</summary>
public sealed class SmbShare
{
    public const string IpcName = "IPC$";

    private readonly Func<Task<IStorageVolume>>? _openVolume;
    private readonly object _volumeGate = new();
    private Task<IStorageVolume>? _volume;

    private SmbShare(string name, bool isPipe, ShareOptions? options, Func<Task<IStorageVolume>>? openVolume)
    {
        Name = name;
        IsPipe = isPipe;
        Options = options;
        if (!isPipe) Notifications = new ChangeNotifier();
        _openVolume = openVolume;
    }

    public string Name { get; }
    public bool IsPipe { get; }
    public ShareOptions? Options { get; }
    public string Remark => IsPipe ? "IPC Service" : Options?.Remark ?? "";
    public bool RequireEncryption => Options?.RequireEncryption ?? false;
    public bool AllowsGuest => Options?.GuestAccess ?? false;
    public bool ReadOnly => Options?.ReadOnly ?? false;
    public string DriverName => Options?.Driver ?? "IPC";
    /// <summary>Opens per file of this share: share modes, delete-pending, byte-range locks.</summary>
    public FileNodeTable Nodes { get; } = new();
    /// <summary>Changes made through the gateway, for CHANGE_NOTIFY (null for IPC$).</summary>
    public ChangeNotifier? Notifications { get; }

    /// <summary>The storage volume, opened on first use (a backend that is down at start does not stop the
    /// gateway); a failed open is retried by the next caller, so a backend that comes back is picked up.</summary>
    public Task<IStorageVolume> GetVolumeAsync()
    {
        if (_openVolume is null) return Task.FromException<IStorageVolume>(new InvalidOperationException("IPC$ has no volume"));
        lock (_volumeGate)
        {
            if (_volume is null || _volume.IsFaulted || _volume.IsCanceled) _volume = _openVolume();
            return _volume;
        }
    }

    public bool VolumeOpened => _volume is { IsCompletedSuccessfully: true };

    public static SmbShare Ipc() => new(IpcName, true, null, null);

    public static SmbShare Disk(ShareOptions options, IStorageDriver driver) => new(options.Name, false, options,
        async () => await driver.OpenVolumeAsync(new StorageVolumeOptions(options.Name, options.Path, options.ReadOnly, Settings(options))).ConfigureAwait(false));

    /// <summary>The driver's settings dictionary for a share (keys as the drivers read them).</summary>
    internal static Dictionary<string, string?> Settings(ShareOptions o) => new()
    {
        ["Server"] = o.Server, ["Port"] = o.Port?.ToString(System.Globalization.CultureInfo.InvariantCulture), ["Export"] = o.Export,
        ["Uid"] = o.Uid?.ToString(System.Globalization.CultureInfo.InvariantCulture), ["Gid"] = o.Gid?.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Portal"] = o.Portal, ["Target"] = o.Target, ["Lun"] = o.Lun?.ToString(System.Globalization.CultureInfo.InvariantCulture), ["Metadata"] = o.Metadata,
        ["FirstLba"] = o.FirstLba?.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Blocks"] = o.Blocks?.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["ExtendedCopy"] = o.ExtendedCopy is bool x ? (x ? "true" : "false") : null,
        ["Format"] = o.Format is bool f ? (f ? "true" : "false") : null,
        ["AsyncCopyMinBytes"] = o.AsyncCopyMinBytes?.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["InitiatorName"] = o.InitiatorName, ["ChapUser"] = o.ChapUser, ["ChapSecret"] = o.ChapSecret,
    };
}
