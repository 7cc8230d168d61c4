namespace SmbCopy.Gateway.Smb.Files;

/// <summary>What happened to a name (FILE_NOTIFY_INFORMATION Action, MS-FSCC 2.7.1); None publishes nothing.</summary>
public enum ChangeKind
{
    None = 0,
    Added = 1,
    Removed = 2,
    Modified = 3,
    RenamedOldName = 4,
    RenamedNewName = 5,
}

/// <summary>
/// Change notifications of one share: handlers publish what they changed (share-relative paths,
/// '\'-separated), CHANGE_NOTIFY requests watch a directory (MS-SMB2 3.3.5.19). Only changes made
/// through this gateway are seen.
/// </summary>
public sealed class ChangeNotifier
{
    private readonly object _gate = new();
    private readonly List<Watcher> _watchers = [];

    public void Publish(string path, ChangeKind kind, bool isDirectory)
    {
        if (kind == ChangeKind.None) return;
        Watcher[] watchers;
        lock (_gate) watchers = [.. _watchers];
        if (watchers.Length == 0) return;
        int slash = path.LastIndexOf('\\');
        string parent = slash < 0 ? "" : path[..slash];
        foreach (var w in watchers)
        {
            string? relative = RelativeTo(w.Directory, parent, path, w.WatchTree);
            if (relative is not null) w.Callback(kind, relative, isDirectory);
        }
    }

    /// <summary>Registers a watcher; dispose the result to stop watching.</summary>
    public IDisposable Watch(string directory, bool watchTree, Action<ChangeKind, string, bool> callback)
    {
        var watcher = new Watcher(this, directory, watchTree, callback);
        lock (_gate) _watchers.Add(watcher);
        return watcher;
    }

    private static string? RelativeTo(string directory, string parent, string path, bool tree)
    {
        if (string.Equals(parent, directory, StringComparison.OrdinalIgnoreCase))
            return directory.Length == 0 ? path : path[(directory.Length + 1)..];
        if (!tree) return null;
        if (directory.Length == 0) return path;
        if (path.Length > directory.Length + 1 && path[directory.Length] == '\\'
            && path.StartsWith(directory, StringComparison.OrdinalIgnoreCase))
            return path[(directory.Length + 1)..];
        return null;
    }

    private sealed class Watcher(ChangeNotifier owner, string directory, bool watchTree, Action<ChangeKind, string, bool> callback) : IDisposable
    {
        public string Directory { get; } = directory;
        public bool WatchTree { get; } = watchTree;
        public Action<ChangeKind, string, bool> Callback { get; } = callback;

        public void Dispose()
        {
            lock (owner._gate) owner._watchers.Remove(this);
        }
    }
}
