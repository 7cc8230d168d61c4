using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Tests.Messages;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Tests.Fscc;

public class SecurityDescriptorTests
{
    // MS-DTYP 2.4.2.2: S-1-5-32-544 (BUILTIN\Administrators) in binary form.
    private const string AdminsSid = "01020000000000052000000020020000";
    private const string SystemSid = "010100000000000512000000";
    private const string EveryoneSid = "010100000000000100000000";

    [Fact]
    public void Well_known_sids_have_their_documented_bytes()
    {
        Assert.Equal(AdminsSid, Convert.ToHexString(Sid.BuiltinAdministrators.ToBytes()));
        Assert.Equal(SystemSid, Convert.ToHexString(Sid.LocalSystem.ToBytes()));
        Assert.Equal(EveryoneSid, Convert.ToHexString(Sid.Everyone.ToBytes()));
        Assert.Equal("S-1-5-32-544", Sid.BuiltinAdministrators.ToString());
        Assert.Equal(Sid.BuiltinAdministrators, Sid.FromString("S-1-5-32-544"));
        var domain = Sid.FromString("S-1-5-21-1004336348-1177238915-682003330-512");
        Assert.Equal(domain, Sid.Parse(domain.ToBytes(), out int len));
        Assert.Equal(28, len);
    }

    private static readonly string DefaultSdHex =
        "01000480" + "14000000" + "24000000" + "00000000" + "30000000"
        + AdminsSid + SystemSid
        + "02003400" + "02000000"
        + "00001800" + "FF011F00" + AdminsSid
        + "00001400" + "FF011F00" + EveryoneSid;

    [Fact]
    public void Default_descriptor_matches_hand_built_self_relative_layout()
    {
        var sd = SecurityDescriptor.CreateDefault(Sid.BuiltinAdministrators, Sid.LocalSystem, isDirectory: false);
        var bytes = sd.ToBytes(SecurityInformation.Owner | SecurityInformation.Group | SecurityInformation.Dacl);
        Assert.Equal(DefaultSdHex, Convert.ToHexString(bytes));
    }

    [Fact]
    public void Additional_information_selects_parts()
    {
        var sd = SecurityDescriptor.CreateDefault(Sid.BuiltinAdministrators, Sid.LocalSystem, isDirectory: true);
        Assert.Equal("01000080" + "14000000" + "00000000" + "00000000" + "00000000" + AdminsSid,
            Convert.ToHexString(sd.ToBytes(SecurityInformation.Owner)));
        var daclOnly = sd.ToBytes(SecurityInformation.Dacl);
        var parsed = SecurityDescriptor.Parse(daclOnly);
        Assert.Null(parsed.Owner);
        Assert.Null(parsed.Group);
        Assert.True(parsed.DaclPresent);
        Assert.Equal(AceFlags.ObjectInherit | AceFlags.ContainerInherit, parsed.Dacl!.Aces[0].Flags);
        Assert.Equal(SecurityDescriptorControl.SelfRelative | SecurityDescriptorControl.DaclPresent, parsed.Control);
        Assert.Equal(20, sd.ToBytes(SecurityInformation.None).Length);
    }

    [Fact]
    public void Round_trip_keeps_sacl_label_and_unknown_aces()
    {
        var objectAceBody = new Bytes().U32(0x100).U32(1).Guid(Guid.NewGuid()).Raw(Sid.Everyone.ToBytes()).ToArray();
        var sd = new SecurityDescriptor
        {
            Control = SecurityDescriptorControl.DaclAutoInherited | SecurityDescriptorControl.DaclProtected,
            Owner = Sid.FromString("S-1-5-21-1-2-3-1001"),
            Group = Sid.FromString("S-1-5-21-1-2-3-513"),
            SaclPresent = true,
            Sacl = new Acl([
                new Ace(AceType.SystemAudit, AceFlags.FailedAccess, AccessMask.Delete, Sid.Everyone),
                new Ace(AceType.SystemMandatoryLabel, AceFlags.None, (AccessMask)1, new Sid(16, 0x2000)),
            ]),
            DaclPresent = true,
            Dacl = new Acl([
                Ace.Deny(Sid.Everyone, AccessMask.WriteDac),
                new Ace(AceType.AccessAllowedObject, AceFlags.Inherited, 0, null) { RawBody = objectAceBody },
                Ace.Allow(Sid.AuthenticatedUsers, AccessMask.FileGenericRead) with { ApplicationData = new byte[] { 1, 2, 3, 4 } },
            ], Acl.RevisionDs),
        };
        var all = SecurityInformation.Owner | SecurityInformation.Group | SecurityInformation.Dacl | SecurityInformation.Sacl | SecurityInformation.Label;
        var bytes = sd.ToBytes(all);
        var parsed = SecurityDescriptor.Parse(bytes);
        Assert.Equal(sd.Owner, parsed.Owner);
        Assert.Equal(sd.Group, parsed.Group);
        Assert.Equal(2, parsed.Sacl!.Aces.Count);
        Assert.Equal(3, parsed.Dacl!.Aces.Count);
        Assert.Equal(objectAceBody, parsed.Dacl.Aces[1].RawBody.ToArray());
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, parsed.Dacl.Aces[2].ApplicationData.ToArray());
        Assert.Equal(Acl.RevisionDs, parsed.Dacl.Revision);
        Assert.True((parsed.Control & SecurityDescriptorControl.DaclProtected) != 0);
        Assert.Equal(Convert.ToHexString(bytes), Convert.ToHexString(parsed.ToBytes(all)));

        // LABEL without SACL keeps only the label ACE, and vice versa
        Assert.Equal(AceType.SystemMandatoryLabel, SecurityDescriptor.Parse(sd.ToBytes(SecurityInformation.Label)).Sacl!.Aces.Single().Type);
        Assert.Equal(AceType.SystemAudit, SecurityDescriptor.Parse(sd.ToBytes(SecurityInformation.Sacl)).Sacl!.Aces.Single().Type);
    }

    [Fact]
    public void Null_dacl_parses_as_present_without_acl()
    {
        var bytes = new Bytes().U8(1).U8(0).U16(0x8004).U32(0).U32(0).U32(0).U32(0).ToArray();
        var sd = SecurityDescriptor.Parse(bytes);
        Assert.True(sd.DaclPresent);
        Assert.Null(sd.Dacl);
    }

    public static TheoryData<string, string> BadDescriptors => new()
    {
        { "absolute form", "01000400" + "00000000" + "00000000" + "00000000" + "00000000" },
        { "revision 2", "02000480" + "00000000" + "00000000" + "00000000" + "00000000" },
        { "owner offset past end", "01000080" + "40000000" + "00000000" + "00000000" + "00000000" },
        { "owner offset inside header", "01000080" + "04000000" + "00000000" + "00000000" + "00000000" + AdminsSid },
        { "sid cut", "01000080" + "14000000" + "00000000" + "00000000" + "00000000" + AdminsSid[..24] },
        { "sid with 200 subauthorities", "01000080" + "14000000" + "00000000" + "00000000" + "00000000" + "01C8000000000005" },
        { "acl size past end", "01000480" + "00000000" + "00000000" + "00000000" + "14000000" + "02004000" + "00000000" },
        { "ace count lies", "01000480" + "00000000" + "00000000" + "00000000" + "14000000" + "02000800" + "01000000" },
        { "ace size past acl", "01000480" + "00000000" + "00000000" + "00000000" + "14000000" + "02001000" + "01000000" + "00002000" + "FF011F00" },
        { "ace size below header", "01000480" + "00000000" + "00000000" + "00000000" + "14000000" + "02001000" + "01000000" + "00000200" + "FF011F00" },
        { "truncated header", "0100048014000000" },
    };

    [Theory]
    [MemberData(nameof(BadDescriptors))]
    public void Malformed_descriptors_are_rejected(string why, string hex)
    {
        Assert.NotEmpty(why);
        Assert.Throws<MalformedMessageException>(() => SecurityDescriptor.Parse(Convert.FromHexString(hex)));
    }

    [Fact]
    public void Mutations_only_throw_malformed()
    {
        var sd = SecurityDescriptor.CreateDefault(Sid.FromString("S-1-5-21-1-2-3-1001"), Sid.BuiltinUsers, true);
        Mutation.OnlyMalformed(sd.ToBytes(), m => SecurityDescriptor.Parse(m.Span));
    }
}
