using SmbCopy.Storage.Interop;
using SmbCopy.Storage.Local;

namespace SmbCopy.Storage.Tests.Local;

/// <summary>A share directory and an "outside" sibling under a fresh temporary directory, removed afterwards.</summary>
internal sealed class LocalTempShare : IDisposable
{
    public LocalTempShare()
    {
        Base = Path.Combine(Path.GetTempPath(), "smbcopy-storage-" + Guid.NewGuid().ToString("N"));
        Root = Path.Combine(Base, "share");
        Outside = Path.Combine(Base, "outside");
        Directory.CreateDirectory(Root);
        Directory.CreateDirectory(Outside);
    }

    public string Base { get; }
    public string Root { get; }
    public string Outside { get; }

    public string OnDisk(string sharePath) => Path.Combine(Root, sharePath.Replace('\\', '/'));

    public Task<IStorageVolume> OpenAsync(bool readOnly = false, string name = "test") =>
        new LocalStorageDriver().OpenVolumeAsync(new StorageVolumeOptions(name, Root, readOnly)).AsTask();

    public static void MakeFifo(string path)
    {
        if (Libc.Mknodat(Libc.AT_FDCWD, path, Libc.S_IFIFO | 0x1A4, 0) != 0)
            throw new IOException($"mkfifo {path}: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
    }

    public static void MakeNullDevice(string path)
    {
        if (Libc.Mknodat(Libc.AT_FDCWD, path, Libc.S_IFCHR | 0x1B6, Libc.MakeDev(1, 3)) != 0)
            throw new IOException($"mknod {path}: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
    }

    public void Dispose() => DeleteTree(new DirectoryInfo(Base));

    /// <summary>Deletes a tree without ever following a symbolic link.</summary>
    private static void DeleteTree(DirectoryInfo dir)
    {
        if (!dir.Exists)
            return;
        foreach (var entry in dir.EnumerateFileSystemInfos())
        {
            if (entry.LinkTarget is not null || entry is FileInfo)
                entry.Delete();
            else if (entry is DirectoryInfo sub)
            {
                if ((sub.Attributes & FileAttributes.ReparsePoint) != 0)
                    sub.Delete();
                else
                    DeleteTree(sub);
            }
        }
        dir.Delete();
    }
}
