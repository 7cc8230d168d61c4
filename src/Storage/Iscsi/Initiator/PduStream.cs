namespace SmbCopy.Storage.Iscsi.Initiator;

/// <summary>Reads PDUs from a byte stream, bounds-checked (shared by login and the connection's receive loop).</summary>
internal static class PduStream
{
    /// <summary>Reads BHS + AHS (+ header digest); the data segment is left in the stream.</summary>
    public static async ValueTask<(Bhs Bhs, byte[] Ahs)> ReadHeaderAsync(Stream stream, int maxDataSegment, DigestOptions digests,
        CancellationToken cancellationToken)
    {
        var first = new byte[Bhs.Length];
        await ReadExactlyAsync(stream, first, cancellationToken).ConfigureAwait(false);
        var bhs = Bhs.Parse(first);
        PduCodec.ValidateHeader(bhs, maxDataSegment);
        byte[] ahs = bhs.TotalAhsLength == 0 ? [] : new byte[bhs.TotalAhsLength * 4];
        if (ahs.Length > 0) await ReadExactlyAsync(stream, ahs, cancellationToken).ConfigureAwait(false);
        if (digests.Header)
        {
            var digest = new byte[4];
            await ReadExactlyAsync(stream, digest, cancellationToken).ConfigureAwait(false);
            PduCodec.CheckHeaderDigest([.. first, .. ahs], digest);
        }
        return (bhs, ahs);
    }

    /// <summary>Reads the data segment of <paramref name="bhs"/> into <paramref name="destination"/> (exactly
    /// DataSegmentLength bytes), then its padding and digest.</summary>
    public static async ValueTask ReadDataAsync(Stream stream, Bhs bhs, Memory<byte> destination, DigestOptions digests,
        CancellationToken cancellationToken)
    {
        int length = bhs.DataSegmentLength;
        if (destination.Length != length) throw new ArgumentException("destination must be the data segment length");
        if (length == 0) return;
        await ReadExactlyAsync(stream, destination, cancellationToken).ConfigureAwait(false);
        int pad = PduCodec.Pad4(length) - length;
        if (pad == 0 && !digests.Data) return;
        var trailer = new byte[pad + (digests.Data ? 4 : 0)];
        await ReadExactlyAsync(stream, trailer, cancellationToken).ConfigureAwait(false);
        if (digests.Data)
        {
            uint crc = Crc32C.Append(0xFFFFFFFFu, destination.Span);
            crc = Crc32C.Append(crc, trailer.AsSpan(0, pad));
            if (System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(trailer.AsSpan(pad)) != ~crc)
                throw new IscsiProtocolException($"{bhs.Opcode}: data digest mismatch");
        }
    }

    /// <summary>Reads a whole PDU, data segment into a new array.</summary>
    public static async ValueTask<Pdu> ReadPduAsync(Stream stream, int maxDataSegment, DigestOptions digests,
        CancellationToken cancellationToken)
    {
        var (bhs, ahs) = await ReadHeaderAsync(stream, maxDataSegment, digests, cancellationToken).ConfigureAwait(false);
        var data = new byte[bhs.DataSegmentLength];
        await ReadDataAsync(stream, bhs, data, digests, cancellationToken).ConfigureAwait(false);
        return new Pdu(bhs, ahs, data);
    }

    /// <summary>Discards the data segment (with padding and digest) of a PDU nobody wants.</summary>
    public static async ValueTask SkipDataAsync(Stream stream, Bhs bhs, DigestOptions digests, CancellationToken cancellationToken)
    {
        int n = PduCodec.Pad4(bhs.DataSegmentLength) + (digests.Data && bhs.DataSegmentLength > 0 ? 4 : 0);
        var scratch = new byte[Math.Min(n, 65536)];
        while (n > 0)
        {
            int k = Math.Min(n, scratch.Length);
            await ReadExactlyAsync(stream, scratch.AsMemory(0, k), cancellationToken).ConfigureAwait(false);
            n -= k;
        }
    }

    private static async ValueTask ReadExactlyAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            await stream.ReadExactlyAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (EndOfStreamException e)
        {
            throw new IscsiConnectionException("connection closed by the target", e);
        }
        catch (IOException e)
        {
            throw new IscsiConnectionException("connection lost: " + e.Message, e);
        }
    }
}
