using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Rpc;

/// <summary>Outcome of one srvsvc call: a response stub, or a fault status for a fault PDU.</summary>
internal readonly record struct RpcCallResult(byte[]? Stub, uint FaultStatus)
{
    public static RpcCallResult Fault(uint status) => new(null, status);
}

/// <summary>
/// The srvsvc operations (MS-SRVS 3.1.4) that share browsing uses, over NDR 2.0. Layouts follow the
/// MS-SRVS IDL (identical on the wire to Samba's librpc/idl/srvsvc.idl):
/// <list type="bullet">
/// <item>opnum 15 NetrShareEnum (Samba: NetShareEnumAll): in ServerName (unique string), InfoStruct
/// {Level, union(switch Level) container pointer}, PreferedMaximumLength, ResumeHandle (unique);
/// out InfoStruct, TotalEntries, ResumeHandle (unique), WERROR.</item>
/// <item>opnum 16 NetrShareGetInfo: in ServerName, NetName ([string] wchar_t[], no pointer), Level;
/// out union(switch Level) info pointer, WERROR.</item>
/// <item>opnum 21 NetrServerGetInfo: in ServerName, Level; out union(switch Level) info pointer, WERROR.</item>
/// </list>
/// A non-encapsulated union is marshalled as its discriminant (uint32) then the arm; every arm here is a
/// unique pointer. A level that no side's IDL knows has an empty arm (Samba's "[default] ;").
/// </summary>
internal static class SrvsvcService
{
    public const ushort OpNetrShareEnum = 15;
    public const ushort OpNetrShareGetInfo = 16;
    public const ushort OpNetrServerGetInfo = 21;

    public const uint NerrSuccess = 0;
    public const uint ErrorInvalidLevel = 124;
    public const uint ErrorMoreData = 234;
    public const uint NerrNetNameNotFound = 2310;

    public const uint MaxPreferredLength = 0xFFFFFFFF;
    public const uint PlatformIdNt = 500;
    /// <summary>SV_TYPE_WORKSTATION | SV_TYPE_SERVER | SV_TYPE_NT | SV_TYPE_SERVER_NT.</summary>
    public const uint ServerTypeNtServer = 0x00009003;

    private const uint ShareUsesUnlimited = 0xFFFFFFFF;
    private const uint StypeMask = 0x0FFFFFFF;
    private const uint StypeIpc = 3;

    /// <summary>
    /// Shapes of the share info structs, to read a container a client sends in a NetrShareEnum
    /// request: S unique string pointer, D uint32, B unique pointer to a conformant byte array.
    /// Covers every level of the SHARE_ENUM_UNION in MS-SRVS and of srvsvc_NetShareCtr in Samba.
    /// </summary>
    private static readonly Dictionary<uint, string> ShareShapes = new()
    {
        [0] = "S",
        [1] = "SDS",
        [2] = "SDSDDDSS",
        [501] = "SDSD",
        [502] = "SDSDDDSSDB",
        [503] = "SDSDDDSSSDB",
        [1004] = "S",
        [1005] = "D",
        [1006] = "D",
        [1007] = "DS",
        [1501] = "DB",
    };

    private static readonly HashSet<uint> ShareEnumLevels = [0, 1, 2, 501, 502];
    private static readonly HashSet<uint> ShareGetInfoLevels = [0, 1, 2, 501, 502, 1005];
    private static readonly HashSet<uint> ServerGetInfoLevels = [100, 101, 102];

    /// <summary>Levels that have a (pointer) arm in SERVER_INFO / srvsvc_NetSrvInfo.</summary>
    private static readonly HashSet<uint> ServerUnionLevels =
    [
        100, 101, 102, 402, 403, 502, 503, 599, 1005, 1010, 1016, 1017, 1018, 1107,
        1501, 1502, 1503, 1506, 1509, 1510, 1511, 1512, 1513, 1514, 1515, 1516, 1518, 1520, 1521,
        1522, 1523, 1524, 1525, 1528, 1529, 1530, 1533, 1534, 1535, 1536, 1537, 1538, 1539, 1540,
        1541, 1542, 1543, 1544, 1545, 1546, 1547, 1548, 1549, 1550, 1552, 1553, 1554, 1555, 1556,
    ];

    public static RpcCallResult Dispatch(ushort opnum, ReadOnlySpan<byte> stub, Func<IReadOnlyList<RpcShareInfo>> shares, RpcServerInfo server)
    {
        try
        {
            return opnum switch
            {
                OpNetrShareEnum => new(ShareEnum(stub, shares()), 0),
                OpNetrShareGetInfo => new(ShareGetInfo(stub, shares()), 0),
                OpNetrServerGetInfo => new(ServerGetInfo(stub, server), 0),
                _ => RpcCallResult.Fault(RpcPdu.NcaOpRangeError),
            };
        }
        catch (MalformedMessageException)
        {
            return RpcCallResult.Fault(RpcPdu.NcaFaultNdr);
        }
    }

    // ---- opnum 15 ----

    private static byte[] ShareEnum(ReadOnlySpan<byte> stub, IReadOnlyList<RpcShareInfo> shares)
    {
        var r = new NdrReader(stub);
        r.UniqueString();                 // ServerName: not checked, as Windows accepts any of its names
        uint level = r.UInt32();
        uint discriminant = r.UInt32();
        if (discriminant != level) throw new MalformedMessageException($"union switch {discriminant} != level {level}");
        bool hasArm = ShareShapes.TryGetValue(level, out var shape);
        if (hasArm)
        {
            uint containerReferent = r.UInt32();
            if (containerReferent != 0) SkipShareContainer(ref r, shape!);
        }
        uint preferredMaximum = r.UInt32();
        uint resumeReferent = r.UInt32();
        uint resume = resumeReferent != 0 ? r.UInt32() : 0;

        using var w = new NdrWriter();
        w.UInt32(level);
        w.UInt32(level);
        uint totalEntries = 0;
        uint resumeOut = 0;
        uint status;
        if (!ShareEnumLevels.Contains(level))
        {
            if (hasArm) w.Null();
            status = ErrorInvalidLevel;
        }
        else
        {
            int start = (int)Math.Min(resume, (uint)shares.Count);
            int count = CountThatFits(shares, start, level, preferredMaximum);
            totalEntries = (uint)(shares.Count - start);
            bool more = start + count < shares.Count;
            resumeOut = more ? (uint)(start + count) : 0;
            status = more ? ErrorMoreData : NerrSuccess;

            w.Referent();                 // container
            w.UInt32((uint)count);        // EntriesRead
            if (count == 0)
            {
                w.Null();
            }
            else
            {
                w.Referent();             // Buffer
                w.UInt32((uint)count);    // conformant array max_count
                for (int i = start; i < start + count; i++) WriteShareScalars(w, level, shares[i]);
                w.WriteDeferred();
            }
        }
        w.UInt32(totalEntries);
        if (resumeReferent != 0)
        {
            w.Referent();
            w.UInt32(resumeOut);
        }
        else
        {
            w.Null();
        }
        w.UInt32(status);
        return w.ToArray();
    }

    /// <summary>
    /// How many entries from <paramref name="start"/> fit in the client's preferred maximum, sized the
    /// way the Windows server does (fixed 32-bit struct size plus the strings). At least one, so a
    /// client that resumes always progresses.
    /// </summary>
    private static int CountThatFits(IReadOnlyList<RpcShareInfo> shares, int start, uint level, uint preferredMaximum)
    {
        int available = shares.Count - start;
        if (preferredMaximum == MaxPreferredLength || available == 0) return available;
        long fixedSize = level switch { 0 => 4, 1 => 12, 2 => 32, 501 => 16, _ => 40 };
        long used = 0;
        int count = 0;
        for (int i = start; i < shares.Count; i++)
        {
            var s = shares[i];
            long size = fixedSize + (s.Name.Length + 1) * 2L;
            if (level != 0) size += (s.Remark.Length + 1) * 2L;
            if (level is 2 or 502) size += (PathOf(s).Length + 1) * 2L;
            if (count > 0 && used + size > preferredMaximum) break;
            used += size;
            count++;
        }
        return count;
    }

    private static void SkipShareContainer(ref NdrReader r, string shape)
    {
        r.UInt32();                            // EntriesRead
        uint bufferReferent = r.UInt32();
        if (bufferReferent == 0) return;
        uint n = r.UInt32();                   // max_count
        if ((long)n * shape.Length * 4 > r.Remaining) throw new MalformedMessageException($"{n} entries past the stub");
        var pointees = new List<char>();
        for (uint i = 0; i < n; i++)
        {
            foreach (char kind in shape)
            {
                uint value = r.UInt32();
                if (kind != 'D' && value != 0) pointees.Add(kind);
            }
        }
        foreach (char kind in pointees)
        {
            if (kind == 'S') r.ConformantVaryingString();
            else r.SkipConformantByteArray();
        }
    }

    private static string PathOf(RpcShareInfo share) => (share.Type & StypeMask) == StypeIpc ? "" : "C:\\";

    private static void WriteShareScalars(NdrWriter w, uint level, RpcShareInfo share)
    {
        if (level == 1005)
        {
            w.UInt32(0);                      // shi1005_flags: not in DFS, manual caching
            return;
        }
        w.StringPointer(share.Name);
        if (level == 0) return;
        w.UInt32(share.Type);
        w.StringPointer(share.Remark);
        if (level == 1) return;
        if (level == 501)
        {
            w.UInt32(0);                      // shi501_flags
            return;
        }
        w.UInt32(0);                          // permissions (ignored with user-level security)
        w.UInt32(ShareUsesUnlimited);         // max_uses
        w.UInt32(0);                          // current_uses
        w.StringPointer(PathOf(share));       // path
        w.StringPointer(null);                // passwd
        if (level == 502)
        {
            w.UInt32(0);                      // shi502_reserved: security descriptor length
            w.Null();                         // shi502_security_descriptor
        }
    }

    // ---- opnum 16 ----

    private static byte[] ShareGetInfo(ReadOnlySpan<byte> stub, IReadOnlyList<RpcShareInfo> shares)
    {
        var r = new NdrReader(stub);
        r.UniqueString();
        string name = r.ConformantVaryingString();
        uint level = r.UInt32();

        using var w = new NdrWriter();
        w.UInt32(level);
        uint status;
        if (!ShareGetInfoLevels.Contains(level))
        {
            if (ShareShapes.ContainsKey(level)) w.Null();
            status = ErrorInvalidLevel;
        }
        else
        {
            RpcShareInfo? share = null;
            foreach (var s in shares)
            {
                if (string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase))
                {
                    share = s;
                    break;
                }
            }
            if (share is null)
            {
                w.Null();
                status = NerrNetNameNotFound;
            }
            else
            {
                w.Referent();
                WriteShareScalars(w, level, share);
                w.WriteDeferred();
                status = NerrSuccess;
            }
        }
        w.UInt32(status);
        return w.ToArray();
    }

    // ---- opnum 21 ----

    private static byte[] ServerGetInfo(ReadOnlySpan<byte> stub, RpcServerInfo server)
    {
        var r = new NdrReader(stub);
        r.UniqueString();
        uint level = r.UInt32();

        using var w = new NdrWriter();
        w.UInt32(level);
        uint status;
        if (!ServerGetInfoLevels.Contains(level))
        {
            if (ServerUnionLevels.Contains(level)) w.Null();
            status = ErrorInvalidLevel;
        }
        else
        {
            w.Referent();
            w.UInt32(PlatformIdNt);
            w.StringPointer(server.ServerName);
            if (level >= 101)
            {
                w.UInt32(10);                 // version_major
                w.UInt32(0);                  // version_minor
                w.UInt32(ServerTypeNtServer);
                w.StringPointer(server.Comment);
            }
            if (level == 102)
            {
                w.UInt32(0xFFFFFFFF);         // users: no limit
                w.UInt32(15);                 // disc: autodisconnect minutes (Windows default)
                w.UInt32(0);                  // hidden: SV_VISIBLE
                w.UInt32(240);                // announce (s)
                w.UInt32(3000);               // anndelta (ms)
                w.UInt32(0);                  // licenses
                w.StringPointer("C:\\");      // userpath
            }
            w.WriteDeferred();
            status = NerrSuccess;
        }
        w.UInt32(status);
        return w.ToArray();
    }
}
