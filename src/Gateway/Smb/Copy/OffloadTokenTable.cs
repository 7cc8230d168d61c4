using System.Collections.Concurrent;
using System.Security.Cryptography;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Storage;

namespace SmbCopy.Gateway.Smb.Copy;

/// <summary>
/// A token handed out by FSCTL_OFFLOAD_READ (MS-FSCC 2.1.11, 2.3.41): it stands for the bytes of
/// [<see cref="Offset"/>, <see cref="Offset"/> + <see cref="Length"/>) of the source as they were when it was made.
/// The data is read later through the creator's own open (so nobody reads more than the creator could), and only
/// while the range is unchanged: writes and size changes through the gateway invalidate it at once
/// (<see cref="CopyHooks.DataChanged"/>); changes made outside the gateway are caught by comparing the source's
/// change time and size when the token is used.
/// </summary>
public sealed class OffloadToken
{
    public required byte[] Id { get; init; }
    /// <summary>The open that made the token; its handle reads the data.</summary>
    public required FileOpen Source { get; init; }
    public required long Offset { get; init; }
    /// <summary>TransferLength announced (sector multiple).</summary>
    public required long Length { get; init; }
    /// <summary>Bytes of real data from <see cref="Offset"/> (the rest, up to <see cref="Length"/>, reads as zeros).</summary>
    public required long DataLength { get; init; }
    public required DateTime SourceChangeTime { get; init; }
    public required long SourceEndOfFile { get; init; }
    public required long ExpiresAtMs { get; init; }
    private int _invalid;
    public bool IsInvalid => Volatile.Read(ref _invalid) != 0;
    public void Invalidate() => Volatile.Write(ref _invalid, 1);
    public bool Covers(long offset, long length) =>
        length > 0 && offset < Offset + Length && Offset < (offset > long.MaxValue - length ? long.MaxValue : offset + length);
}

/// <summary>The server-wide table of live ODX tokens. Bounded: the oldest tokens go when it is full.</summary>
public static class OffloadTokenTable
{
    /// <summary>TokenType of our tokens: vendor-defined (not 0xFFFF0001–0xFFFFFFFF), "SMBC".</summary>
    public const uint TokenType = 0x534D4243;
    public const int MaxTokens = 4096;
    public static readonly TimeSpan DefaultTimeToLive = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan MaxTimeToLive = TimeSpan.FromMinutes(10);

    private static readonly ConcurrentDictionary<Key, OffloadToken> Tokens = new();

    /// <summary>Now, in the clock the expiry uses (tests may replace it).</summary>
    public static Func<long> NowMs { get; set; } = () => Environment.TickCount64;

    public static OffloadToken Create(FileOpen source, long offset, long length, long dataLength, FileMetadata snapshot, uint timeToLiveMs)
    {
        var ttl = timeToLiveMs == 0 ? DefaultTimeToLive : TimeSpan.FromMilliseconds(Math.Min(timeToLiveMs, MaxTimeToLive.TotalMilliseconds));
        if (Tokens.Count >= MaxTokens) Sweep(force: true);
        while (true)
        {
            var id = new byte[Protocol.Fscc.StorageOffloadToken.TokenIdSize];
            RandomNumberGenerator.Fill(id);
            var token = new OffloadToken
            {
                Id = id,
                Source = source,
                Offset = offset,
                Length = length,
                DataLength = dataLength,
                SourceChangeTime = snapshot.ChangeTime,
                SourceEndOfFile = snapshot.EndOfFile,
                ExpiresAtMs = NowMs() + (long)ttl.TotalMilliseconds,
            };
            if (Tokens.TryAdd(new Key(id), token)) return token;
        }
    }

    /// <summary>A live token (not expired, not invalidated), or null.</summary>
    public static OffloadToken? Find(uint tokenType, ReadOnlySpan<byte> id)
    {
        if (tokenType != TokenType || id.Length != Protocol.Fscc.StorageOffloadToken.TokenIdSize) return null;
        var key = new Key(id.ToArray());
        if (!Tokens.TryGetValue(key, out var token)) return null;
        if (token.IsInvalid || NowMs() >= token.ExpiresAtMs)
        {
            Tokens.TryRemove(key, out _);
            return null;
        }
        return token;
    }

    /// <summary>Invalidates the tokens whose source range [offset, offset + length) of this file overlaps.</summary>
    public static void Invalidate(IStorageVolume volume, ulong fileId, long offset, long length)
    {
        if (Tokens.IsEmpty) return;
        foreach (var (key, token) in Tokens)
        {
            if (!ReferenceEquals(token.Source.Volume, volume) || token.Source.Node.FileId != fileId) continue;
            if (!token.Covers(offset, length)) continue;
            token.Invalidate();
            Tokens.TryRemove(key, out _);
        }
    }

    /// <summary>Drops the tokens made through an open that closed (their data can no longer be read).</summary>
    public static void RemoveFor(FileOpen open)
    {
        if (Tokens.IsEmpty) return;
        foreach (var (key, token) in Tokens)
        {
            if (!ReferenceEquals(token.Source, open)) continue;
            token.Invalidate();
            Tokens.TryRemove(key, out _);
        }
    }

    public static int Count => Tokens.Count;

    private static void Sweep(bool force)
    {
        long now = NowMs();
        foreach (var (key, token) in Tokens)
            if (token.IsInvalid || now >= token.ExpiresAtMs) Tokens.TryRemove(key, out _);
        if (!force || Tokens.Count < MaxTokens) return;
        foreach (var (key, _) in Tokens.OrderBy(t => t.Value.ExpiresAtMs).Take(Tokens.Count - MaxTokens + MaxTokens / 8))
            Tokens.TryRemove(key, out _);
    }
}
