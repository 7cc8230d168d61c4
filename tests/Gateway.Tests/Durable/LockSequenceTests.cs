using SmbCopy.Gateway.Smb.Durable;

namespace SmbCopy.Gateway.Tests.Durable;

/// <summary>MS-SMB2 3.3.5.14 lock sequence verification (Open.LockSequenceArray).</summary>
public sealed class LockSequenceTests
{
    [Theory]
    [InlineData(0u, -1)]
    [InlineData(1u, 0)]
    [InlineData(64u, 63)]
    [InlineData(65u, -1)]
    [InlineData(0x1234567u, -1)]
    public void Only_indexes_1_to_64_name_a_bucket(uint index, int bucket) => Assert.Equal(bucket, LockSequenceTable.Bucket(index));

    [Fact]
    public void A_repeated_successful_lock_is_a_replay()
    {
        var table = new LockSequenceTable();
        Assert.False(table.BeginRequest(1, 1)); // first time: process it
        table.Succeeded(1, 1);
        Assert.True(table.BeginRequest(1, 1));  // same bucket and number: replay, answered without processing
        Assert.True(table.BeginRequest(1, 1));
    }

    [Fact]
    public void Another_number_in_the_bucket_is_processed_and_a_failure_leaves_the_bucket_empty()
    {
        var table = new LockSequenceTable();
        table.BeginRequest(1, 1);
        table.Succeeded(1, 1);
        Assert.False(table.BeginRequest(1, 2)); // new number: processed (and fails: LOCK_NOT_GRANTED, not recorded)
        Assert.False(table.BeginRequest(1, 2)); // still processed, the failure was not remembered
        Assert.False(table.BeginRequest(1, 1)); // and the old number was forgotten when 2 came
    }

    [Fact]
    public void Buckets_are_independent_and_invalid_indexes_never_replay()
    {
        var table = new LockSequenceTable();
        table.Succeeded(1, 1);
        Assert.False(table.BeginRequest(2, 1));
        table.Succeeded(0, 1);
        Assert.False(table.BeginRequest(0, 1));
        table.Succeeded(65, 1);
        Assert.False(table.BeginRequest(65, 1));
        Assert.True(table.BeginRequest(1, 1));
    }

    [Fact]
    public void Only_the_low_four_bits_of_the_number_count()
    {
        var table = new LockSequenceTable();
        table.Succeeded(64, 0x12);
        Assert.True(table.BeginRequest(64, 0x2));
    }

    [Fact]
    public void An_unlock_replay_is_ignored_like_smbtorture_replay_smb3_specification()
    {
        // lock 0x411 (bucket 65: unchecked) held; 0x402 unlocks (bucket 64, number 2); replayed 0x402 unlock and
        // 0x402 lock are both ignored; 0x403 is processed again.
        var table = new LockSequenceTable();
        Assert.False(table.BeginRequest(64, 2));
        table.Succeeded(64, 2);
        Assert.True(table.BeginRequest(64, 2));
        Assert.True(table.BeginRequest(64, 2));
        Assert.False(table.BeginRequest(64, 3));
    }
}
