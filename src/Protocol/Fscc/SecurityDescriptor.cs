using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Fscc;

/// <summary>MS-DTYP 2.4.6 SECURITY_DESCRIPTOR Control bits.</summary>
[Flags]
public enum SecurityDescriptorControl : ushort
{
    None = 0,
    OwnerDefaulted = 0x0001,
    GroupDefaulted = 0x0002,
    DaclPresent = 0x0004,
    DaclDefaulted = 0x0008,
    SaclPresent = 0x0010,
    SaclDefaulted = 0x0020,
    DaclTrusted = 0x0040,
    ServerSecurity = 0x0080,
    DaclComputedInheritanceRequired = 0x0100,
    SaclComputedInheritanceRequired = 0x0200,
    DaclAutoInherited = 0x0400,
    SaclAutoInherited = 0x0800,
    DaclProtected = 0x1000,
    SaclProtected = 0x2000,
    RmControlValid = 0x4000,
    SelfRelative = 0x8000,
}

/// <summary>MS-DTYP 2.4.4.1 ACE types (the ones this code interprets).</summary>
public enum AceType : byte
{
    AccessAllowed = 0x00,
    AccessDenied = 0x01,
    SystemAudit = 0x02,
    SystemAlarm = 0x03,
    AccessAllowedObject = 0x05,
    AccessDeniedObject = 0x06,
    SystemMandatoryLabel = 0x11,
    SystemResourceAttribute = 0x12,
    SystemScopedPolicyId = 0x13,
}

/// <summary>MS-DTYP 2.4.4.1 AceFlags.</summary>
[Flags]
public enum AceFlags : byte
{
    None = 0,
    ObjectInherit = 0x01,
    ContainerInherit = 0x02,
    NoPropagateInherit = 0x04,
    InheritOnly = 0x08,
    Inherited = 0x10,
    SuccessfulAccess = 0x40,
    FailedAccess = 0x80,
}

/// <summary>MS-DTYP 2.4.2.2 SID: Revision(1)=1 SubAuthorityCount(1) IdentifierAuthority(6, big-endian) SubAuthority(4 each, LE).</summary>
public sealed class Sid : IEquatable<Sid>
{
    public const int MaxSubAuthorities = 15;

    public Sid(ulong identifierAuthority, params uint[] subAuthorities)
    {
        if (identifierAuthority > 0xFFFF_FFFF_FFFFUL) throw new ArgumentOutOfRangeException(nameof(identifierAuthority));
        if (subAuthorities.Length > MaxSubAuthorities) throw new ArgumentOutOfRangeException(nameof(subAuthorities));
        IdentifierAuthority = identifierAuthority;
        SubAuthorities = (uint[])subAuthorities.Clone();
    }

    public ulong IdentifierAuthority { get; }
    public IReadOnlyList<uint> SubAuthorities { get; }
    public int Length => 8 + 4 * SubAuthorities.Count;

    public static Sid Everyone { get; } = new(1, 0);
    public static Sid CreatorOwner { get; } = new(3, 0);
    public static Sid LocalSystem { get; } = new(5, 18);
    public static Sid AuthenticatedUsers { get; } = new(5, 11);
    public static Sid BuiltinAdministrators { get; } = new(5, 32, 544);
    public static Sid BuiltinUsers { get; } = new(5, 32, 545);

    public void WriteTo(WireWriter w)
    {
        w.WriteByte(1);
        w.WriteByte((byte)SubAuthorities.Count);
        w.WriteUInt16BigEndian((ushort)(IdentifierAuthority >> 32));
        w.WriteUInt32BigEndian((uint)IdentifierAuthority);
        foreach (var s in SubAuthorities) w.WriteUInt32(s);
    }

    public byte[] ToBytes()
    {
        using var w = new WireWriter(Length);
        WriteTo(w);
        return w.ToArray();
    }

    /// <summary>Parses a SID at the start of <paramref name="buffer"/>; <paramref name="length"/> = bytes consumed.</summary>
    public static Sid Parse(ReadOnlySpan<byte> buffer, out int length)
    {
        var r = new WireReader(buffer);
        byte revision = r.ReadByte();
        byte count = r.ReadByte();
        if (revision != 1) throw new MalformedMessageException($"SID revision {revision}");
        if (count > MaxSubAuthorities) throw new MalformedMessageException($"SID with {count} subauthorities");
        ulong authority = (ulong)r.ReadUInt16BigEndian() << 32 | r.ReadUInt32BigEndian();
        var subs = new uint[count];
        for (int i = 0; i < count; i++) subs[i] = r.ReadUInt32();
        length = r.Position;
        return new Sid(authority, subs);
    }

    /// <summary>Parses the "S-1-5-32-544" string form.</summary>
    public static Sid FromString(string text)
    {
        var parts = text.Split('-');
        if (parts.Length < 3 || !parts[0].Equals("S", StringComparison.OrdinalIgnoreCase) || parts[1] != "1")
            throw new FormatException($"not a SID string: {text}");
        ulong authority = parts[2].StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.Parse(parts[2].AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)
            : ulong.Parse(parts[2], CultureInfo.InvariantCulture);
        var subs = parts.Skip(3).Select(p => uint.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        return new Sid(authority, subs);
    }

    public override string ToString()
    {
        var sb = new StringBuilder("S-1-");
        sb.Append(IdentifierAuthority < (1UL << 32)
            ? IdentifierAuthority.ToString(CultureInfo.InvariantCulture)
            : "0x" + IdentifierAuthority.ToString("X12", CultureInfo.InvariantCulture));
        foreach (var s in SubAuthorities) sb.Append('-').Append(s.ToString(CultureInfo.InvariantCulture));
        return sb.ToString();
    }

    public bool Equals(Sid? other) => other is not null && other.IdentifierAuthority == IdentifierAuthority && other.SubAuthorities.SequenceEqual(SubAuthorities);
    public override bool Equals(object? obj) => Equals(obj as Sid);
    public override int GetHashCode() => ToString().GetHashCode(StringComparison.Ordinal);
}

/// <summary>
/// An ACE. Types with the simple Mask+SID body (0–3, 0x11, 0x13) are interpreted: <see cref="Sid"/> set,
/// any bytes after the SID kept in <see cref="ApplicationData"/>. Other types keep their whole body raw
/// in <see cref="RawBody"/> (everything after the 4-byte header) so they round-trip.
/// </summary>
public sealed record Ace(AceType Type, AceFlags Flags, AccessMask Mask, Sid? Sid)
{
    public ReadOnlyMemory<byte> ApplicationData { get; init; }
    public ReadOnlyMemory<byte> RawBody { get; init; }

    public static Ace Allow(Sid sid, AccessMask mask, AceFlags flags = AceFlags.None) => new(AceType.AccessAllowed, flags, mask, sid);
    public static Ace Deny(Sid sid, AccessMask mask, AceFlags flags = AceFlags.None) => new(AceType.AccessDenied, flags, mask, sid);

    public int Length => Sid is null ? 4 + RawBody.Length : 8 + Sid.Length + ApplicationData.Length;

    internal static bool HasSimpleBody(AceType t) => t is AceType.AccessAllowed or AceType.AccessDenied or AceType.SystemAudit
        or AceType.SystemAlarm or AceType.SystemMandatoryLabel or AceType.SystemScopedPolicyId;

    public void WriteTo(WireWriter w)
    {
        w.WriteByte((byte)Type);
        w.WriteByte((byte)Flags);
        w.WriteUInt16(checked((ushort)Length));
        if (Sid is null)
        {
            w.WriteBytes(RawBody.Span);
            return;
        }
        w.WriteUInt32((uint)Mask);
        Sid.WriteTo(w);
        w.WriteBytes(ApplicationData.Span);
    }

    internal static Ace Parse(ReadOnlySpan<byte> buffer, out int length)
    {
        var r = new WireReader(buffer);
        var type = (AceType)r.ReadByte();
        var flags = (AceFlags)r.ReadByte();
        ushort size = r.ReadUInt16();
        if (size < 4 || size > buffer.Length) throw new MalformedMessageException($"ACE size {size}");
        var body = buffer[4..size];
        length = size;
        if (!HasSimpleBody(type)) return new Ace(type, flags, 0, null) { RawBody = body.ToArray() };
        var br = new WireReader(body);
        var mask = (AccessMask)br.ReadUInt32();
        var sid = Sid.Parse(body[4..], out int sidLength);
        var extra = body[(4 + sidLength)..];
        return new Ace(type, flags, mask, sid) { ApplicationData = extra.ToArray() };
    }
}

/// <summary>MS-DTYP 2.4.5 ACL: AclRevision(1) Sbz1(1) AclSize(2) AceCount(2) Sbz2(2) then ACEs.</summary>
public sealed class Acl
{
    public const byte RevisionStandard = 2;
    public const byte RevisionDs = 4;

    public Acl(IEnumerable<Ace> aces, byte revision = RevisionStandard)
    {
        Aces = aces.ToList();
        Revision = revision;
    }

    public byte Revision { get; }
    public IReadOnlyList<Ace> Aces { get; }
    public int Length => 8 + Aces.Sum(a => a.Length);

    public void WriteTo(WireWriter w)
    {
        w.WriteByte(Revision);
        w.WriteByte(0);
        w.WriteUInt16(checked((ushort)Length));
        w.WriteUInt16(checked((ushort)Aces.Count));
        w.WriteUInt16(0);
        foreach (var a in Aces) a.WriteTo(w);
    }

    public static Acl Parse(ReadOnlySpan<byte> buffer)
    {
        var r = new WireReader(buffer);
        byte revision = r.ReadByte();
        r.ReadByte();
        ushort size = r.ReadUInt16();
        ushort count = r.ReadUInt16();
        r.ReadUInt16();
        if (revision is not (RevisionStandard or 3 or RevisionDs)) throw new MalformedMessageException($"ACL revision {revision}");
        if (size < 8 || size > buffer.Length) throw new MalformedMessageException($"ACL size {size}");
        var body = buffer[8..size];
        var aces = new List<Ace>(Math.Min((int)count, 256));
        int pos = 0;
        for (int i = 0; i < count; i++)
        {
            aces.Add(Ace.Parse(body[pos..], out int len));
            pos += len;
        }
        return new Acl(aces, revision);
    }
}

/// <summary>
/// A security descriptor, written in self-relative form (MS-DTYP 2.4.6): Revision(1)=1 Sbz1(1) Control(2)
/// OffsetOwner(4) OffsetGroup(4) OffsetSacl(4) OffsetDacl(4), then owner, group, SACL, DACL.
/// A DACL-present descriptor with a null <see cref="Dacl"/> is the NULL DACL (everyone, everything).
/// </summary>
public sealed class SecurityDescriptor
{
    public const int HeaderSize = 20;

    public SecurityDescriptorControl Control { get; init; }
    public Sid? Owner { get; init; }
    public Sid? Group { get; init; }
    public bool SaclPresent { get; init; }
    public Acl? Sacl { get; init; }
    public bool DaclPresent { get; init; }
    public Acl? Dacl { get; init; }
    /// <summary>Sbz1 (the resource-manager control byte when RM_CONTROL_VALID); kept for round trips.</summary>
    public byte Sbz1 { get; init; }

    /// <summary>Owner and group with a DACL granting full control to the owner and to Everyone (inheritable on directories).</summary>
    public static SecurityDescriptor CreateDefault(Sid owner, Sid group, bool isDirectory)
    {
        var inherit = isDirectory ? AceFlags.ObjectInherit | AceFlags.ContainerInherit : AceFlags.None;
        return new SecurityDescriptor
        {
            Owner = owner,
            Group = group,
            DaclPresent = true,
            Dacl = new Acl([Ace.Allow(owner, AccessMask.FileAllAccess, inherit), Ace.Allow(Sid.Everyone, AccessMask.FileAllAccess, inherit)]),
        };
    }

    /// <summary>Writes the parts selected by <paramref name="info"/> (OWNER, GROUP, DACL, SACL/LABEL) in self-relative form.</summary>
    public void WriteTo(WireWriter w, SecurityInformation info)
    {
        var owner = (info & SecurityInformation.Owner) != 0 ? Owner : null;
        var group = (info & SecurityInformation.Group) != 0 ? Group : null;
        bool daclPresent = (info & SecurityInformation.Dacl) != 0 && DaclPresent;
        Acl? sacl = null;
        bool saclPresent = false;
        if ((info & (SecurityInformation.Sacl | SecurityInformation.Label)) != 0 && SaclPresent)
        {
            saclPresent = true;
            sacl = FilterSacl(Sacl, info);
        }

        const SecurityDescriptorControl daclBits = SecurityDescriptorControl.DaclPresent | SecurityDescriptorControl.DaclDefaulted
            | SecurityDescriptorControl.DaclAutoInherited | SecurityDescriptorControl.DaclProtected | SecurityDescriptorControl.DaclTrusted
            | SecurityDescriptorControl.DaclComputedInheritanceRequired;
        const SecurityDescriptorControl saclBits = SecurityDescriptorControl.SaclPresent | SecurityDescriptorControl.SaclDefaulted
            | SecurityDescriptorControl.SaclAutoInherited | SecurityDescriptorControl.SaclProtected | SecurityDescriptorControl.SaclComputedInheritanceRequired;
        var control = Control & ~(SecurityDescriptorControl.OwnerDefaulted | SecurityDescriptorControl.GroupDefaulted | daclBits | saclBits);
        if (owner is not null) control |= Control & SecurityDescriptorControl.OwnerDefaulted;
        if (group is not null) control |= Control & SecurityDescriptorControl.GroupDefaulted;
        if (daclPresent) control |= (Control & daclBits) | SecurityDescriptorControl.DaclPresent;
        if (saclPresent) control |= (Control & saclBits) | SecurityDescriptorControl.SaclPresent;
        control |= SecurityDescriptorControl.SelfRelative;

        int start = w.Length;
        w.WriteByte(1);
        w.WriteByte(Sbz1);
        w.WriteUInt16((ushort)control);
        int offsets = w.Length;
        w.WriteZeros(16);
        if (owner is not null) { w.PatchUInt32(offsets, (uint)(w.Length - start)); owner.WriteTo(w); }
        if (group is not null) { w.PatchUInt32(offsets + 4, (uint)(w.Length - start)); group.WriteTo(w); }
        if (saclPresent && sacl is not null) { w.PatchUInt32(offsets + 8, (uint)(w.Length - start)); sacl.WriteTo(w); }
        if (daclPresent && Dacl is not null) { w.PatchUInt32(offsets + 12, (uint)(w.Length - start)); Dacl.WriteTo(w); }
    }

    public byte[] ToBytes(SecurityInformation info = SecurityInformation.Owner | SecurityInformation.Group | SecurityInformation.Dacl | SecurityInformation.Sacl)
    {
        using var w = new WireWriter(128);
        WriteTo(w, info);
        return w.ToArray();
    }

    private static Acl? FilterSacl(Acl? sacl, SecurityInformation info)
    {
        if (sacl is null) return null;
        bool audit = (info & SecurityInformation.Sacl) != 0;
        bool label = (info & SecurityInformation.Label) != 0;
        if (audit && label) return sacl;
        return new Acl(sacl.Aces.Where(a => (a.Type == AceType.SystemMandatoryLabel) ? label : audit), sacl.Revision);
    }

    /// <summary>
    /// Parses and validates a self-relative descriptor (SecD create context, SET_INFO security): revision 1,
    /// SE_SELF_RELATIVE set, every offset inside the buffer, SIDs and ACLs well-formed. Throws MalformedMessageException.
    /// </summary>
    public static SecurityDescriptor Parse(ReadOnlySpan<byte> buffer)
    {
        var r = new WireReader(buffer);
        byte revision = r.ReadByte();
        byte sbz1 = r.ReadByte();
        var control = (SecurityDescriptorControl)r.ReadUInt16();
        uint offOwner = r.ReadUInt32(), offGroup = r.ReadUInt32(), offSacl = r.ReadUInt32(), offDacl = r.ReadUInt32();
        if (revision != 1) throw new MalformedMessageException($"SD revision {revision}");
        if ((control & SecurityDescriptorControl.SelfRelative) == 0) throw new MalformedMessageException("SD not self-relative");
        bool daclPresent = (control & SecurityDescriptorControl.DaclPresent) != 0;
        bool saclPresent = (control & SecurityDescriptorControl.SaclPresent) != 0;
        return new SecurityDescriptor
        {
            Sbz1 = sbz1,
            Control = control,
            Owner = offOwner == 0 ? null : Sid.Parse(At(buffer, offOwner), out _),
            Group = offGroup == 0 ? null : Sid.Parse(At(buffer, offGroup), out _),
            SaclPresent = saclPresent,
            Sacl = saclPresent && offSacl != 0 ? Acl.Parse(At(buffer, offSacl)) : null,
            DaclPresent = daclPresent,
            Dacl = daclPresent && offDacl != 0 ? Acl.Parse(At(buffer, offDacl)) : null,
        };
    }

    private static ReadOnlySpan<byte> At(ReadOnlySpan<byte> buffer, uint offset)
    {
        if (offset < HeaderSize || offset >= buffer.Length) throw new MalformedMessageException($"SD offset {offset} outside {buffer.Length}");
        return buffer[(int)offset..];
    }

    /// <summary>Reads the Control field without parsing (for callers that only need the present bits).</summary>
    public static SecurityDescriptorControl PeekControl(ReadOnlySpan<byte> buffer)
        => buffer.Length < 4 ? throw new MalformedMessageException("SD shorter than 4 bytes") : (SecurityDescriptorControl)BinaryPrimitives.ReadUInt16LittleEndian(buffer[2..]);
}
