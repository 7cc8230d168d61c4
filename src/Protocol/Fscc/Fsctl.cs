using System.Net;
using System.Net.Sockets;
using System.Text;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Fscc;

/// <summary>FSCTL / IOCTL control codes (MS-SMB2 2.2.31, MS-FSCC 2.3).</summary>
public static class FsctlCodes
{
    public const uint DfsGetReferrals = 0x00060194;
    public const uint DfsGetReferralsEx = 0x000601B0;
    public const uint PipePeek = 0x0011400C;
    public const uint PipeWait = 0x00110018;
    public const uint PipeTransceive = 0x0011C017;
    public const uint SrvCopyChunk = 0x001440F2;
    public const uint SrvEnumerateSnapshots = 0x00144064;
    public const uint SrvRequestResumeKey = 0x00140078;
    public const uint SrvReadHash = 0x001441BB;
    public const uint SrvCopyChunkWrite = 0x001480F2;
    public const uint LmrRequestResiliency = 0x001401D4;
    public const uint QueryNetworkInterfaceInfo = 0x001401FC;
    public const uint SetReparsePoint = 0x000900A4;
    public const uint GetReparsePoint = 0x000900A8;
    public const uint CreateOrGetObjectId = 0x000900C0;
    public const uint SetSparse = 0x000900C4;
    public const uint SetZeroData = 0x000980C8;
    public const uint QueryAllocatedRanges = 0x000940CF;
    public const uint FileLevelTrim = 0x00098208;
    public const uint OffloadRead = 0x00094264;
    public const uint OffloadWrite = 0x00098268;
    public const uint DuplicateExtentsToFile = 0x00098344;
    public const uint DuplicateExtentsToFileEx = 0x000983E8;
    public const uint ValidateNegotiateInfo = 0x00140204;
    public const uint GetIntegrityInformation = 0x0009027C;
    public const uint SetIntegrityInformation = 0x0009C280;
    public const uint QueryFileRegions = 0x00090284;
}

/// <summary>One SRV_COPYCHUNK entry: SourceOffset(8) TargetOffset(8) Length(4) Reserved(4).</summary>
public readonly record struct SrvCopyChunk(ulong SourceOffset, ulong TargetOffset, uint Length)
{
    public const int Size = 24;
}

/// <summary>SRV_COPYCHUNK_COPY (MS-SMB2 2.2.31.1): SourceKey(24) ChunkCount(4) Reserved(4) Chunks(24 × n).</summary>
public sealed record SrvCopyChunkCopy(byte[] SourceKey, uint ChunkCount, IReadOnlyList<SrvCopyChunk> Chunks)
{
    public const int HeaderSize = 32;

    /// <summary>
    /// False when the input is shorter than 32 + 24 × ChunkCount — per MS-SMB2 3.3.5.15.6 the handler then sends
    /// the limits response (Status INVALID_PARAMETER with the server maxima), not a plain error.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> input, out SrvCopyChunkCopy? copy)
    {
        copy = null;
        if (input.Length < HeaderSize) return false;
        var r = new WireReader(input);
        byte[] key = r.ReadBytes(24).ToArray();
        uint count = r.ReadUInt32();
        r.ReadUInt32();
        if ((long)count * SrvCopyChunk.Size > r.Remaining) return false;
        var chunks = new SrvCopyChunk[count];
        for (int i = 0; i < count; i++)
        {
            ulong source = r.ReadUInt64();
            ulong target = r.ReadUInt64();
            uint length = r.ReadUInt32();
            r.ReadUInt32();
            chunks[i] = new SrvCopyChunk(source, target, length);
        }
        copy = new SrvCopyChunkCopy(key, count, chunks);
        return true;
    }

    public static SrvCopyChunkCopy Parse(ReadOnlySpan<byte> input)
        => TryParse(input, out var copy) ? copy! : throw new MalformedMessageException("SRV_COPYCHUNK_COPY truncated");

    public void WriteTo(WireWriter w)
    {
        w.WriteBytes(SourceKey);
        w.WriteUInt32((uint)Chunks.Count);
        w.WriteUInt32(0);
        foreach (var c in Chunks)
        {
            w.WriteUInt64(c.SourceOffset);
            w.WriteUInt64(c.TargetOffset);
            w.WriteUInt32(c.Length);
            w.WriteUInt32(0);
        }
    }
}

/// <summary>SRV_COPYCHUNK_RESPONSE (MS-SMB2 2.2.32.1), 12 bytes. With Status INVALID_PARAMETER the fields carry the server limits.</summary>
public readonly record struct SrvCopyChunkResponse(uint ChunksWritten, uint ChunkBytesWritten, uint TotalBytesWritten)
{
    public const int Size = 12;

    /// <summary>The limits form: MaxNumberofChunks, MaxChunkSize, MaxDataSize.</summary>
    public static SrvCopyChunkResponse Limits(uint maxChunks, uint maxChunkSize, uint maxDataSize) => new(maxChunks, maxChunkSize, maxDataSize);

    public void WriteTo(WireWriter w)
    {
        w.WriteUInt32(ChunksWritten);
        w.WriteUInt32(ChunkBytesWritten);
        w.WriteUInt32(TotalBytesWritten);
    }

    public byte[] ToBytes()
    {
        using var w = new WireWriter(Size);
        WriteTo(w);
        return w.ToArray();
    }

    public static SrvCopyChunkResponse Parse(ReadOnlySpan<byte> buffer)
    {
        var r = new WireReader(buffer);
        return new SrvCopyChunkResponse(r.ReadUInt32(), r.ReadUInt32(), r.ReadUInt32());
    }
}

/// <summary>SRV_REQUEST_RESUME_KEY response (MS-SMB2 2.2.32.3): ResumeKey(24) ContextLength(4)=0 + 4 zero bytes as Windows sends (32 bytes).</summary>
public static class SrvRequestResumeKeyResponse
{
    public const int KeySize = 24;
    public const int Size = 32;

    public static void WriteTo(WireWriter w, ReadOnlySpan<byte> resumeKey)
    {
        if (resumeKey.Length != KeySize) throw new ArgumentException("resume key must be 24 bytes", nameof(resumeKey));
        w.WriteBytes(resumeKey);
        w.WriteUInt32(0);
        w.WriteUInt32(0);
    }

    public static byte[] ToBytes(ReadOnlySpan<byte> resumeKey)
    {
        using var w = new WireWriter(Size);
        WriteTo(w, resumeKey);
        return w.ToArray();
    }
}

/// <summary>SMB2_DUPLICATE_EXTENTS_DATA (MS-FSCC 2.3.7), 40 bytes: SourceFileID(16) SourceFileOffset(8) TargetFileOffset(8) ByteCount(8).</summary>
public readonly record struct DuplicateExtentsData(Smb2FileId SourceFileId, long SourceFileOffset, long TargetFileOffset, long ByteCount)
{
    public const int Size = 40;

    public static DuplicateExtentsData Parse(ReadOnlySpan<byte> input)
    {
        var r = new WireReader(input);
        if (input.Length < Size) throw new MalformedMessageException($"DUPLICATE_EXTENTS_DATA {input.Length} bytes");
        return new DuplicateExtentsData(Smb2FileId.Read(ref r), r.ReadInt64(), r.ReadInt64(), r.ReadInt64());
    }

    public void WriteTo(WireWriter w)
    {
        SourceFileId.WriteTo(w);
        w.WriteInt64(SourceFileOffset);
        w.WriteInt64(TargetFileOffset);
        w.WriteInt64(ByteCount);
    }
}

/// <summary>
/// SMB2_DUPLICATE_EXTENTS_DATA_EX (MS-FSCC 2.3.9), 56 bytes on the wire: StructureSize(8) SourceFileID(16)
/// SourceFileOffset(8) TargetFileOffset(8) ByteCount(8) Flags(4) Reserved(4). StructureSize must be 0x30 — the
/// handler checks it (≠ → STATUS_NOT_SUPPORTED); the parser only needs 56 bytes.
/// </summary>
public readonly record struct DuplicateExtentsDataEx(ulong StructureSize, Smb2FileId SourceFileId, long SourceFileOffset, long TargetFileOffset, long ByteCount, uint Flags)
{
    public const int Size = 56;
    public const ulong RequiredStructureSize = 0x30;
    public const uint FlagSourceAtomic = 0x1;

    public bool HasValidStructureSize => StructureSize == RequiredStructureSize;

    public static DuplicateExtentsDataEx Parse(ReadOnlySpan<byte> input)
    {
        if (input.Length < Size) throw new MalformedMessageException($"DUPLICATE_EXTENTS_DATA_EX {input.Length} bytes");
        var r = new WireReader(input);
        ulong structureSize = r.ReadUInt64();
        var id = Smb2FileId.Read(ref r);
        return new DuplicateExtentsDataEx(structureSize, id, r.ReadInt64(), r.ReadInt64(), r.ReadInt64(), r.ReadUInt32());
    }

    public void WriteTo(WireWriter w)
    {
        w.WriteUInt64(StructureSize);
        SourceFileId.WriteTo(w);
        w.WriteInt64(SourceFileOffset);
        w.WriteInt64(TargetFileOffset);
        w.WriteInt64(ByteCount);
        w.WriteUInt32(Flags);
        w.WriteUInt32(0);
    }
}

/// <summary>
/// STORAGE_OFFLOAD_TOKEN (MS-FSCC 2.1.11), 512 bytes: TokenType(4, big-endian) Reserved(2) TokenIdLength(2, big-endian)=0x1F8 TokenId(504).
/// </summary>
public sealed record StorageOffloadToken(uint TokenType, ushort TokenIdLength, byte[] TokenId)
{
    public const int Size = 512;
    public const int TokenIdSize = 504;
    public const uint ZeroDataTokenType = 0xFFFF0001;

    public StorageOffloadToken(uint tokenType, byte[] tokenId) : this(tokenType, TokenIdSize, Fit(tokenId)) { }

    /// <summary>The well-known zero token: the range reads as zeros.</summary>
    public static StorageOffloadToken ZeroData() => new(ZeroDataTokenType, new byte[TokenIdSize]);

    public bool IsZeroData => TokenType == ZeroDataTokenType;

    public static StorageOffloadToken Parse(ReadOnlySpan<byte> buffer)
    {
        var r = new WireReader(buffer);
        uint type = r.ReadUInt32BigEndian();
        r.ReadUInt16();
        ushort idLength = r.ReadUInt16BigEndian();
        return new StorageOffloadToken(type, idLength, r.ReadBytes(TokenIdSize).ToArray());
    }

    public void WriteTo(WireWriter w)
    {
        w.WriteUInt32BigEndian(TokenType);
        w.WriteUInt16(0);
        w.WriteUInt16BigEndian(TokenIdLength);
        var id = Fit(TokenId);
        w.WriteBytes(id);
    }

    private static byte[] Fit(byte[] id)
    {
        if (id.Length == TokenIdSize) return id;
        var fitted = new byte[TokenIdSize];
        id.AsSpan(0, Math.Min(id.Length, TokenIdSize)).CopyTo(fitted);
        return fitted;
    }
}

/// <summary>FSCTL_OFFLOAD_READ_INPUT (MS-FSCC 2.3.41), 32 bytes: Size(4) Flags(4) TokenTimeToLive(4) Reserved(4) FileOffset(8) CopyLength(8).</summary>
public readonly record struct OffloadReadInput(uint Size, uint Flags, uint TokenTimeToLive, ulong FileOffset, ulong CopyLength)
{
    public const int StructSize = 32;

    public static OffloadReadInput Parse(ReadOnlySpan<byte> input)
    {
        var r = new WireReader(input);
        uint size = r.ReadUInt32();
        uint flags = r.ReadUInt32();
        uint ttl = r.ReadUInt32();
        r.ReadUInt32();
        return new OffloadReadInput(size, flags, ttl, r.ReadUInt64(), r.ReadUInt64());
    }

    public void WriteTo(WireWriter w)
    {
        w.WriteUInt32(Size);
        w.WriteUInt32(Flags);
        w.WriteUInt32(TokenTimeToLive);
        w.WriteUInt32(0);
        w.WriteUInt64(FileOffset);
        w.WriteUInt64(CopyLength);
    }
}

/// <summary>FSCTL_OFFLOAD_READ_OUTPUT (MS-FSCC 2.3.42), 528 bytes: Size(4)=528 Flags(4) TransferLength(8) Token(512).</summary>
public sealed record OffloadReadOutput(uint Flags, ulong TransferLength, StorageOffloadToken Token)
{
    public const int Size = 528;
    public const uint FlagAllZeroBeyondCurrentRange = 1;

    public void WriteTo(WireWriter w)
    {
        w.WriteUInt32(Size);
        w.WriteUInt32(Flags);
        w.WriteUInt64(TransferLength);
        Token.WriteTo(w);
    }

    public static OffloadReadOutput Parse(ReadOnlySpan<byte> buffer)
    {
        var r = new WireReader(buffer);
        r.ReadUInt32();
        uint flags = r.ReadUInt32();
        ulong length = r.ReadUInt64();
        return new OffloadReadOutput(flags, length, StorageOffloadToken.Parse(r.ReadBytes(StorageOffloadToken.Size)));
    }
}

/// <summary>FSCTL_OFFLOAD_WRITE_INPUT (MS-FSCC 2.3.43), 544 bytes: Size(4) Flags(4) FileOffset(8) CopyLength(8) TransferOffset(8) Token(512).</summary>
public sealed record OffloadWriteInput(uint Size, uint Flags, ulong FileOffset, ulong CopyLength, ulong TransferOffset, StorageOffloadToken Token)
{
    public const int StructSize = 544;

    public static OffloadWriteInput Parse(ReadOnlySpan<byte> input)
    {
        var r = new WireReader(input);
        uint size = r.ReadUInt32();
        uint flags = r.ReadUInt32();
        ulong offset = r.ReadUInt64();
        ulong length = r.ReadUInt64();
        ulong transfer = r.ReadUInt64();
        return new OffloadWriteInput(size, flags, offset, length, transfer, StorageOffloadToken.Parse(r.ReadBytes(StorageOffloadToken.Size)));
    }

    public void WriteTo(WireWriter w)
    {
        w.WriteUInt32(Size);
        w.WriteUInt32(Flags);
        w.WriteUInt64(FileOffset);
        w.WriteUInt64(CopyLength);
        w.WriteUInt64(TransferOffset);
        Token.WriteTo(w);
    }
}

/// <summary>FSCTL_OFFLOAD_WRITE_OUTPUT (MS-FSCC 2.3.44), 16 bytes: Size(4)=16 Flags(4) LengthWritten(8).</summary>
public readonly record struct OffloadWriteOutput(uint Flags, ulong LengthWritten)
{
    public const int Size = 16;

    public void WriteTo(WireWriter w)
    {
        w.WriteUInt32(Size);
        w.WriteUInt32(Flags);
        w.WriteUInt64(LengthWritten);
    }
}

/// <summary>VALIDATE_NEGOTIATE_INFO request (MS-SMB2 2.2.31.4): Capabilities(4) Guid(16) SecurityMode(2) DialectCount(2) Dialects(2 × n).</summary>
public sealed record ValidateNegotiateInfoRequest(uint Capabilities, Guid ClientGuid, ushort SecurityMode, IReadOnlyList<ushort> Dialects)
{
    public const int FixedSize = 24;

    public static ValidateNegotiateInfoRequest Parse(ReadOnlySpan<byte> input)
    {
        var r = new WireReader(input);
        uint caps = r.ReadUInt32();
        var guid = r.ReadGuid();
        ushort mode = r.ReadUInt16();
        ushort count = r.ReadUInt16();
        if (count * 2 > r.Remaining) throw new MalformedMessageException($"DialectCount {count} past the input");
        var dialects = new ushort[count];
        for (int i = 0; i < count; i++) dialects[i] = r.ReadUInt16();
        return new ValidateNegotiateInfoRequest(caps, guid, mode, dialects);
    }

    public void WriteTo(WireWriter w)
    {
        w.WriteUInt32(Capabilities);
        w.WriteGuid(ClientGuid);
        w.WriteUInt16(SecurityMode);
        w.WriteUInt16((ushort)Dialects.Count);
        foreach (var d in Dialects) w.WriteUInt16(d);
    }
}

/// <summary>VALIDATE_NEGOTIATE_INFO response (MS-SMB2 2.2.32.6), 24 bytes: Capabilities(4) Guid(16) SecurityMode(2) Dialect(2).</summary>
public readonly record struct ValidateNegotiateInfoResponse(uint Capabilities, Guid ServerGuid, ushort SecurityMode, ushort Dialect)
{
    public const int Size = 24;

    public void WriteTo(WireWriter w)
    {
        w.WriteUInt32(Capabilities);
        w.WriteGuid(ServerGuid);
        w.WriteUInt16(SecurityMode);
        w.WriteUInt16(Dialect);
    }
}

/// <summary>
/// NETWORK_INTERFACE_INFO (MS-SMB2 2.2.32.5), 152 bytes each: Next(4) IfIndex(4) Capability(4) Reserved(4)
/// LinkSpeed(8) SockAddr_Storage(128). Next = 152 except 0 on the last.
/// </summary>
public readonly record struct NetworkInterfaceInfo(uint IfIndex, uint Capability, ulong LinkSpeed, IPAddress Address)
{
    public const int Size = 152;
    public const uint CapabilityRss = 1;
    public const uint CapabilityRdma = 2;

    public static void WriteList(WireWriter w, IReadOnlyList<NetworkInterfaceInfo> interfaces)
    {
        for (int i = 0; i < interfaces.Count; i++)
            interfaces[i].WriteTo(w, isLast: i == interfaces.Count - 1);
    }

    public void WriteTo(WireWriter w, bool isLast)
    {
        w.WriteUInt32(isLast ? 0u : Size);
        w.WriteUInt32(IfIndex);
        w.WriteUInt32(Capability);
        w.WriteUInt32(0);
        w.WriteUInt64(LinkSpeed);
        var storage = w.GetSpan(128);
        storage.Clear();
        if (Address.AddressFamily == AddressFamily.InterNetwork)
        {
            storage[0] = 0x02; // AF_INET, little-endian
            Address.TryWriteBytes(storage[4..8], out _); // after Port(2)=0
        }
        else if (Address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            storage[0] = 0x17; // AF_INET6
            Address.TryWriteBytes(storage[8..24], out _); // after Port(2) FlowInfo(4)
        }
        else throw new ArgumentException("IPv4 or IPv6 address required", nameof(Address));
    }
}

/// <summary>FILE_ALLOCATED_RANGE_BUFFER (MS-FSCC 2.3.33 / 2.3.34): FileOffset(8) Length(8); input is one, output a list.</summary>
public readonly record struct FileAllocatedRangeBuffer(long FileOffset, long Length)
{
    public const int Size = 16;

    public static FileAllocatedRangeBuffer Parse(ReadOnlySpan<byte> input)
    {
        var r = new WireReader(input);
        return new FileAllocatedRangeBuffer(r.ReadInt64(), r.ReadInt64());
    }

    public void WriteTo(WireWriter w)
    {
        w.WriteInt64(FileOffset);
        w.WriteInt64(Length);
    }

    public static void WriteList(WireWriter w, IEnumerable<FileAllocatedRangeBuffer> ranges)
    {
        foreach (var range in ranges) range.WriteTo(w);
    }
}

/// <summary>FILE_ZERO_DATA_INFORMATION for FSCTL_SET_ZERO_DATA (MS-FSCC 2.3.79): FileOffset(8) BeyondFinalZero(8).</summary>
public readonly record struct FileZeroDataInformation(long FileOffset, long BeyondFinalZero)
{
    public const int Size = 16;

    public static FileZeroDataInformation Parse(ReadOnlySpan<byte> input)
    {
        var r = new WireReader(input);
        return new FileZeroDataInformation(r.ReadInt64(), r.ReadInt64());
    }
}

/// <summary>
/// SRV_SNAPSHOT_ARRAY (MS-SMB2 2.2.32.2): NumberOfSnapShots(4) NumberOfSnapShotsReturned(4) SnapShotArraySize(4)
/// SnapShots (NUL-terminated UTF-16 "@GMT-YYYY.MM.DD-HH.MM.SS" tokens, then a final NUL).
/// </summary>
public static class SrvSnapshotArray
{
    /// <summary>The "no snapshots" answer Windows gives: 0, 0, 2, then two zero bytes (16 bytes).</summary>
    public static void WriteEmpty(WireWriter w)
    {
        w.WriteUInt32(0);
        w.WriteUInt32(0);
        w.WriteUInt32(2);
        w.WriteUInt16(0);
    }

    /// <summary>
    /// With <paramref name="includeTokens"/> false only the counts are sent (NumberOfSnapShotsReturned 0), as a
    /// server does when MaxOutputResponse is too small for the array; SnapShotArraySize still tells the needed size.
    /// </summary>
    public static void Write(WireWriter w, IReadOnlyList<string> tokens, bool includeTokens)
    {
        if (tokens.Count == 0) { WriteEmpty(w); return; }
        int arraySize = tokens.Sum(t => Encoding.Unicode.GetByteCount(t) + 2) + 2;
        w.WriteUInt32((uint)tokens.Count);
        w.WriteUInt32(includeTokens ? (uint)tokens.Count : 0);
        w.WriteUInt32((uint)arraySize);
        if (!includeTokens) return;
        foreach (var t in tokens)
        {
            w.WriteUtf16(t);
            w.WriteUInt16(0);
        }
        w.WriteUInt16(0);
    }
}
