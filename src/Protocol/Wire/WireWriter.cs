using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace SmbCopy.Protocol.Wire;

/// <summary>
/// Little-endian writer into a growable pooled buffer. Offsets written into headers are patched
/// with the Patch* methods once the position of the variable part is known.
/// </summary>
public sealed class WireWriter : IDisposable
{
    private byte[] _buffer;
    private int _length;

    public WireWriter(int initialCapacity = 256)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(16, initialCapacity));
    }

    public int Length => _length;
    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _length);
    public Span<byte> WrittenSpanMutable => _buffer.AsSpan(0, _length);
    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _length);

    public Span<byte> GetSpan(int count)
    {
        Ensure(count);
        var span = _buffer.AsSpan(_length, count);
        _length += count;
        return span;
    }

    /// <summary>Reserves <paramref name="count"/> bytes and returns them as memory (for async reads straight into the response).</summary>
    public Memory<byte> GetMemory(int count)
    {
        Ensure(count);
        var memory = _buffer.AsMemory(_length, count);
        _length += count;
        return memory;
    }

    /// <summary>Drops bytes written past <paramref name="length"/> (e.g. a short read).</summary>
    public void Truncate(int length)
    {
        if ((uint)length > (uint)_length) throw new ArgumentOutOfRangeException(nameof(length));
        _length = length;
    }

    public void WriteByte(byte value) => GetSpan(1)[0] = value;
    public void WriteUInt16(ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(GetSpan(2), value);
    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(GetSpan(4), value);
    public void WriteInt32(int value) => BinaryPrimitives.WriteInt32LittleEndian(GetSpan(4), value);
    public void WriteUInt64(ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(GetSpan(8), value);
    public void WriteInt64(long value) => BinaryPrimitives.WriteInt64LittleEndian(GetSpan(8), value);
    public void WriteUInt16BigEndian(ushort value) => BinaryPrimitives.WriteUInt16BigEndian(GetSpan(2), value);
    public void WriteUInt32BigEndian(uint value) => BinaryPrimitives.WriteUInt32BigEndian(GetSpan(4), value);
    public void WriteGuid(Guid value) => value.TryWriteBytes(GetSpan(16));
    public void WriteBytes(ReadOnlySpan<byte> bytes) => bytes.CopyTo(GetSpan(bytes.Length));
    public void WriteZeros(int count) => GetSpan(count).Clear();

    /// <summary>Writes UTF-16LE without a terminator; returns the byte count.</summary>
    public int WriteUtf16(string value)
    {
        int count = Encoding.Unicode.GetByteCount(value);
        Encoding.Unicode.GetBytes(value, GetSpan(count));
        return count;
    }

    /// <summary>Pads with zeros so that Length is a multiple of <paramref name="alignment"/>.</summary>
    public void Align(int alignment)
    {
        int pad = (alignment - (_length % alignment)) % alignment;
        WriteZeros(pad);
    }

    public void PatchUInt16(int offset, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(offset, 2), value);
    public void PatchUInt32(int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(offset, 4), value);

    public byte[] ToArray() => WrittenSpan.ToArray();

    private void Ensure(int extra)
    {
        if (_length + extra <= _buffer.Length) return;
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + extra));
        _buffer.AsSpan(0, _length).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }

    public void Dispose()
    {
        if (_buffer.Length == 0) return;
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
        _length = 0;
    }
}
