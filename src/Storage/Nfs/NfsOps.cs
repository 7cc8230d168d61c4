namespace SmbCopy.Storage.Nfs;

/// <summary>Encoders of the operations this driver sends (RFC 8881 §18, RFC 7862 §15, RFC 8276 §8.4) and decoders of
/// their results.</summary>
internal static class NfsOps
{
    public static readonly byte[] CurrentStateId = [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    public static readonly byte[] AnonymousStateId = new byte[16];

    public static void PutFh(this Compound c, byte[] fh) => c.Op(Nfs4.OpPutfh).Opaque(fh);
    public static void PutRootFh(this Compound c) => c.Op(Nfs4.OpPutrootfh);
    public static void GetFh(this Compound c) => c.Op(Nfs4.OpGetfh);
    public static void SaveFh(this Compound c) => c.Op(Nfs4.OpSavefh);
    public static void Lookup(this Compound c, string name) => c.Op(Nfs4.OpLookup).String(name);
    public static void Getattr(this Compound c, uint[] mask) => c.Op(Nfs4.OpGetattr).Bitmap(mask);
    public static void Readlink(this Compound c) => c.Op(Nfs4.OpReadlink);
    public static void Remove(this Compound c, string name) => c.Op(Nfs4.OpRemove).String(name);
    public static void Rename(this Compound c, string oldName, string newName) => c.Op(Nfs4.OpRename).String(oldName).String(newName);
    public static void Close(this Compound c, byte[] stateId) => c.Op(Nfs4.OpClose).U32(0).Fixed(stateId);
    public static void Commit(this Compound c, long offset, uint count) => c.Op(Nfs4.OpCommit).I64(offset).U32(count);
    public static void GetXattr(this Compound c, string name) => c.Op(Nfs4.OpGetxattr).String(name);
    public static void SetXattr(this Compound c, string name, ReadOnlySpan<byte> value) =>
        c.Op(Nfs4.OpSetxattr).U32(0 /* SETXATTR4_EITHER */).String(name).Opaque(value);

    public static void Setattr(this Compound c, byte[] stateId, NfsSetAttributes attributes)
    {
        var w = c.Op(Nfs4.OpSetattr).Fixed(stateId);
        attributes.Write(w);
    }

    public static void Read(this Compound c, byte[] stateId, long offset, int count) =>
        c.Op(Nfs4.OpRead).Fixed(stateId).I64(offset).U32((uint)count);

    public static void Write(this Compound c, byte[] stateId, long offset, uint stable, ReadOnlySpan<byte> data) =>
        c.Op(Nfs4.OpWrite).Fixed(stateId).I64(offset).U32(stable).Opaque(data);

    public static void Readdir(this Compound c, ulong cookie, ReadOnlySpan<byte> verifier, int dirCount, int maxCount, uint[] mask) =>
        c.Op(Nfs4.OpReaddir).U64(cookie).Fixed(verifier).U32((uint)dirCount).U32((uint)maxCount).Bitmap(mask);

    /// <summary>OPEN: CLAIM_NULL (create or open by name in CURRENT_FH) or CLAIM_FH (CURRENT_FH is the file).</summary>
    public static void Open(this Compound c, uint access, ulong clientId, byte[] owner, string? name, bool create, NfsSetAttributes createAttributes)
    {
        var w = c.Op(Nfs4.OpOpen).U32(0).U32(access | Nfs4.WantNoDeleg).U32(0).U64(clientId).Opaque(owner);
        if (create)
        {
            w.U32(1).U32(1); // OPEN4_CREATE, GUARDED4
            createAttributes.Write(w);
        }
        else
        {
            w.U32(0); // OPEN4_NOCREATE
        }
        if (name is not null)
            w.U32(0).String(name); // CLAIM_NULL
        else
            w.U32(4);              // CLAIM_FH
    }

    public static void CreateObject(this Compound c, uint type, string name, NfsSetAttributes attributes, string? linkData = null, (uint, uint) spec = default)
    {
        var w = c.Op(Nfs4.OpCreate).U32(type);
        if (type == Nfs4.TypeLnk)
            w.String(linkData ?? "");
        else if (type is Nfs4.TypeBlk or Nfs4.TypeChr)
            w.U32(spec.Item1).U32(spec.Item2);
        w.String(name);
        attributes.Write(w);
    }

    public static void Copy(this Compound c, byte[] srcState, byte[] dstState, long srcOffset, long dstOffset, long count,
        bool synchronous = true) =>
        c.Op(Nfs4.OpCopy).Fixed(srcState).Fixed(dstState).I64(srcOffset).I64(dstOffset).I64(count)
            .Bool(false /* consecutive */).Bool(synchronous).U32(0 /* intra-server */);

    public static void OffloadStatus(this Compound c, byte[] stateId) => c.Op(Nfs4.OpOffloadStatus).Fixed(stateId);

    public static void OffloadCancel(this Compound c, byte[] stateId) => c.Op(Nfs4.OpOffloadCancel).Fixed(stateId);

    public static void Clone(this Compound c, byte[] srcState, byte[] dstState, long srcOffset, long dstOffset, long count) =>
        c.Op(Nfs4.OpClone).Fixed(srcState).Fixed(dstState).I64(srcOffset).I64(dstOffset).I64(count);

    // ------------------------------------------------------------------ results

    public static byte[] ReadFh(this NfsReply reply, string what)
    {
        reply.Ok(Nfs4.OpGetfh, what);
        return reply.R.Opaque(128, "nfs_fh4");
    }

    public static NfsAttributes ReadAttrs(this NfsReply reply, string what)
    {
        reply.Ok(Nfs4.OpGetattr, what);
        return NfsAttributes.Parse(reply.R);
    }

    public record struct ChangeInfo(bool Atomic, ulong Before, ulong After);

    public static ChangeInfo ReadChangeInfo(XdrReader r) => new(r.Bool("cinfo.atomic"), r.U64("cinfo.before"), r.U64("cinfo.after"));

    /// <summary>OPEN4resok: stateid, cinfo, rflags, attrset, delegation.</summary>
    public static (byte[] StateId, ChangeInfo Change) ReadOpenResult(XdrReader r)
    {
        var stateId = r.Fixed(16, "open stateid");
        var cinfo = ReadChangeInfo(r);
        r.U32("rflags");
        r.Bitmap("attrset");
        uint delegation = r.U32("delegation_type");
        switch (delegation)
        {
            case 0: break; // OPEN_DELEGATE_NONE
            case 1: // READ
                r.Skip(16, "deleg stateid"); r.Bool("recall"); SkipAce(r);
                break;
            case 2: // WRITE
                r.Skip(16, "deleg stateid"); r.Bool("recall");
                uint limitBy = r.U32("limitby");
                if (limitBy == 1) r.U64("filesize"); else r.Skip(8, "mod_blocks");
                SkipAce(r);
                break;
            case 3: // NONE_EXT
                uint why = r.U32("ond_why");
                if (why is 1 or 2) r.Bool("ond_server_will_push");
                break;
            default:
                throw new NfsProtocolException($"Unknown delegation type {delegation}.");
        }
        return (stateId, cinfo);

        static void SkipAce(XdrReader r) { r.U32("acetype"); r.U32("aceflag"); r.U32("acemask"); r.OpaqueSpan(1024, "who"); }
    }
}
