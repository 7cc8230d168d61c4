using System.Text;

namespace SmbCopy.Storage.Iscsi.Initiator;

/// <summary>
/// Text keys of Login and Text PDUs (RFC 7143 §6.1): "key=value\0" pairs, UTF-8, order preserved. Parsing is strict
/// about structure (every pair has '=', keys are non-empty, at most 63 characters) and lenient about a missing final
/// NUL.
/// </summary>
public sealed class TextKeys
{
    private readonly List<KeyValuePair<string, string>> _pairs = [];

    public IReadOnlyList<KeyValuePair<string, string>> Pairs => _pairs;

    public int Count => _pairs.Count;

    public TextKeys Add(string key, string value)
    {
        if (key.Length == 0 || key.Length > 63 || key.Contains('=') || key.Contains('\0'))
            throw new ArgumentException($"invalid key '{key}'", nameof(key));
        if (value.Contains('\0')) throw new ArgumentException("value contains NUL", nameof(value));
        _pairs.Add(new(key, value));
        return this;
    }

    /// <summary>The last value given for <paramref name="key"/>, or null.</summary>
    public string? Get(string key)
    {
        for (int i = _pairs.Count - 1; i >= 0; i--)
            if (_pairs[i].Key == key) return _pairs[i].Value;
        return null;
    }

    public bool Contains(string key) => Get(key) != null;

    public byte[] Encode()
    {
        var sb = new StringBuilder();
        foreach (var (k, v) in _pairs) sb.Append(k).Append('=').Append(v).Append('\0');
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    /// <exception cref="IscsiProtocolException">A pair without '=' or with an empty or too long key.</exception>
    public static TextKeys Parse(ReadOnlySpan<byte> data)
    {
        var keys = new TextKeys();
        while (data.Length > 0)
        {
            int end = data.IndexOf((byte)0);
            var pair = end < 0 ? data : data[..end];
            data = end < 0 ? default : data[(end + 1)..];
            if (pair.Length == 0) continue; // tolerate padding NULs
            int eq = pair.IndexOf((byte)'=');
            if (eq <= 0 || eq > 63) throw new IscsiProtocolException("malformed text key: " + Encoding.UTF8.GetString(pair));
            keys._pairs.Add(new(Encoding.UTF8.GetString(pair[..eq]), Encoding.UTF8.GetString(pair[(eq + 1)..])));
        }
        return keys;
    }

    public override string ToString() => string.Join(' ', _pairs.Select(p => p.Key.StartsWith("CHAP_", StringComparison.Ordinal)
        ? $"{p.Key}=***" : $"{p.Key}={p.Value}"));
}
