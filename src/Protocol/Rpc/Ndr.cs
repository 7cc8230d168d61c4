using System.Text;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Rpc;

/// <summary>
/// NDR 2.0 (C706 ch. 14) marshalling of the little that srvsvc needs, little-endian: uint32 aligned to 4
/// relative to the stub start, unique pointers as referent ids (0x00020000 upwards, step 4, as Windows
/// and Samba use), [string] wchar_t* as conformant varying arrays (max_count, offset 0, actual_count,
/// UTF-16LE including the NUL). Embedded pointees are queued with <see cref="StringPointer"/> and
/// written by <see cref="WriteDeferred"/> after the enclosing construct's scalars, which is the NDR
/// order for a struct or for an array of structs.
/// </summary>
internal sealed class NdrWriter : IDisposable
{
    private readonly WireWriter _writer = new(512);
    private readonly List<string> _deferred = [];
    private uint _nextReferent = 0x00020000;

    public int Length => _writer.Length;

    public void UInt32(uint value)
    {
        _writer.Align(4);
        _writer.WriteUInt32(value);
    }

    /// <summary>A non-null unique pointer whose pointee the caller writes next (at the deferred point).</summary>
    public void Referent() => UInt32(NextReferent());

    public void Null() => UInt32(0);

    /// <summary>Unique pointer to a [string] wchar_t; the string itself goes out with <see cref="WriteDeferred"/>.</summary>
    public void StringPointer(string? value)
    {
        if (value is null)
        {
            Null();
            return;
        }
        Referent();
        _deferred.Add(value);
    }

    public void WriteDeferred()
    {
        foreach (var s in _deferred) ConformantVaryingString(s);
        _deferred.Clear();
    }

    public void ConformantVaryingString(string value)
    {
        uint units = (uint)(Encoding.Unicode.GetByteCount(value) / 2 + 1);
        UInt32(units);      // maximum count
        UInt32(0);          // offset
        UInt32(units);      // actual count
        _writer.WriteUtf16(value);
        _writer.WriteUInt16(0);
    }

    public byte[] ToArray() => _writer.ToArray();

    private uint NextReferent()
    {
        uint id = _nextReferent;
        _nextReferent += 4;
        return id;
    }

    public void Dispose() => _writer.Dispose();
}

/// <summary>
/// NDR 2.0 reader over an untrusted request stub. Every count is checked against what is left before
/// anything is allocated; violations throw <see cref="MalformedMessageException"/>.
/// </summary>
internal ref struct NdrReader
{
    private WireReader _reader;

    public NdrReader(ReadOnlySpan<byte> stub) => _reader = new WireReader(stub);

    public readonly int Remaining => _reader.Remaining;

    public void Align(int alignment)
    {
        int pad = (alignment - _reader.Position % alignment) % alignment;
        _reader.Skip(pad);
    }

    public uint UInt32()
    {
        Align(4);
        return _reader.ReadUInt32();
    }

    /// <summary>[in,unique] [string] wchar_t*: referent id, then the string if non-null.</summary>
    public string? UniqueString()
    {
        uint referent = UInt32();
        return referent == 0 ? null : ConformantVaryingString();
    }

    /// <summary>[string] wchar_t[]: max_count, offset, actual_count, UTF-16LE units. The terminating NUL is removed.</summary>
    public string ConformantVaryingString()
    {
        uint max = UInt32();
        uint offset = UInt32();
        uint actual = UInt32();
        if (offset != 0 || actual > max || (long)actual * 2 > _reader.Remaining)
            throw new MalformedMessageException($"bad NDR string: max {max} offset {offset} actual {actual}");
        var text = WireReader.Utf16(_reader.ReadBytes((int)actual * 2));
        int nul = text.IndexOf('\0');
        return nul >= 0 ? text[..nul] : text;
    }

    /// <summary>Conformant array of bytes (e.g. a security descriptor): max_count then the bytes; skipped.</summary>
    public void SkipConformantByteArray()
    {
        uint max = UInt32();
        if (max > _reader.Remaining) throw new MalformedMessageException($"byte array of {max} past the stub");
        _reader.Skip((int)max);
    }
}
