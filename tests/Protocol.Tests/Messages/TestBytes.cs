using System.Buffers.Binary;
using System.Text;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Tests.Messages;

/// <summary>Independent little-endian byte builder for hand-made layouts (does not use WireWriter).</summary>
public sealed class Bytes
{
    private readonly List<byte> _b = [];
    public int Length => _b.Count;
    public Bytes U8(int v) { _b.Add((byte)v); return this; }
    public Bytes U16(int v) { var t = new byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(t, (ushort)v); _b.AddRange(t); return this; }
    public Bytes U32(uint v) { var t = new byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(t, v); _b.AddRange(t); return this; }
    public Bytes U64(ulong v) { var t = new byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(t, v); _b.AddRange(t); return this; }
    public Bytes I64(long v) => U64((ulong)v);
    public Bytes U16BE(int v) { _b.Add((byte)(v >> 8)); _b.Add((byte)v); return this; }
    public Bytes U32BE(uint v) { _b.Add((byte)(v >> 24)); _b.Add((byte)(v >> 16)); _b.Add((byte)(v >> 8)); _b.Add((byte)v); return this; }
    public Bytes Raw(params byte[] bytes) { _b.AddRange(bytes); return this; }
    public Bytes Zeros(int n) { for (int i = 0; i < n; i++) _b.Add(0); return this; }
    public Bytes Utf16(string s) { _b.AddRange(Encoding.Unicode.GetBytes(s)); return this; }
    public Bytes Ascii(string s) { _b.AddRange(Encoding.ASCII.GetBytes(s)); return this; }
    public Bytes Guid(Guid g) { _b.AddRange(g.ToByteArray()); return this; }
    public Bytes PadTo(int alignment) { while (_b.Count % alignment != 0) _b.Add(0); return this; }
    public byte[] ToArray() => [.. _b];

    /// <summary>A 64-byte SMB2 request header for <paramref name="command"/> followed by <paramref name="body"/>.</summary>
    public static byte[] Message(Smb2Command command, Bytes body)
    {
        var header = new Smb2Header { Command = command, MessageId = 7, TreeId = 1, SessionId = 0x1122334455667788 };
        var message = new byte[Smb2Header.Size + body.Length];
        header.WriteTo(message);
        body.ToArray().CopyTo(message, Smb2Header.Size);
        return message;
    }

    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "").Replace("\n", "").Replace("\r", ""));

    public static byte[] Write(Action<WireWriter> write)
    {
        using var w = new WireWriter();
        write(w);
        return w.ToArray();
    }
}

/// <summary>Randomized mutation: parsers over mutated input may succeed or throw MalformedMessageException, nothing else.</summary>
public static class Mutation
{
    public static void OnlyMalformed(byte[] valid, Action<ReadOnlyMemory<byte>> parse, int iterations = 2000, int seed = 12345, int protectPrefix = 0)
    {
        parse(valid); // the seed message itself must parse
        var rng = new Random(seed);
        int malformed = 0;
        for (int i = 0; i < iterations; i++)
        {
            byte[] m = Mutate(valid, rng, protectPrefix);
            try
            {
                parse(m);
            }
            catch (MalformedMessageException)
            {
                malformed++;
            }
            catch (Exception e)
            {
                Assert.Fail($"iteration {i}: {e.GetType().Name}: {e.Message}\n{Convert.ToHexString(m)}");
            }
        }
        Assert.True(malformed > 0, "no mutation was rejected; the mutator is not reaching the parser");
    }

    private static byte[] Mutate(byte[] valid, Random rng, int protectPrefix)
    {
        var m = (byte[])valid.Clone();
        int span = Math.Max(1, m.Length - protectPrefix);
        switch (rng.Next(6))
        {
            case 0: // flip a few bits
                for (int k = rng.Next(1, 4); k > 0; k--) m[protectPrefix + rng.Next(span)] ^= (byte)(1 << rng.Next(8));
                break;
            case 1: // cut
                return m.AsSpan(0, rng.Next(m.Length)).ToArray();
            case 2: // random bytes
                for (int k = rng.Next(1, 6); k > 0; k--) m[protectPrefix + rng.Next(span)] = (byte)rng.Next(256);
                break;
            case 3: // a 16-bit field to an extreme
                {
                    int at = protectPrefix + rng.Next(Math.Max(1, span - 1));
                    if (at + 2 <= m.Length) BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(at), (ushort)(rng.Next(2) == 0 ? 0xFFFF : rng.Next(0x200)));
                    break;
                }
            case 4: // a 32-bit field to an extreme
                {
                    int at = protectPrefix + rng.Next(Math.Max(1, span - 3));
                    if (at + 4 <= m.Length) BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(at), rng.Next(3) switch { 0 => 0xFFFFFFFF, 1 => 0x7FFFFFFF, _ => (uint)rng.Next(0x400) });
                    break;
                }
            default: // cut and flip
                m = m.AsSpan(0, Math.Max(0, m.Length - rng.Next(1, 9))).ToArray();
                if (m.Length > 0) m[rng.Next(m.Length)] ^= 0x80;
                break;
        }
        return m;
    }
}
