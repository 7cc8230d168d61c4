using System.Buffers.Binary;
using System.Text;

namespace SmbCopy.Protocol.Wire;

/// <summary>
/// Bounds-checked little-endian reader over untrusted bytes. Every read that would run past the end
/// throws <see cref="MalformedMessageException"/>, which the gateway turns into STATUS_INVALID_PARAMETER
/// (or a disconnect where the spec demands one). No offset or length from the wire is used without it.
/// </summary>
public ref struct WireReader
{
    private readonly ReadOnlySpan<byte> _buffer;
    private int _position;

    public WireReader(ReadOnlySpan<byte> buffer)
    {
        _buffer = buffer;
        _position = 0;
    }

    public readonly int Position => _position;
    public readonly int Remaining => _buffer.Length - _position;
    public readonly ReadOnlySpan<byte> Buffer => _buffer;

    public void Seek(int position)
    {
        if ((uint)position > (uint)_buffer.Length) throw new MalformedMessageException($"seek to {position} past {_buffer.Length}");
        _position = position;
    }

    public void Skip(int count) => Seek(checked(_position + count));

    public byte ReadByte() => Take(1)[0];
    public ushort ReadUInt16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));
    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
    public int ReadInt32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));
    public ulong ReadUInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));
    public long ReadInt64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));
    public ushort ReadUInt16BigEndian() => BinaryPrimitives.ReadUInt16BigEndian(Take(2));
    public uint ReadUInt32BigEndian() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));
    public Guid ReadGuid() => new(Take(16));
    public ReadOnlySpan<byte> ReadBytes(int count) => Take(count);

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || count > Remaining)
            throw new MalformedMessageException($"need {count} bytes at {_position}, have {Remaining}");
        var span = _buffer.Slice(_position, count);
        _position += count;
        return span;
    }

    /// <summary>Slice [offset, offset+length) of <paramref name="buffer"/>, checked. Offset 0 with length 0 is the empty slice.</summary>
    public static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> buffer, long offset, long length)
    {
        if (length == 0) return ReadOnlySpan<byte>.Empty;
        if (offset < 0 || length < 0 || offset > buffer.Length || length > buffer.Length - offset)
            throw new MalformedMessageException($"range {offset}+{length} outside {buffer.Length} bytes");
        return buffer.Slice((int)offset, (int)length);
    }

    /// <summary>Same check as <see cref="Slice(ReadOnlySpan{byte}, long, long)"/> for memory slices.</summary>
    public static ReadOnlyMemory<byte> Slice(ReadOnlyMemory<byte> buffer, long offset, long length)
    {
        if (length == 0) return ReadOnlyMemory<byte>.Empty;
        if (offset < 0 || length < 0 || offset > buffer.Length || length > buffer.Length - offset)
            throw new MalformedMessageException($"range {offset}+{length} outside {buffer.Length} bytes");
        return buffer.Slice((int)offset, (int)length);
    }

    public static string Utf16(ReadOnlySpan<byte> bytes)
    {
        if ((bytes.Length & 1) != 0) throw new MalformedMessageException("odd UTF-16 length");
        return Encoding.Unicode.GetString(bytes);
    }
}

/// <summary>A message whose fields contradict its length. Never escapes the connection loop.</summary>
public sealed class MalformedMessageException(string message) : Exception(message);
