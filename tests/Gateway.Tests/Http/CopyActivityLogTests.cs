using SmbCopy.Gateway.Observability;
using SmbCopy.Storage;
using SmbCopy.Storage.Copy;

namespace SmbCopy.Gateway.Tests.Http;

public sealed class CopyActivityLogTests
{
    private sealed class ManualTime : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static CopyOrigin Origin(string share = "data", ulong session = 7, ulong src = 1, ulong dst = 2, string kind = "COPYCHUNK") =>
        new(kind, share, share, "a.bin", "b.bin", "WORKGROUP\\alice", "127.0.0.1:5000", session, src, dst);

    private static CopyResult Result(long bytes, CopyMethod method, CopyFallbackReason reason = CopyFallbackReason.None) =>
        new(bytes, method, reason, reason == CopyFallbackReason.None ? [] : [new CopyFallback(CopyMethod.Clone, reason)], TimeSpan.FromMilliseconds(3));

    [Fact]
    public async Task A_copy_is_in_flight_while_it_runs_then_recent_with_method_bytes_and_reason()
    {
        var log = new CopyActivityLog(new ManualTime());
        var gate = new TaskCompletionSource<CopyResult>();
        var running = log.RunAsync(Origin(), 1000, () => new ValueTask<CopyResult>(gate.Task));

        var during = log.Snapshot();
        var inFlight = Assert.Single(during.InFlight);
        Assert.Empty(during.Recent);
        Assert.Equal(1000, inFlight.BytesRequested);

        gate.SetResult(Result(1000, CopyMethod.Offload, CopyFallbackReason.CloneUnsupported));
        await running;

        var after = log.Snapshot();
        Assert.Empty(after.InFlight);
        var copy = Assert.Single(after.Recent);
        Assert.Equal(("offload", 1000L, "clone_unsupported", 1), (copy.Methods, copy.BytesCopied, copy.FallbackReason, copy.Calls));
        Assert.Null(copy.Error);
        var totals = Assert.Single(after.Totals);
        Assert.Equal(("data", 0L, 1000L, 0L), (totals.Share, totals.Cloned, totals.Offload, totals.Streamed));
        Assert.Equal(1.0, totals.OffloadedFraction);
    }

    [Fact]
    public async Task Chunks_between_the_same_opens_make_one_row_and_other_opens_a_new_one()
    {
        var time = new ManualTime();
        var log = new CopyActivityLog(time);
        await log.RunAsync(Origin(), 10, () => ValueTask.FromResult(Result(10, CopyMethod.Offload)));
        time.Now += TimeSpan.FromSeconds(1);
        await log.RunAsync(Origin(), 20, () => ValueTask.FromResult(Result(20, CopyMethod.Streamed, CopyFallbackReason.RangeCopyRefused)));
        await log.RunAsync(Origin(dst: 3), 5, () => ValueTask.FromResult(Result(5, CopyMethod.Clone)));
        time.Now += CopyActivityLog.MergeWindow + TimeSpan.FromSeconds(1);
        await log.RunAsync(Origin(dst: 3), 6, () => ValueTask.FromResult(Result(6, CopyMethod.Clone)));

        var recent = log.Snapshot().Recent;
        Assert.Equal(3, recent.Count);
        Assert.Equal((6L, "clone"), (recent[0].BytesCopied, recent[0].Methods)); // after the merge window: a new row
        Assert.Equal((5L, "clone"), (recent[1].BytesCopied, recent[1].Methods));
        Assert.Equal((30L, 2, "offload+streamed", "range_copy_refused"), (recent[2].BytesCopied, recent[2].Calls, recent[2].Methods, recent[2].FallbackReason));
        var totals = Assert.Single(log.Snapshot().Totals);
        Assert.Equal((11L, 10L, 20L), (totals.Cloned, totals.Offload, totals.Streamed));
    }

    [Fact]
    public async Task Failures_are_kept_by_kind_only_and_rethrown()
    {
        var log = new CopyActivityLog(new ManualTime());
        var failed = Result(4, CopyMethod.Streamed) with { Error = new StorageException(StorageError.NoSpace, "/srv/secret-path is full") };
        await log.RunAsync(Origin(), 8, () => ValueTask.FromResult(failed));
        await Assert.ThrowsAsync<StorageException>(async () => await log.RunAsync(Origin(src: 9), 8,
            () => ValueTask.FromException<CopyResult>(new StorageException(StorageError.NotSupported, "no clone at /srv/secret-path"))));

        var recent = log.Snapshot().Recent;
        Assert.Equal("NotSupported", recent[0].Error);
        Assert.Equal(("NoSpace", 4L), (recent[1].Error, recent[1].BytesCopied));
        Assert.DoesNotContain(recent, r => r.Error!.Contains("secret", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Keeps_the_most_recent_rows_up_to_its_capacity()
    {
        var log = new CopyActivityLog(new ManualTime(), capacity: 3);
        for (ulong i = 1; i <= 5; i++)
        {
            await log.RunAsync(Origin(dst: 100 + i), (long)i, () => ValueTask.FromResult(Result(1, CopyMethod.Offload)));
        }
        Assert.Equal([5L, 4L, 3L], log.Snapshot().Recent.Select(r => r.BytesRequested));
        Assert.Equal(5L, Assert.Single(log.Snapshot().Totals).Offload);
    }
}
