using SmbCopy.Gateway.Smb.Connection;

namespace SmbCopy.Gateway.Tests.Smb;

/// <summary>MS-SMB2 3.3.1.1/3.3.1.2: the MessageId window of a connection.</summary>
public sealed class CreditWindowTests
{
    [Fact]
    public void New_connection_allows_only_message_id_zero()
    {
        var w = new CreditWindow();
        Assert.False(w.TryConsume(1, 1));
        Assert.True(w.TryConsume(0, 1));
        Assert.False(w.TryConsume(0, 1)); // never twice
    }

    [Fact]
    public void Granted_credits_extend_the_window_and_ids_may_arrive_out_of_order()
    {
        var w = new CreditWindow();
        Assert.True(w.TryConsume(0, 1));
        Assert.Equal(10, w.Grant(10, 100, 1));
        Assert.Equal(10, w.Outstanding);
        Assert.True(w.TryConsume(5, 1));
        Assert.True(w.TryConsume(1, 1));
        Assert.False(w.TryConsume(11, 1)); // outside [1, 11)
        Assert.True(w.TryConsume(10, 1));
        Assert.False(w.TryConsume(5, 1));
        Assert.Equal(7, w.Outstanding);
    }

    [Fact]
    public void Multi_credit_request_consumes_consecutive_ids()
    {
        var w = new CreditWindow();
        Assert.True(w.TryConsume(0, 1));
        w.Grant(8, 100, 1);
        Assert.True(w.TryConsume(1, 4));           // ids 1..4
        Assert.False(w.TryConsume(3, 1));          // already used by the charge
        Assert.False(w.TryConsume(6, 4));          // 6..9 runs past the window end (9)
        Assert.True(w.TryConsume(5, 4));           // 5..8
        Assert.Equal(0, w.Outstanding);
    }

    [Fact]
    public void Grant_never_exceeds_the_maximum_but_never_strands_the_client()
    {
        var w = new CreditWindow();
        Assert.True(w.TryConsume(0, 1));
        Assert.Equal(5, w.Grant(100, 5, 1));
        Assert.Equal(0, w.Grant(100, 5, 1));       // already holds the maximum
        for (ulong id = 1; id <= 5; id++) Assert.True(w.TryConsume(id, 1));
        Assert.Equal(1, w.Grant(0, 5, 1));         // asked for none, holds none: one anyway
    }
}
