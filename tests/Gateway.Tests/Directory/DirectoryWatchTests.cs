using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Tests.DirectoryCommands;

/// <summary>CHANGE_NOTIFY state of a directory open (MS-SMB2 3.3.5.19): filters, buffering, overflow, cleanup, cancel.</summary>
public sealed class DirectoryWatchTests
{
    private readonly ChangeNotifier _notifier = new();
    private const CompletionFilter Names = CompletionFilter.FileName | CompletionFilter.DirName;

    [Fact]
    public async Task Pending_request_completes_with_the_change_relative_to_the_directory()
    {
        using var watch = new DirectoryWatch(_notifier, "dir", Names, watchTree: false, 4096);
        var wait = watch.WaitAsync(4096, default);
        Assert.False(wait.IsCompleted);
        _notifier.Publish("other\\x.txt", ChangeKind.Added, false);   // another directory
        _notifier.Publish("dir\\sub\\y.txt", ChangeKind.Added, false); // below, no WATCH_TREE
        Assert.False(wait.IsCompleted);
        _notifier.Publish("DIR\\new.txt", ChangeKind.Added, false);
        var result = await wait;
        Assert.Equal(NtStatus.Success, result.Status);
        Assert.Equal([(FileAction.Added, "new.txt")], result.Changes);
    }

    [Fact]
    public async Task A_watched_directory_that_is_renamed_is_watched_where_it_now_is()
    {
        string path = "old";
        using var watch = new DirectoryWatch(_notifier, () => path, Names, watchTree: false, 4096);
        var wait = watch.WaitAsync(4096, default);
        path = "moved\\new"; // the open's handle path after a rename of the directory
        _notifier.Publish("old\\stale.txt", ChangeKind.Added, false);
        Assert.False(wait.IsCompleted);
        _notifier.Publish("Moved\\New\\x.txt", ChangeKind.Added, false);
        var result = await wait;
        Assert.Equal([(FileAction.Added, "x.txt")], result.Changes);
    }

    [Fact]
    public async Task Watch_tree_reports_names_below()
    {
        using var watch = new DirectoryWatch(_notifier, "", Names, watchTree: true, 4096);
        var wait = watch.WaitAsync(4096, default);
        _notifier.Publish("a\\b\\c.txt", ChangeKind.Removed, false);
        Assert.Equal([(FileAction.Removed, "a\\b\\c.txt")], (await wait).Changes);
    }

    [Fact]
    public async Task Filter_separates_files_directories_and_writes()
    {
        using var watch = new DirectoryWatch(_notifier, "", CompletionFilter.DirName, watchTree: false, 4096);
        var wait = watch.WaitAsync(4096, default);
        _notifier.Publish("f.txt", ChangeKind.Added, false);
        _notifier.Publish("f.txt", ChangeKind.Modified, false);
        Assert.False(wait.IsCompleted);
        _notifier.Publish("d", ChangeKind.Added, true);
        Assert.Equal([(FileAction.Added, "d")], (await wait).Changes);

        using var writes = new DirectoryWatch(_notifier, "", CompletionFilter.LastWrite, watchTree: false, 4096);
        var w2 = writes.WaitAsync(4096, default);
        _notifier.Publish("g.txt", ChangeKind.Added, false);
        Assert.False(w2.IsCompleted);
        _notifier.Publish("g.txt", ChangeKind.Modified, false);
        Assert.Equal([(FileAction.Modified, "g.txt")], (await w2).Changes);
    }

    [Fact]
    public async Task Changes_between_requests_are_buffered_for_the_next_request()
    {
        using var watch = new DirectoryWatch(_notifier, "", Names, watchTree: false, 4096);
        var first = watch.WaitAsync(4096, default);
        _notifier.Publish("one", ChangeKind.Added, false);
        await first;
        _notifier.Publish("two", ChangeKind.Added, false);
        _notifier.Publish("two", ChangeKind.RenamedOldName, false);
        _notifier.Publish("three", ChangeKind.RenamedNewName, false);
        var second = watch.WaitAsync(4096, default);
        Assert.True(second.IsCompleted);
        Assert.Equal([(FileAction.Added, "two"), (FileAction.RenamedOldName, "two"), (FileAction.RenamedNewName, "three")], (await second).Changes);
    }

    [Fact]
    public async Task Too_many_buffered_changes_become_enum_dir_once()
    {
        using var watch = new DirectoryWatch(_notifier, "", Names, watchTree: false, 100);
        for (int i = 0; i < 20; i++) _notifier.Publish($"file{i}.txt", ChangeKind.Added, false);
        Assert.Equal(NtStatus.NotifyEnumDir, (await watch.WaitAsync(100, default)).Status);
        var next = watch.WaitAsync(100, default);
        Assert.False(next.IsCompleted);
        _notifier.Publish("x", ChangeKind.Added, false);
        Assert.Equal(NtStatus.Success, (await next).Status);
    }

    [Fact]
    public async Task Change_larger_than_the_request_buffer_is_enum_dir()
    {
        using var watch = new DirectoryWatch(_notifier, "", Names, watchTree: false, 0);
        var wait = watch.WaitAsync(0, default);
        _notifier.Publish("name", ChangeKind.Added, false);
        var result = await wait;
        Assert.Equal(NtStatus.NotifyEnumDir, result.Status);
        Assert.Empty(result.Changes);
    }

    [Fact]
    public async Task Close_completes_pending_requests_with_cleanup_and_stops_watching()
    {
        var watch = new DirectoryWatch(_notifier, "", Names, watchTree: false, 4096);
        var a = watch.WaitAsync(4096, default);
        var b = watch.WaitAsync(4096, default);
        Assert.Equal(1, _notifier.WatcherCount);
        watch.Dispose();
        Assert.Equal(NtStatus.NotifyCleanup, (await a).Status);
        Assert.Equal(NtStatus.NotifyCleanup, (await b).Status);
        Assert.Equal(0, _notifier.WatcherCount);
        Assert.Equal(NtStatus.NotifyCleanup, (await watch.WaitAsync(4096, default)).Status);
    }

    [Fact]
    public async Task Cancel_completes_only_that_request_and_later_changes_still_arrive()
    {
        using var watch = new DirectoryWatch(_notifier, "", Names, watchTree: false, 4096);
        using var cts = new CancellationTokenSource();
        var cancelled = watch.WaitAsync(4096, cts.Token);
        var other = watch.WaitAsync(4096, default);
        cts.Cancel();
        Assert.Equal(NtStatus.Cancelled, (await cancelled).Status);
        Assert.Equal(1, watch.PendingCount);
        _notifier.Publish("z", ChangeKind.Added, false);
        Assert.Equal([(FileAction.Added, "z")], (await other).Changes);
    }

    [Fact]
    public async Task Repeated_writes_are_reported_once_while_buffered()
    {
        using var watch = new DirectoryWatch(_notifier, "", CompletionFilter.Size, watchTree: false, 4096);
        for (int i = 0; i < 50; i++) _notifier.Publish("f", ChangeKind.Modified, false);
        Assert.Equal([(FileAction.Modified, "f")], (await watch.WaitAsync(4096, default)).Changes);
    }

    [Fact]
    public void Explicit_filter_bits_override_the_defaults()
    {
        using var watch = new DirectoryWatch(_notifier, "", CompletionFilter.Attributes, watchTree: false, 4096);
        var wait = watch.WaitAsync(4096, default);
        _notifier.Publish("f", ChangeKind.Modified, false);
        Assert.False(wait.IsCompleted);
        _notifier.Publish("f", ChangeKind.Modified, false, CompletionFilter.Attributes);
        Assert.True(wait.IsCompleted);
    }

    [Fact]
    public async Task Delete_pending_completes_pending_requests_but_keeps_watching()
    {
        using var watch = new DirectoryWatch(_notifier, "", Names, watchTree: false, 4096);
        var wait = watch.WaitAsync(4096, default);
        watch.CompletePending(NtStatus.DeletePending);
        Assert.Equal(NtStatus.DeletePending, (await wait).Status);
        _notifier.Publish("after", ChangeKind.Added, false);
        Assert.Equal([(FileAction.Added, "after")], (await watch.WaitAsync(4096, default)).Changes);
    }
}
