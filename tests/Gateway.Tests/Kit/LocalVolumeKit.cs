using SmbCopy.Gateway.Smb.Connection;
using SmbCopy.Gateway.Smb.Server;
using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Storage;
using SmbCopy.Storage.Local;

namespace SmbCopy.Gateway.Tests.Kit;

/// <summary>
/// A local volume on a temp directory opened straight from LocalStorageDriver (no share configured), with a server,
/// a negotiated connection and a tree for the FileOpens the tests build by hand around the volume's handles. The
/// tree is on the IPC$ stand-in share, whose node table the tests use as the file's node table.
/// Disposing closes the volume and deletes the directory.
/// </summary>
internal sealed class LocalVolumeKit : IAsyncDisposable
{
    public string Root { get; }
    public IStorageVolume Volume { get; }
    public SmbServer Server { get; }
    public SmbConnection Connection { get; }
    public TreeConnect Tree { get; }

    private LocalVolumeKit(string root, IStorageVolume volume)
    {
        Root = root;
        Volume = volume;
        Server = TestGateway.Server();
        Connection = TestGateway.Connect(Server);
        Tree = new TreeConnect(1, SmbShare.Ipc(), 0x1F01FF, Server.CreateSession(Connection));
    }

    public static async Task<LocalVolumeKit> CreateAsync(string prefix)
    {
        string root = System.IO.Directory.CreateTempSubdirectory(prefix).FullName;
        var volume = await new LocalStorageDriver().OpenVolumeAsync(new StorageVolumeOptions("data", root, false, new Dictionary<string, string?>()));
        return new LocalVolumeKit(root, volume);
    }

    /// <summary>The storage handle of <paramref name="name"/>, created if missing (OpenIf, read/write).</summary>
    public async Task<IStorageHandle> OpenHandleAsync(string name, ObjectKind kind = ObjectKind.File)
    {
        var (handle, _) = await Volume.OpenAsync(name, new OpenRequest(SmbCopy.Storage.CreateDisposition.OpenIf, StorageAccess.ReadWrite, kind));
        return handle;
    }

    public string PathOf(string name) => Path.Combine(Root, name);

    public async ValueTask DisposeAsync()
    {
        await Volume.DisposeAsync();
        System.IO.Directory.Delete(Root, recursive: true);
    }
}
