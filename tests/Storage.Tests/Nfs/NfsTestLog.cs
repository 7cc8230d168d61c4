using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace SmbCopy.Storage.Tests.Nfs;

/// <summary>
/// The NFS driver's log during the NFS tests: appended, with UTC time stamps, to the file named by SMBCOPY_NFS_TEST_LOG
/// (for finding where a run waits, e.g. a teardown against a restarted nfsd); nothing when it is unset.
/// </summary>
internal static class NfsTestLog
{
    private static readonly string? Path = Environment.GetEnvironmentVariable("SMBCOPY_NFS_TEST_LOG");
    private static readonly object Gate = new();

    public static ILoggerFactory Factory { get; } = string.IsNullOrEmpty(Path) ? NullLoggerFactory.Instance : new FileFactory();

    public static void Write(string category, string message)
    {
        if (string.IsNullOrEmpty(Path))
            return;
        lock (Gate)
            File.AppendAllText(Path, $"{DateTime.UtcNow:HH:mm:ss.fff} [{Environment.ProcessId}] {category}: {message}{Environment.NewLine}");
    }

    private sealed class FileFactory : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => new FileLogger(categoryName[(categoryName.LastIndexOf('.') + 1)..]);
        public void AddProvider(ILoggerProvider provider) { }
        public void Dispose() { }
    }

    private sealed class FileLogger(string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Write(category, $"{logLevel}: {formatter(state, exception)}{(exception is null ? "" : " | " + exception.GetType().Name + ": " + exception.Message)}");
    }
}
