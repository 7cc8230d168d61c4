namespace SmbCopy.Gateway.Smb.Connection;

/// <summary>
/// The MessageId window of one connection (MS-SMB2 3.3.1.1, 3.3.1.2, 3.3.5.2.3). A new connection may
/// use id 0 only; each credit granted extends the window by one id. Ids may arrive out of order but
/// never twice. Thread-safe.
/// </summary>
public sealed class CreditWindow
{
    private readonly object _gate = new();
    private readonly HashSet<ulong> _usedAboveLow = [];
    private ulong _low;            // lowest id not yet used
    private ulong _high = 1;       // one past the highest id the client may use

    /// <summary>Credits the client holds: ids it may still use.</summary>
    public long Outstanding
    {
        get { lock (_gate) return (long)(_high - _low) - _usedAboveLow.Count; }
    }

    /// <summary>Consumes [messageId, messageId + charge). False when any id is outside the window or reused.</summary>
    public bool TryConsume(ulong messageId, ushort charge)
    {
        ulong count = Math.Max((ushort)1, charge);
        lock (_gate)
        {
            if (messageId < _low || messageId > ulong.MaxValue - count || messageId + count > _high) return false;
            for (ulong id = messageId; id < messageId + count; id++)
                if (_usedAboveLow.Contains(id)) return false;
            for (ulong id = messageId; id < messageId + count; id++) _usedAboveLow.Add(id);
            while (_usedAboveLow.Remove(_low)) _low++;
            return true;
        }
    }

    /// <summary>
    /// Grants up to <paramref name="requested"/> credits (at least one when the client would otherwise
    /// be left with none, 3.3.1.2) without letting the client hold more than <paramref name="maximum"/>.
    /// </summary>
    public ushort Grant(ushort requested, int maximum, ushort charge)
    {
        lock (_gate)
        {
            long outstanding = (long)(_high - _low) - _usedAboveLow.Count;
            long want = Math.Max((long)requested, 1);
            // A client asking for fewer credits than it just spent is shrinking its window: honour it,
            // but never strand it at zero.
            long room = Math.Max(0, maximum - outstanding);
            long grant = Math.Min(want, room);
            if (grant == 0 && outstanding == 0) grant = 1;
            _ = charge;
            _high += (ulong)grant;
            return (ushort)grant;
        }
    }
}
