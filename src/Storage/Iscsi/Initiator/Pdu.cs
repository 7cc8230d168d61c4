using System.Buffers.Binary;

namespace SmbCopy.Storage.Iscsi.Initiator;

/// <summary>A whole PDU: BHS, AHS (raw, a multiple of 4 bytes) and data segment (without padding).</summary>
public sealed record Pdu(Bhs Header, ReadOnlyMemory<byte> Ahs, ReadOnlyMemory<byte> Data)
{
    public IscsiOpcode Opcode => Header.Opcode;
}

/// <summary>Digests negotiated for a connection (RFC 7143 §13.1).</summary>
public readonly record struct DigestOptions(bool Header, bool Data)
{
    public static DigestOptions None => default;
}

/// <summary>
/// Encoding and bounds-checked decoding of PDUs (RFC 7143 §11.2): BHS (48) + AHS (TotalAHSLength × 4) + header digest
/// (4, optional) + data segment padded to 4 + data digest (4, optional, only when there is data).
/// </summary>
public static class PduCodec
{
    /// <summary>Largest data segment the codec accepts at all (the 24-bit field allows 16 MiB − 1).</summary>
    public const int AbsoluteMaxDataSegment = 0xFFFFFF;

    public static int Pad4(int n) => (n + 3) & ~3;

    /// <summary>Bytes on the wire of a PDU with these lengths.</summary>
    public static int WireLength(int ahsLength, int dataLength, DigestOptions digests) =>
        Bhs.Length + ahsLength + (digests.Header ? 4 : 0) + Pad4(dataLength) + (digests.Data && dataLength > 0 ? 4 : 0);

    /// <summary>Writes the header part (BHS + AHS + header digest) of a PDU whose data segment is
    /// <paramref name="dataLength"/> bytes; sets TotalAHSLength and DataSegmentLength in <paramref name="bhs"/>.</summary>
    public static byte[] EncodeHeader(Bhs bhs, ReadOnlySpan<byte> ahs, int dataLength, DigestOptions digests)
    {
        if (ahs.Length % 4 != 0 || ahs.Length > 255 * 4)
            throw new ArgumentException("AHS must be a multiple of 4 bytes, at most 1020", nameof(ahs));
        bhs.TotalAhsLength = ahs.Length / 4;
        bhs.DataSegmentLength = dataLength;
        var header = new byte[Bhs.Length + ahs.Length + (digests.Header ? 4 : 0)];
        bhs.ReadOnlySpan.CopyTo(header);
        ahs.CopyTo(header.AsSpan(Bhs.Length));
        if (digests.Header)
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(Bhs.Length + ahs.Length),
                Crc32C.Compute(header.AsSpan(0, Bhs.Length + ahs.Length)));
        return header;
    }

    /// <summary>The padding and data digest that follow a data segment on the wire (possibly empty).</summary>
    public static byte[] EncodeTrailer(ReadOnlySpan<byte> data, DigestOptions digests)
    {
        int pad = Pad4(data.Length) - data.Length;
        if (data.Length == 0) return [];
        var trailer = new byte[pad + (digests.Data ? 4 : 0)];
        if (digests.Data)
        {
            uint crc = Crc32C.Append(0xFFFFFFFFu, data);
            crc = Crc32C.Append(crc, trailer.AsSpan(0, pad)); // padding is zeros, covered by the digest
            BinaryPrimitives.WriteUInt32LittleEndian(trailer.AsSpan(pad), ~crc);
        }
        return trailer;
    }

    /// <summary>A whole PDU in one array.</summary>
    public static byte[] Encode(Bhs bhs, ReadOnlySpan<byte> ahs, ReadOnlySpan<byte> data, DigestOptions digests = default)
    {
        var header = EncodeHeader(bhs, ahs, data.Length, digests);
        var trailer = EncodeTrailer(data, digests);
        var all = new byte[header.Length + data.Length + trailer.Length];
        header.CopyTo(all, 0);
        data.CopyTo(all.AsSpan(header.Length));
        trailer.CopyTo(all, header.Length + data.Length);
        return all;
    }

    /// <summary>
    /// Checks a received BHS: the data segment must not exceed <paramref name="maxDataSegment"/> (what this side
    /// declared as MaxRecvDataSegmentLength).
    /// </summary>
    /// <exception cref="IscsiProtocolException">The lengths are not acceptable.</exception>
    public static void ValidateHeader(Bhs bhs, int maxDataSegment)
    {
        if (bhs.DataSegmentLength > maxDataSegment)
            throw new IscsiProtocolException(
                $"{bhs.Opcode}: data segment of {bhs.DataSegmentLength} bytes exceeds the {maxDataSegment} declared");
    }

    /// <summary>Checks the header digest over BHS + AHS.</summary>
    public static void CheckHeaderDigest(ReadOnlySpan<byte> bhsAndAhs, ReadOnlySpan<byte> digest)
    {
        uint expected = Crc32C.Compute(bhsAndAhs);
        if (BinaryPrimitives.ReadUInt32LittleEndian(digest) != expected)
            throw new IscsiProtocolException("header digest mismatch");
    }

    /// <summary>
    /// Decodes one PDU from the start of <paramref name="buffer"/>. Returns false when the buffer holds less than a
    /// whole PDU (<paramref name="consumed"/> is then the number of bytes needed, when known, else 0).
    /// </summary>
    /// <exception cref="IscsiProtocolException">Lengths above the limit, or a digest mismatch.</exception>
    public static bool TryDecode(ReadOnlySpan<byte> buffer, int maxDataSegment, DigestOptions digests, out Pdu? pdu, out int consumed)
    {
        pdu = null;
        consumed = 0;
        if (buffer.Length < Bhs.Length) return false;
        var bhs = Bhs.Parse(buffer);
        ValidateHeader(bhs, maxDataSegment);
        int ahsLength = bhs.TotalAhsLength * 4;
        int total = WireLength(ahsLength, bhs.DataSegmentLength, digests);
        if (buffer.Length < total)
        {
            consumed = total;
            return false;
        }
        int pos = Bhs.Length + ahsLength;
        if (digests.Header)
        {
            CheckHeaderDigest(buffer[..pos], buffer.Slice(pos, 4));
            pos += 4;
        }
        var data = buffer.Slice(pos, bhs.DataSegmentLength);
        int padded = Pad4(bhs.DataSegmentLength);
        if (digests.Data && bhs.DataSegmentLength > 0)
            CheckDataDigest(buffer.Slice(pos, padded), buffer.Slice(pos + padded, 4));
        pdu = new Pdu(bhs, buffer.Slice(Bhs.Length, ahsLength).ToArray(), data.ToArray());
        consumed = total;
        return true;
    }

    /// <summary>Checks the data digest over the padded data segment.</summary>
    public static void CheckDataDigest(ReadOnlySpan<byte> paddedData, ReadOnlySpan<byte> digest)
    {
        if (BinaryPrimitives.ReadUInt32LittleEndian(digest) != Crc32C.Compute(paddedData))
            throw new IscsiProtocolException("data digest mismatch");
    }
}
