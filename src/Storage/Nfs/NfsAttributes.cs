namespace SmbCopy.Storage.Nfs;

/// <summary>The attributes this driver reads (RFC 8881 §5.6–5.8, RFC 7862 §12.2, RFC 8276 §8.2), decoded from a fattr4.</summary>
internal sealed class NfsAttributes
{
    public uint[]? Supported;
    public uint? Type;
    public ulong? Change;
    public ulong? Size;
    public (ulong Major, ulong Minor)? Fsid;
    public uint? LeaseTime;
    public uint? RdattrError;
    public byte[]? FileHandle;
    public ulong? FileId;
    public uint? MaxName;
    public uint? Mode;
    public uint? NumLinks;
    public ulong? SpaceAvail, SpaceFree, SpaceTotal, SpaceUsed;
    public (long Seconds, uint Nanoseconds)? TimeAccess, TimeCreate, TimeMetadata, TimeModify;
    public uint? CloneBlockSize;
    public bool? XattrSupport;

    public bool IsDirectory => Type == Nfs4.TypeDir;
    public bool IsRegular => Type == Nfs4.TypeReg;
    public bool IsLink => Type == Nfs4.TypeLnk;

    public static uint[] Mask(params int[] attributes)
    {
        var words = new uint[3];
        foreach (int a in attributes)
            words[a / 32] |= 1u << (a % 32);
        return words;
    }

    public static bool Has(uint[]? bitmap, int attribute) =>
        bitmap is not null && attribute / 32 < bitmap.Length && (bitmap[attribute / 32] & (1u << (attribute % 32))) != 0;

    /// <summary>Decodes a fattr4 (bitmap + attrlist). Attributes this driver did not ask for are refused as malformed
    /// (their sizes are unknown, so nothing after them could be decoded).</summary>
    public static NfsAttributes Parse(XdrReader r)
    {
        var bitmap = r.Bitmap("attrmask");
        var (offset, length) = r.OpaqueRange(1 << 20, "attrlist");
        var a = new XdrReader(r.Buffer, offset, length);
        var result = new NfsAttributes();
        for (int word = 0; word < bitmap.Length; word++)
        {
            uint bits = bitmap[word];
            while (bits != 0)
            {
                int bit = System.Numerics.BitOperations.TrailingZeroCount(bits);
                bits &= bits - 1;
                int attr = word * 32 + bit;
                switch (attr)
                {
                    case Nfs4.AttrSupported: result.Supported = a.Bitmap("supported_attrs"); break;
                    case Nfs4.AttrType: result.Type = a.U32("type"); break;
                    case Nfs4.AttrChange: result.Change = a.U64("change"); break;
                    case Nfs4.AttrSize: result.Size = a.U64("size"); break;
                    case Nfs4.AttrFsid: result.Fsid = (a.U64("fsid.major"), a.U64("fsid.minor")); break;
                    case Nfs4.AttrLeaseTime: result.LeaseTime = a.U32("lease_time"); break;
                    case Nfs4.AttrRdattrError: result.RdattrError = a.U32("rdattr_error"); break;
                    case Nfs4.AttrFilehandle: result.FileHandle = a.Opaque(128, "filehandle"); break;
                    case Nfs4.AttrFileid: result.FileId = a.U64("fileid"); break;
                    case Nfs4.AttrMaxname: result.MaxName = a.U32("maxname"); break;
                    case Nfs4.AttrMode: result.Mode = a.U32("mode"); break;
                    case Nfs4.AttrNumlinks: result.NumLinks = a.U32("numlinks"); break;
                    case Nfs4.AttrSpaceAvail: result.SpaceAvail = a.U64("space_avail"); break;
                    case Nfs4.AttrSpaceFree: result.SpaceFree = a.U64("space_free"); break;
                    case Nfs4.AttrSpaceTotal: result.SpaceTotal = a.U64("space_total"); break;
                    case Nfs4.AttrSpaceUsed: result.SpaceUsed = a.U64("space_used"); break;
                    case Nfs4.AttrTimeAccess: result.TimeAccess = Time(a); break;
                    case Nfs4.AttrTimeCreate: result.TimeCreate = Time(a); break;
                    case Nfs4.AttrTimeMetadata: result.TimeMetadata = Time(a); break;
                    case Nfs4.AttrTimeModify: result.TimeModify = Time(a); break;
                    case Nfs4.AttrCloneBlksize: result.CloneBlockSize = a.U32("clone_blksize"); break;
                    case Nfs4.AttrXattrSupport: result.XattrSupport = a.Bool("xattr_support"); break;
                    default:
                        throw new NfsProtocolException($"Malformed NFS reply: attribute {attr} was not requested.");
                }
            }
        }
        return result;
    }

    private static (long, uint) Time(XdrReader a)
    {
        long s = a.I64("nfstime4.seconds");
        uint ns = a.U32("nfstime4.nseconds");
        if (ns >= 1_000_000_000)
            throw new NfsProtocolException($"Malformed NFS reply: nfstime4 with {ns} nanoseconds.");
        return (s, ns);
    }

    // ------------------------------------------------------------------ Windows view

    private static readonly long FileTimeEpochOffset = DateTime.UnixEpoch.Ticks - new DateTime(1601, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;

    public static DateTime ToDateTime((long Seconds, uint Nanoseconds)? t)
    {
        if (t is not { } v)
            return DateTime.UnixEpoch;
        long fileTime;
        try { fileTime = checked(v.Seconds * TimeSpan.TicksPerSecond + v.Nanoseconds / 100 + FileTimeEpochOffset); }
        catch (OverflowException) { fileTime = v.Seconds < 0 ? 0 : DateTime.MaxValue.ToFileTimeUtc(); }
        return FromFileTime(fileTime);
    }

    public static DateTime FromFileTime(long fileTime) =>
        DateTime.FromFileTimeUtc(Math.Clamp(fileTime, 0, DateTime.MaxValue.ToFileTimeUtc()));

    public static (long Seconds, uint Nanoseconds) ToNfsTime(DateTime time)
    {
        long ticks = time.ToUniversalTime().Ticks - DateTime.UnixEpoch.Ticks;
        long seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long rest);
        if (rest < 0) { seconds--; rest += TimeSpan.TicksPerSecond; }
        return (seconds, (uint)(rest * 100));
    }
}

/// <summary>
/// Writes a fattr4 for SETATTR / CREATE / OPEN: only size (4), mode (33), time_access_set (48) and
/// time_modify_set (54), in ascending order.
/// </summary>
internal readonly record struct NfsSetAttributes(ulong? Size = null, uint? Mode = null, DateTime? Access = null, DateTime? Modify = null)
{
    public void Write(XdrWriter w)
    {
        var mask = new uint[3];
        var body = new XdrWriter(64);
        if (Size is ulong size) { mask[0] |= 1u << Nfs4.AttrSize; body.U64(size); }
        if (Mode is uint mode) { mask[1] |= 1u << (Nfs4.AttrMode - 32); body.U32(mode & 0xFFF); }
        if (Access is DateTime a) { mask[1] |= 1u << (Nfs4.AttrTimeAccessSet - 32); var t = NfsAttributes.ToNfsTime(a); body.U32(1).I64(t.Seconds).U32(t.Nanoseconds); }
        if (Modify is DateTime m) { mask[1] |= 1u << (Nfs4.AttrTimeModifySet - 32); var t = NfsAttributes.ToNfsTime(m); body.U32(1).I64(t.Seconds).U32(t.Nanoseconds); }
        w.Bitmap(mask);
        w.Opaque(body.Written);
    }
}
