using SmbCopy.Gateway.Configuration;

namespace SmbCopy.Gateway.Smb.Server;

/// <summary>A share as the SMB server sees it: a disk share backed by a storage volume, or IPC$.</summary>
public sealed class SmbShare
{
    public const string IpcName = "IPC$";

    private SmbShare(string name, bool isPipe, ShareOptions? options)
    {
        Name = name;
        IsPipe = isPipe;
        Options = options;
    }

    public string Name { get; }
    public bool IsPipe { get; }
    public ShareOptions? Options { get; }
    public string Remark => IsPipe ? "IPC Service" : Options?.Remark ?? "";
    public bool RequireEncryption => Options?.RequireEncryption ?? false;
    public bool AllowsGuest => Options?.GuestAccess ?? false;
    public bool ReadOnly => Options?.ReadOnly ?? false;

    public static SmbShare Ipc() => new(IpcName, true, null);
    public static SmbShare Disk(ShareOptions options) => new(options.Name, false, options);
}
