using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Gateway.Smb.Handlers;
using SmbCopy.Protocol.Smb2.Messages;

namespace SmbCopy.Gateway.Tests.Locks;

/// <summary>
/// The byte-range lock rules of MS-FSA 2.1.4.10 / 2.1.5.8 / 2.1.5.9 as Windows applies them (the cases mirror
/// smbtorture smb2.lock: stacking, zerobytelength, errorcode, unlock, range, rw-shared/rw-exclusive).
/// </summary>
public sealed class ByteRangeLockTests
{
    private readonly FileNode _node = new(new FileNodeTable(), 1);
    private readonly object _h1 = new();
    private readonly object _h2 = new();

    private bool Lock(object owner, ulong offset, ulong length, bool exclusive)
    {
        lock (_node.Gate) return _node.TryLock(new ByteRangeLock(owner, offset, length, exclusive));
    }

    private bool Unlock(object owner, ulong offset, ulong length)
    {
        lock (_node.Gate) return _node.Unlock(owner, offset, length);
    }

    [Fact]
    public void Shared_locks_stack_on_the_same_and_on_other_opens()
    {
        Assert.True(Lock(_h1, 0, 10, exclusive: false));
        Assert.True(Lock(_h1, 0, 10, exclusive: false));
        Assert.True(Lock(_h2, 5, 10, exclusive: false));
    }

    [Fact]
    public void Shared_lock_stacks_on_own_exclusive_but_not_on_another_opens()
    {
        Assert.True(Lock(_h1, 0, 10, exclusive: true));
        Assert.True(Lock(_h1, 0, 10, exclusive: false));
        Assert.False(Lock(_h2, 0, 10, exclusive: false));
    }

    [Fact]
    public void Exclusive_never_stacks_even_on_the_same_open()
    {
        Assert.True(Lock(_h1, 0, 10, exclusive: true));
        Assert.False(Lock(_h1, 0, 10, exclusive: true));
        Assert.False(Lock(_h1, 5, 1, exclusive: true));
        Assert.True(Lock(_h1, 10, 10, exclusive: true)); // adjacent, no overlap
    }

    [Fact]
    public void Exclusive_over_own_shared_lock_conflicts()
    {
        Assert.True(Lock(_h1, 0, 10, exclusive: false));
        Assert.False(Lock(_h1, 0, 10, exclusive: true));
    }

    // smbtorture smb2.lock.zerobytelength: a zero-length lock at 10 against a second lock (either order, any open).
    [Theory]
    [InlineData(10UL, 0UL, true)]
    [InlineData(9UL, 1UL, true)]
    [InlineData(10UL, 1UL, true)]
    [InlineData(11UL, 1UL, true)]
    [InlineData(9UL, 2UL, false)]
    [InlineData(10UL, 2UL, true)]
    [InlineData(9UL, 3UL, false)]
    public void Zero_length_lock_conflicts_only_with_a_range_straddling_it(ulong offset, ulong length, bool granted)
    {
        Assert.True(Lock(_h1, 10, 0, exclusive: true));
        Assert.Equal(granted, Lock(_h2, offset, length, exclusive: true));

        var other = new FileNode(new FileNodeTable(), 2);
        lock (other.Gate)
        {
            Assert.True(other.TryLock(new ByteRangeLock(_h1, offset, length, Exclusive: true)));
            Assert.Equal(granted, other.TryLock(new ByteRangeLock(_h2, 10, 0, Exclusive: true)));
        }
    }

    [Fact]
    public void Zero_zero_and_max_zero_locks_never_conflict()
    {
        Assert.True(Lock(_h1, 0, 0, exclusive: true));
        Assert.True(Lock(_h2, 0, 0, exclusive: true));
        Assert.True(Lock(_h1, ulong.MaxValue, 0, exclusive: true));
        Assert.True(Lock(_h2, ulong.MaxValue, 0, exclusive: true));
        Assert.True(Lock(_h2, 0, 100, exclusive: true)); // {0,0} overlaps nothing
    }

    [Fact]
    public void Lock_reaching_the_last_byte_is_valid_and_conflicts()
    {
        Assert.True(FileNode.IsValidRange(ulong.MaxValue, 1));
        Assert.True(Lock(_h1, ulong.MaxValue, 1, exclusive: true));
        Assert.False(Lock(_h2, ulong.MaxValue, 1, exclusive: true));
        Assert.False(Lock(_h2, ulong.MaxValue - 9, 10, exclusive: false));
    }

    [Theory]
    [InlineData(ulong.MaxValue, 2UL, false)]
    [InlineData(ulong.MaxValue, ulong.MaxValue, false)]
    [InlineData(2UL, ulong.MaxValue, false)]
    [InlineData(1UL, ulong.MaxValue, true)]
    [InlineData(0UL, ulong.MaxValue, true)]
    [InlineData(ulong.MaxValue, 0UL, true)]
    [InlineData(0xFFFFFFFFUL, 0xFFFFFFFFUL, true)]
    public void Ranges_past_the_64_bit_end_are_invalid(ulong offset, ulong length, bool valid) =>
        Assert.Equal(valid, FileNode.IsValidRange(offset, length));

    [Fact]
    public void Unlock_needs_the_exact_range_and_owner()
    {
        Assert.True(Lock(_h1, 110, 4, exclusive: false));
        Assert.True(Lock(_h1, 112, 4, exclusive: false));
        Assert.False(Unlock(_h1, 110, 6)); // no coalescing
        Assert.False(Unlock(_h2, 110, 4)); // another open's lock
        Assert.True(Unlock(_h1, 110, 4));
        Assert.False(Unlock(_h1, 110, 4));
    }

    [Fact]
    public void Unlock_removes_the_exclusive_of_a_stack_first()
    {
        Assert.True(Lock(_h1, 10, 10, exclusive: true));
        Assert.True(Lock(_h1, 10, 10, exclusive: false));
        Assert.False(Lock(_h2, 5, 10, exclusive: false));
        Assert.True(Unlock(_h1, 10, 10));
        Assert.True(Lock(_h2, 5, 10, exclusive: false)); // only the shared one is left
        Assert.False(Lock(_h2, 5, 10, exclusive: true));
    }

    [Fact]
    public void Io_rules_shared_blocks_every_write_exclusive_blocks_other_opens()
    {
        Assert.True(Lock(_h1, 0, 100, exclusive: false));
        Assert.True(_node.IoConflicts(_h1, 50, 10, write: true));
        Assert.True(_node.IoConflicts(_h2, 50, 10, write: true));
        Assert.False(_node.IoConflicts(_h2, 50, 10, write: false));

        Assert.True(Lock(_h1, 100, 100, exclusive: true));
        Assert.False(_node.IoConflicts(_h1, 100, 100, write: true));
        Assert.False(_node.IoConflicts(_h1, 100, 100, write: false));
        Assert.True(_node.IoConflicts(_h2, 150, 1, write: false));
        Assert.True(_node.IoConflicts(_h2, 199, 10, write: true));
        Assert.False(_node.IoConflicts(_h2, 200, 10, write: true));
        Assert.False(_node.IoConflicts(_h2, 150, 0, write: false)); // zero-byte read
    }

    [Theory]
    [InlineData(LockFlags.Shared, true)]
    [InlineData(LockFlags.Exclusive, true)]
    [InlineData(LockFlags.Shared | LockFlags.FailImmediately, true)]
    [InlineData(LockFlags.Exclusive | LockFlags.FailImmediately, true)]
    [InlineData(LockFlags.None, false)]
    [InlineData(LockFlags.FailImmediately, false)]
    [InlineData(LockFlags.Shared | LockFlags.Exclusive, false)]
    [InlineData(LockFlags.Unlock, false)]
    [InlineData(LockFlags.Unlock | LockFlags.Shared, false)]
    [InlineData((LockFlags)0x20 | LockFlags.Shared, false)]
    public void Only_the_four_lock_combinations_are_legal(LockFlags flags, bool legal) =>
        Assert.Equal(legal, LockHandler.IsLegalLockFlags(flags));

    [Fact]
    public void Released_event_reaches_subscribers()
    {
        int calls = 0;
        _node.LocksReleased += () => calls++;
        _node.NotifyLocksReleased();
        Assert.Equal(1, calls);
    }
}
