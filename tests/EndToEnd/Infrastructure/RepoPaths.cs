namespace SmbCopy.EndToEnd.Tests.Infrastructure;

/// <summary>Locations in the repository, found by walking up from the test assembly to SmbCopy.sln.</summary>
public static class RepoPaths
{
    private static readonly Lazy<string> LazyRoot = new(FindRoot);

    public static string Root => LazyRoot.Value;

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    /// <summary>Debug or Release: the configuration this test assembly was built in (…/bin/CONFIG/net10.0/).</summary>
    public static string Configuration
    {
        get
        {
            var fromEnv = Environment.GetEnvironmentVariable("CONFIGURATION");
            if (!string.IsNullOrEmpty(fromEnv))
            {
                return fromEnv;
            }
            var dir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(System.IO.Path.DirectorySeparatorChar));
            return dir.Parent?.Name ?? "Debug";
        }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "SmbCopy.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"SmbCopy.sln not found above {AppContext.BaseDirectory}");
    }
}
