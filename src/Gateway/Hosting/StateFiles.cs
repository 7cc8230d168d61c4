namespace SmbCopy.Gateway.Hosting;

/// <summary>Files in the state directory: private to the service account, replaced atomically.</summary>
internal static class StateFiles
{
    private const UnixFileMode PrivateDirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode PrivateFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Creates the directory (0700) if needed; an existing directory keeps its mode.</summary>
    public static void EnsureDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, PrivateDirectoryMode);
        }
    }

    /// <summary>Writes <paramref name="content"/> to a temporary file (0600) and renames it over <paramref name="path"/>,
    /// so a crash never leaves a half-written file.</summary>
    public static void WriteAtomically(string path, string content)
    {
        var temp = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = PrivateFileMode;
        }
        using (var stream = new FileStream(temp, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(content);
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temp, PrivateFileMode); // an old .tmp left by a crash keeps its mode otherwise
        }
        File.Move(temp, path, overwrite: true);
    }
}
