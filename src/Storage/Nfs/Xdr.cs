using System.Buffers.Binary;
using System.Text;

namespace SmbCopy.Storage.Nfs;

/// <summary>A reply from the server did not follow the protocol (truncated, lying lengths, unexpected values).</summary>
public sealed class NfsProtocolException(string message) : Exception(message);

/// <summary>
/// XDR encoder (RFC 4506): big-endian 4-byte units; opaque/string = length + bytes + zero padding to 4.
/// Grows its buffer; the record marking word is reserved at the front (see <see cref="RpcConnection"/>).
/// </summary>
internal sealed class XdrWriter
{
    private byte[] _buffer;
    private int _length;

    public XdrWriter(int capacity = 512) => _buffer = new byte[Math.Max(capacity, 64)];

    public int Length => _length;
    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);
    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _length);

    public void Reset() => _length = 0;

    private Span<byte> Take(int n)
    {
        if (_length + n > _buffer.Length)
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + n));
        var s = _buffer.AsSpan(_length, n);
        _length += n;
        return s;
    }

    public XdrWriter U32(uint v) { BinaryPrimitives.WriteUInt32BigEndian(Take(4), v); return this; }
    public XdrWriter I32(int v) => U32(unchecked((uint)v));
    public XdrWriter U64(ulong v) { BinaryPrimitives.WriteUInt64BigEndian(Take(8), v); return this; }
    public XdrWriter I64(long v) => U64(unchecked((ulong)v));
    public XdrWriter Bool(bool v) => U32(v ? 1u : 0u);

    /// <summary>Fixed-length opaque: the bytes then padding.</summary>
    public XdrWriter Fixed(ReadOnlySpan<byte> data)
    {
        int pad = (4 - (data.Length & 3)) & 3;
        var s = Take(data.Length + pad);
        data.CopyTo(s);
        s[data.Length..].Clear();
        return this;
    }

    public XdrWriter Opaque(ReadOnlySpan<byte> data) { U32((uint)data.Length); return Fixed(data); }

    public XdrWriter String(string s)
    {
        int n = Encoding.UTF8.GetByteCount(s);
        U32((uint)n);
        int pad = (4 - (n & 3)) & 3;
        var span = Take(n + pad);
        Encoding.UTF8.GetBytes(s, span);
        span[n..].Clear();
        return this;
    }

    public XdrWriter Bitmap(ReadOnlySpan<uint> words)
    {
        int n = words.Length;
        while (n > 0 && words[n - 1] == 0) n--;
        U32((uint)n);
        for (int i = 0; i < n; i++) U32(words[i]);
        return this;
    }

    /// <summary>Reserves <paramref name="n"/> bytes to patch later (returns their offset).</summary>
    public int Reserve(int n) { int at = _length; Take(n).Clear(); return at; }

    public void PatchU32(int offset, uint v) => BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(offset, 4), v);
}

/// <summary>Bounds-checked XDR decoder over one reply; every read that would pass the end throws <see cref="NfsProtocolException"/>.</summary>
internal sealed class XdrReader
{
    private readonly byte[] _data;
    private readonly int _end;
    private int _position;

    public XdrReader(byte[] data, int offset, int length)
    {
        _data = data;
        _position = offset;
        _end = offset + length;
    }

    public XdrReader(byte[] data) : this(data, 0, data.Length) { }

    public int Position => _position;
    public int Remaining => _end - _position;
    public byte[] Buffer => _data;

    private int Take(int n, string what)
    {
        if (n < 0 || n > _end - _position)
            throw new NfsProtocolException($"Malformed NFS reply: {what} needs {n} bytes at offset {_position}, {_end - _position} left.");
        int at = _position;
        _position += n;
        return at;
    }

    public uint U32(string what = "uint32") => BinaryPrimitives.ReadUInt32BigEndian(_data.AsSpan(Take(4, what), 4));
    public int I32(string what = "int32") => unchecked((int)U32(what));
    public ulong U64(string what = "uint64") => BinaryPrimitives.ReadUInt64BigEndian(_data.AsSpan(Take(8, what), 8));
    public long I64(string what = "int64") => unchecked((long)U64(what));

    public bool Bool(string what = "bool")
    {
        uint v = U32(what);
        return v switch
        {
            0 => false,
            1 => true,
            _ => throw new NfsProtocolException($"Malformed NFS reply: {what} is {v}, not a boolean."),
        };
    }

    /// <summary>Fixed-length opaque (with padding); the returned span aliases the reply buffer.</summary>
    public ReadOnlySpan<byte> FixedSpan(int n, string what = "opaque")
    {
        int padded = n + ((4 - (n & 3)) & 3);
        int at = Take(padded, what);
        return _data.AsSpan(at, n);
    }

    public byte[] Fixed(int n, string what = "opaque") => FixedSpan(n, what).ToArray();

    /// <summary>Variable-length opaque with an upper bound.</summary>
    public ReadOnlySpan<byte> OpaqueSpan(int max = int.MaxValue, string what = "opaque")
    {
        uint n = U32(what + " length");
        if (n > (uint)max || n > (uint)Remaining)
            throw new NfsProtocolException($"Malformed NFS reply: {what} length {n} exceeds its bound or the reply.");
        return FixedSpan((int)n, what);
    }

    public byte[] Opaque(int max = int.MaxValue, string what = "opaque") => OpaqueSpan(max, what).ToArray();

    /// <summary>Location (offset, length) of a variable-length opaque in <see cref="Buffer"/>, without copying.</summary>
    public (int Offset, int Length) OpaqueRange(int max, string what)
    {
        uint n = U32(what + " length");
        if (n > (uint)max || n > (uint)Remaining)
            throw new NfsProtocolException($"Malformed NFS reply: {what} length {n} exceeds its bound or the reply.");
        int padded = (int)n + ((4 - ((int)n & 3)) & 3);
        int at = Take(padded, what);
        return (at, (int)n);
    }

    public string String(int max = 8192, string what = "string") => Encoding.UTF8.GetString(OpaqueSpan(max, what));

    public uint[] Bitmap(string what = "bitmap")
    {
        uint n = U32(what + " length");
        if (n > 16)
            throw new NfsProtocolException($"Malformed NFS reply: {what} has {n} words.");
        var words = new uint[n];
        for (int i = 0; i < n; i++) words[i] = U32(what);
        return words;
    }

    public void Skip(int n, string what = "field") => Take(n, what);

    /// <summary>A sub-reader over the next <paramref name="n"/> bytes (for fattr4 attribute lists).</summary>
    public XdrReader Slice(int n, string what)
    {
        int at = Take(n, what);
        return new XdrReader(_data, at, n);
    }
}
