using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using SmbCopy.Gateway.Smb.Files;

namespace SmbCopy.Gateway.Smb.Copy;

/// <summary>
/// Server-wide resume keys (MS-SMB2 3.3.5.15.5): 24 random bytes naming an open for FSCTL_SRV_COPYCHUNK(_WRITE).
/// One key per open (asking twice returns the same key); the key dies with the open (<see cref="CopyHooks.OpenClosed"/>).
/// </summary>
public static class ResumeKeyTable
{
    public const int KeySize = 24;

    private static readonly ConcurrentDictionary<Key, FileOpen> Opens = new();
    private static readonly ConditionalWeakTable<FileOpen, byte[]> Keys = new();
    private static readonly object Gate = new();

    /// <summary>The open's key, created on first request.</summary>
    public static byte[] GetOrCreate(FileOpen open)
    {
        lock (Gate)
        {
            if (Keys.TryGetValue(open, out var existing)) return existing;
            var bytes = new byte[KeySize];
            do RandomNumberGenerator.Fill(bytes);
            while (!Opens.TryAdd(new Key(bytes), open));
            Keys.Add(open, bytes);
            return bytes;
        }
    }

    /// <summary>The open a key names, or null (unknown key, or the open was closed).</summary>
    public static FileOpen? Find(ReadOnlySpan<byte> key) =>
        key.Length == KeySize && Opens.TryGetValue(new Key(key.ToArray()), out var open) ? open : null;

    /// <summary>Forgets the open's key (called when the open closes).</summary>
    public static void Remove(FileOpen open)
    {
        lock (Gate)
        {
            if (!Keys.TryGetValue(open, out var bytes)) return;
            Keys.Remove(open);
            Opens.TryRemove(new KeyValuePair<Key, FileOpen>(new Key(bytes), open));
        }
    }

    public static int Count => Opens.Count;
}

/// <summary>Opaque bytes compared by value (resume keys, token ids).</summary>
internal readonly struct Key(byte[] bytes) : IEquatable<Key>
{
    private readonly byte[] _bytes = bytes;
    public bool Equals(Key other) => _bytes.AsSpan().SequenceEqual(other._bytes);
    public override bool Equals(object? obj) => obj is Key k && Equals(k);
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.AddBytes(_bytes);
        return h.ToHashCode();
    }
}
