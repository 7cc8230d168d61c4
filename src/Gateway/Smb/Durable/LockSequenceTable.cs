namespace SmbCopy.Gateway.Smb.Durable;

/// <summary>
/// Open.LockSequenceArray (MS-SMB2 3.3.1.10, 3.3.5.14): 64 buckets, each holding the 4-bit sequence number of the
/// last successful LOCK that named it, or nothing. A LOCK whose bucket already holds its number is a replay
/// and succeeds without touching the locks; any other LOCK naming a bucket empties it first and fills it once it
/// succeeds. Index 0 and indexes above 64 are not checked. Thread-safe.
/// </summary>
public sealed class LockSequenceTable
{
    private const byte Invalid = 0xFF;
    private readonly byte[] _entries = Enumerable.Repeat(Invalid, 64).ToArray();
    private readonly object _gate = new();

    /// <summary>The bucket (0-based) of a LOCK's LockSequenceIndex, or -1 when the index is outside 1..64.</summary>
    public static int Bucket(uint lockSequenceIndex) => lockSequenceIndex is >= 1 and <= 64 ? (int)lockSequenceIndex - 1 : -1;

    /// <summary>
    /// Before processing a LOCK: true when it replays the last successful LOCK of its bucket (answer success, do
    /// nothing). Otherwise the bucket is emptied (3.3.5.14: "set ... Valid to FALSE") and false returned.
    /// </summary>
    public bool BeginRequest(uint lockSequenceIndex, byte lockSequenceNumber)
    {
        int bucket = Bucket(lockSequenceIndex);
        if (bucket < 0) return false;
        lock (_gate)
        {
            if (_entries[bucket] == (lockSequenceNumber & 0xF)) return true;
            _entries[bucket] = Invalid;
            return false;
        }
    }

    /// <summary>After a LOCK succeeded: its bucket remembers its sequence number.</summary>
    public void Succeeded(uint lockSequenceIndex, byte lockSequenceNumber)
    {
        int bucket = Bucket(lockSequenceIndex);
        if (bucket < 0) return;
        lock (_gate) _entries[bucket] = (byte)(lockSequenceNumber & 0xF);
    }
}
