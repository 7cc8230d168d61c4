using System.Text;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Wire;
using FileAttributes = SmbCopy.Protocol.Fscc.FileAttributes;

namespace SmbCopy.Protocol.Smb2.Messages;

/// <summary>
/// A create context from the request chain (MS-SMB2 2.2.13.2). <see cref="Name"/> is the name bytes
/// decoded as Latin-1 (one char per byte, so 4-char tags read as "MxAc" and 16-byte binary GUID names stay
/// lossless); <see cref="NameBytes"/> and <see cref="Data"/> are slices of the message.
/// </summary>
public readonly record struct CreateContext(string Name, ReadOnlyMemory<byte> Data)
{
    public ReadOnlyMemory<byte> NameBytes { get; init; }
}

/// <summary>Well-known create context names (MS-SMB2 2.2.13.2).</summary>
public static class CreateContextNames
{
    public const string ExtendedAttributes = "ExtA";
    public const string SecurityDescriptor = "SecD";
    public const string DurableHandleRequest = "DHnQ";
    public const string DurableHandleReconnect = "DHnC";
    public const string AllocationSize = "AlSi";
    public const string MaximalAccess = "MxAc";
    public const string Timewarp = "TWrp";
    public const string QueryOnDiskId = "QFid";
    public const string RequestLease = "RqLs";
    public const string DurableHandleRequestV2 = "DH2Q";
    public const string DurableHandleReconnectV2 = "DH2C";

    /// <summary>SMB2_CREATE_APP_INSTANCE_ID 0x45BCA66AEFA7F74A9008FA462E144D74 as the 16 name bytes (Latin-1 string form).</summary>
    public static readonly string AppInstanceId = Latin1(0x45, 0xBC, 0xA6, 0x6A, 0xEF, 0xA7, 0xF7, 0x4A, 0x90, 0x08, 0xFA, 0x46, 0x2E, 0x14, 0x4D, 0x74);
    /// <summary>SMB2_CREATE_APP_INSTANCE_VERSION 0xB982D0B73B56074FA07B524A8116A010.</summary>
    public static readonly string AppInstanceVersion = Latin1(0xB9, 0x82, 0xD0, 0xB7, 0x3B, 0x56, 0x07, 0x4F, 0xA0, 0x7B, 0x52, 0x4A, 0x81, 0x16, 0xA0, 0x10);

    private static string Latin1(params byte[] b) => Encoding.Latin1.GetString(b);
}

/// <summary>SMB2 CREATE request (MS-SMB2 2.2.13).</summary>
public readonly record struct CreateRequest(
    byte SecurityFlags,
    OplockLevel RequestedOplockLevel,
    uint ImpersonationLevel,
    ulong SmbCreateFlags,
    AccessMask DesiredAccess,
    FileAttributes FileAttributes,
    ShareAccess ShareAccess,
    CreateDisposition CreateDisposition,
    CreateOptions CreateOptions,
    string Name,
    IReadOnlyList<CreateContext> CreateContexts)
{
    public const ushort StructureSize = 57;

    public CreateContext? FindContext(string name)
    {
        foreach (var c in CreateContexts)
            if (c.Name == name) return c;
        return null;
    }

    public static CreateRequest Parse(ReadOnlyMemory<byte> message, int bodyOffset)
    {
        var span = message.Span;
        var r = FileMessageWire.BeginBody(span, bodyOffset, StructureSize);
        byte securityFlags = r.ReadByte();
        var oplock = (OplockLevel)r.ReadByte();
        uint impersonation = r.ReadUInt32();
        ulong createFlags = r.ReadUInt64();
        r.ReadUInt64(); // Reserved
        var access = (AccessMask)r.ReadUInt32();
        var attrs = (FileAttributes)r.ReadUInt32();
        var share = (ShareAccess)r.ReadUInt32();
        var disposition = (CreateDisposition)r.ReadUInt32();
        var options = (CreateOptions)r.ReadUInt32();
        ushort nameOffset = r.ReadUInt16();
        ushort nameLength = r.ReadUInt16();
        uint contextsOffset = r.ReadUInt32();
        uint contextsLength = r.ReadUInt32();

        string name = FileMessageWire.ReadName(span, nameOffset, nameLength);
        IReadOnlyList<CreateContext> contexts = [];
        if (contextsLength != 0)
        {
            if ((contextsOffset & 7) != 0) throw new MalformedMessageException($"CreateContextsOffset {contextsOffset} not 8-aligned");
            var chain = WireReader.Slice(message, contextsOffset, contextsLength);
            contexts = ParseContextChain(chain);
        }
        return new CreateRequest(securityFlags, oplock, impersonation, createFlags, access, attrs, share, disposition, options, name, contexts);
    }

    /// <summary>
    /// Parses a create-context chain (request or response form). Per context: 16-byte header; Next 0 or a
    /// multiple of 8 within the chain; NameOffset ≥ 16 and 8-aligned; NameLength ≥ 4; DataOffset 8-aligned and
    /// past the name when DataLength > 0; name and data inside the context.
    /// </summary>
    public static List<CreateContext> ParseContextChain(ReadOnlyMemory<byte> chain)
    {
        var list = new List<CreateContext>();
        int pos = 0;
        while (true)
        {
            int remaining = chain.Length - pos;
            if (remaining < 16) throw new MalformedMessageException($"create context at {pos}: {remaining} bytes left");
            var r = new WireReader(chain.Span[pos..]);
            uint next = r.ReadUInt32();
            ushort nameOffset = r.ReadUInt16();
            ushort nameLength = r.ReadUInt16();
            r.ReadUInt16();
            ushort dataOffset = r.ReadUInt16();
            uint dataLength = r.ReadUInt32();

            if ((next & 7) != 0) throw new MalformedMessageException($"create context Next {next} not 8-aligned");
            if (next != 0 && (next < 16 || next > remaining)) throw new MalformedMessageException($"create context Next {next} outside chain");
            int extent = next == 0 ? remaining : (int)next;
            if (nameLength < 4) throw new MalformedMessageException($"create context NameLength {nameLength} < 4");
            if (nameOffset < 16 || (nameOffset & 7) != 0) throw new MalformedMessageException($"create context NameOffset {nameOffset}");
            var context = chain.Slice(pos, extent);
            var nameBytes = WireReader.Slice(context, nameOffset, nameLength);
            ReadOnlyMemory<byte> data = ReadOnlyMemory<byte>.Empty;
            if (dataLength != 0)
            {
                if ((dataOffset & 7) != 0) throw new MalformedMessageException($"create context DataOffset {dataOffset} not 8-aligned");
                if (dataOffset < nameOffset + nameLength) throw new MalformedMessageException($"create context DataOffset {dataOffset} overlaps the name");
                data = WireReader.Slice(context, dataOffset, dataLength);
            }
            list.Add(new CreateContext(Encoding.Latin1.GetString(nameBytes.Span), data) { NameBytes = nameBytes });
            if (next == 0) return list;
            pos += (int)next;
        }
    }
}

/// <summary>A create context to send in the CREATE response; Name is written as Latin-1 bytes.</summary>
public readonly record struct CreateResponseContext(string Name, ReadOnlyMemory<byte> Data)
{
    /// <summary>SMB2_CREATE_QUERY_MAXIMAL_ACCESS_RESPONSE: QueryStatus(4) MaximalAccess(4).</summary>
    public static CreateResponseContext MaximalAccess(NtStatus queryStatus, AccessMask maximalAccess)
    {
        var data = new byte[8];
        BitConverterLe.Write(data, 0, (uint)queryStatus);
        BitConverterLe.Write(data, 4, (uint)maximalAccess);
        return new CreateResponseContext(CreateContextNames.MaximalAccess, data);
    }

    /// <summary>SMB2_CREATE_QUERY_ON_DISK_ID response: DiskFileId(8) VolumeId(8) Reserved(16).</summary>
    public static CreateResponseContext QueryOnDiskId(ulong diskFileId, ulong volumeId)
    {
        var data = new byte[32];
        BitConverterLe.Write(data, 0, diskFileId);
        BitConverterLe.Write(data, 8, volumeId);
        return new CreateResponseContext(CreateContextNames.QueryOnDiskId, data);
    }

    /// <summary>SMB2_CREATE_RESPONSE_LEASE (v1, 32 bytes) or _V2 (52 bytes when <paramref name="version2"/>).</summary>
    public static CreateResponseContext Lease(LeaseContext lease, bool version2)
    {
        using var w = new WireWriter(52);
        lease.WriteTo(w, version2);
        return new CreateResponseContext(CreateContextNames.RequestLease, w.ToArray());
    }

    /// <summary>SMB2_CREATE_DURABLE_HANDLE_RESPONSE: Reserved(8).</summary>
    public static CreateResponseContext DurableHandle() => new(CreateContextNames.DurableHandleRequest, new byte[8]);

    /// <summary>SMB2_CREATE_DURABLE_HANDLE_RESPONSE_V2: Timeout(4) Flags(4).</summary>
    public static CreateResponseContext DurableHandleV2(uint timeoutMs, uint flags)
    {
        var data = new byte[8];
        BitConverterLe.Write(data, 0, timeoutMs);
        BitConverterLe.Write(data, 4, flags);
        return new CreateResponseContext(CreateContextNames.DurableHandleRequestV2, data);
    }
}

/// <summary>SMB2 CREATE response (MS-SMB2 2.2.14). Body is 88 bytes + the context chain (first context at header offset 0x98).</summary>
public sealed class CreateResponse
{
    public const ushort StructureSize = 89;
    public const int FixedSize = 88;

    public OplockLevel OplockLevel { get; init; }
    /// <summary>1 = SMB2_CREATE_FLAG_REPARSEPOINT (3.1.1).</summary>
    public byte Flags { get; init; }
    public CreateAction CreateAction { get; init; }
    public long CreationTime { get; init; }
    public long LastAccessTime { get; init; }
    public long LastWriteTime { get; init; }
    public long ChangeTime { get; init; }
    public long AllocationSize { get; init; }
    public long EndOfFile { get; init; }
    public FileAttributes FileAttributes { get; init; }
    public Smb2FileId FileId { get; init; }
    public IReadOnlyList<CreateResponseContext> Contexts { get; init; } = [];

    public void WriteTo(WireWriter w)
    {
        int bodyStart = w.Length;
        w.WriteUInt16(StructureSize);
        w.WriteByte((byte)OplockLevel);
        w.WriteByte(Flags);
        w.WriteUInt32((uint)CreateAction);
        w.WriteInt64(CreationTime);
        w.WriteInt64(LastAccessTime);
        w.WriteInt64(LastWriteTime);
        w.WriteInt64(ChangeTime);
        w.WriteInt64(AllocationSize);
        w.WriteInt64(EndOfFile);
        w.WriteUInt32((uint)FileAttributes);
        w.WriteUInt32(0);
        FileId.WriteTo(w);
        int offsetsAt = w.Length;
        w.WriteUInt32(0);
        w.WriteUInt32(0);
        if (Contexts.Count == 0) return;

        FileMessageWire.PadBody(w, bodyStart, 8);
        int chainStart = w.Length;
        w.PatchUInt32(offsetsAt, (uint)FileMessageWire.HeaderOffset(w, bodyStart));
        WriteContextChain(w, Contexts);
        w.PatchUInt32(offsetsAt + 4, (uint)(w.Length - chainStart));
    }

    /// <summary>
    /// Writes a create-context chain at the writer's position (which must be 8-aligned relative to the header):
    /// Next(4) NameOffset(2)=16 NameLength(2) Reserved(2) DataOffset(2) DataLength(4) Name pad8 Data; contexts
    /// 8-aligned, last Next 0, no padding after the last one. DataOffset 0 when the data is empty.
    /// </summary>
    public static void WriteContextChain(WireWriter w, IReadOnlyList<CreateResponseContext> contexts)
    {
        int chainStart = w.Length;
        int previous = -1;
        foreach (var c in contexts)
        {
            if (previous >= 0)
            {
                FileMessageWire.PadBody(w, chainStart, 8);
                w.PatchUInt32(previous, (uint)(w.Length - previous));
            }
            int start = w.Length;
            previous = start;
            byte[] name = Encoding.Latin1.GetBytes(c.Name);
            int dataOffset = c.Data.Length == 0 ? 0 : 16 + ((name.Length + 7) & ~7);
            w.WriteUInt32(0);
            w.WriteUInt16(16);
            w.WriteUInt16(checked((ushort)name.Length));
            w.WriteUInt16(0);
            w.WriteUInt16(checked((ushort)dataOffset));
            w.WriteUInt32((uint)c.Data.Length);
            w.WriteBytes(name);
            if (c.Data.Length != 0)
            {
                FileMessageWire.PadBody(w, start, 8);
                w.WriteBytes(c.Data.Span);
            }
        }
    }
}

/// <summary>
/// SMB2_CREATE_REQUEST_LEASE (v1, 32 bytes) / _V2 (52 bytes) and the matching response forms
/// (MS-SMB2 2.2.13.2.8, 2.2.13.2.10, 2.2.14.2.10, 2.2.14.2.11).
/// </summary>
public readonly record struct LeaseContext(Guid LeaseKey, uint LeaseState, uint Flags, ulong LeaseDuration, Guid ParentLeaseKey, ushort Epoch, bool IsVersion2)
{
    public const int V1Size = 32;
    public const int V2Size = 52;
    public const uint LeaseStateRead = 1, LeaseStateHandle = 2, LeaseStateWrite = 4;
    public const uint FlagBreakInProgress = 2, FlagParentLeaseKeySet = 4;

    /// <summary>v2 when the data has ≥ 52 bytes, v1 when ≥ 32; shorter → MalformedMessageException.</summary>
    public static LeaseContext Parse(ReadOnlySpan<byte> data)
    {
        var r = new WireReader(data);
        var key = r.ReadGuid();
        uint state = r.ReadUInt32();
        uint flags = r.ReadUInt32();
        ulong duration = r.ReadUInt64();
        if (data.Length < V2Size) return new LeaseContext(key, state, flags, duration, Guid.Empty, 0, false);
        var parent = r.ReadGuid();
        ushort epoch = r.ReadUInt16();
        return new LeaseContext(key, state, flags, duration, parent, epoch, true);
    }

    public void WriteTo(WireWriter w, bool version2)
    {
        w.WriteGuid(LeaseKey);
        w.WriteUInt32(LeaseState);
        w.WriteUInt32(Flags);
        w.WriteUInt64(LeaseDuration);
        if (!version2) return;
        w.WriteGuid(ParentLeaseKey);
        w.WriteUInt16(Epoch);
        w.WriteUInt16(0);
    }
}

/// <summary>Request-side create context payload parsers. Each throws MalformedMessageException when the data is too short.</summary>
public static class CreateContextData
{
    /// <summary>"MxAc": empty or Timestamp(8). Returns null when no timestamp is given.</summary>
    public static long? ParseMaximalAccessRequest(ReadOnlySpan<byte> data)
        => data.Length == 0 ? null : new WireReader(data).ReadInt64();

    /// <summary>"AlSi": AllocationSize(8).</summary>
    public static long ParseAllocationSize(ReadOnlySpan<byte> data) => new WireReader(data).ReadInt64();

    /// <summary>"TWrp": Timestamp(8) (FILETIME of the requested previous version).</summary>
    public static long ParseTimewarp(ReadOnlySpan<byte> data) => new WireReader(data).ReadInt64();

    /// <summary>"DHnQ": 16 reserved bytes; only the length is checked.</summary>
    public static void ParseDurableHandleRequest(ReadOnlySpan<byte> data)
    {
        if (data.Length < 16) throw new MalformedMessageException($"DHnQ data {data.Length} bytes");
    }

    /// <summary>"DHnC": Data = FileId(16) of the durable open.</summary>
    public static Smb2FileId ParseDurableHandleReconnect(ReadOnlySpan<byte> data) => Smb2FileId.Parse(data);

    /// <summary>"DH2Q": Timeout(4) Flags(4) Reserved(8) CreateGuid(16).</summary>
    public static DurableHandleRequestV2 ParseDurableHandleRequestV2(ReadOnlySpan<byte> data)
    {
        var r = new WireReader(data);
        uint timeout = r.ReadUInt32();
        uint flags = r.ReadUInt32();
        r.ReadUInt64();
        return new DurableHandleRequestV2(timeout, flags, r.ReadGuid());
    }

    /// <summary>"DH2C": FileId(16) CreateGuid(16) Flags(4).</summary>
    public static DurableHandleReconnectV2 ParseDurableHandleReconnectV2(ReadOnlySpan<byte> data)
    {
        var r = new WireReader(data);
        var fileId = Smb2FileId.Read(ref r);
        var guid = r.ReadGuid();
        return new DurableHandleReconnectV2(fileId, guid, r.ReadUInt32());
    }
}

/// <summary>DH2Q payload. Flags 2 = SMB2_DHANDLE_FLAG_PERSISTENT.</summary>
public readonly record struct DurableHandleRequestV2(uint Timeout, uint Flags, Guid CreateGuid)
{
    public const uint FlagPersistent = 2;
}

/// <summary>DH2C payload.</summary>
public readonly record struct DurableHandleReconnectV2(Smb2FileId FileId, Guid CreateGuid, uint Flags);

internal static class BitConverterLe
{
    public static void Write(byte[] target, int offset, uint value) => System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(target.AsSpan(offset), value);
    public static void Write(byte[] target, int offset, ulong value) => System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(target.AsSpan(offset), value);
}
