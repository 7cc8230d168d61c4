using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Gateway.Smb.Files.Info;

/// <summary>
/// InfoType SECURITY (MS-SMB2 3.3.5.20.3, 3.3.5.21.3; MS-FSA 2.1.5.13, 2.1.5.16). The backend keeps no ACLs:
/// every object shows a fixed descriptor (owner Administrators, group Users, Everyone and the owner full
/// control), and a SET is validated, access-checked and accepted without effect.
/// </summary>
public static class SecurityInfo
{
    private const SecurityInformation Known = SecurityInformation.Owner | SecurityInformation.Group | SecurityInformation.Dacl
        | SecurityInformation.Sacl | SecurityInformation.Label | SecurityInformation.Attribute | SecurityInformation.Scope | SecurityInformation.Backup;

    public static SecurityDescriptor For(bool isDirectory) =>
        SecurityDescriptor.CreateDefault(Sid.BuiltinAdministrators, Sid.BuiltinUsers, isDirectory);

    /// <summary>The self-relative descriptor with the parts <paramref name="info"/> asks for, or BUFFER_TOO_SMALL with the size needed.</summary>
    public static InfoAnswer Query(AccessMask granted, bool isDirectory, SecurityInformation info, uint outputBufferLength)
    {
        info &= Known; // 3.3.5.20.3: unknown flags are ignored
        // MS-FSA 2.1.5.13 (and Samba): the SACL needs ACCESS_SYSTEM_SECURITY, the rest READ_CONTROL.
        if ((info & SecurityInformation.Sacl) != 0 && (granted & AccessMask.AccessSystemSecurity) == 0)
            return InfoAnswer.Fail(NtStatus.AccessDenied);
        if ((info & (SecurityInformation.Owner | SecurityInformation.Group | SecurityInformation.Dacl)) != 0 && (granted & AccessMask.ReadControl) == 0)
            return InfoAnswer.Fail(NtStatus.AccessDenied);

        byte[] sd = For(isDirectory).ToBytes(info);
        if (sd.Length > outputBufferLength) return new InfoAnswer(NtStatus.BufferTooSmall, [], 0, sd.Length);
        return new InfoAnswer(NtStatus.Success, sd, sd.Length);
    }

    /// <summary>Checks a SET of security information: the descriptor must parse and the open must hold the rights for the parts sent.</summary>
    public static NtStatus ValidateSet(AccessMask granted, SecurityInformation info, ReadOnlySpan<byte> buffer)
    {
        if (buffer.Length < SecurityDescriptor.HeaderSize) return NtStatus.InfoLengthMismatch;
        try { SecurityDescriptor.Parse(buffer); }
        catch (MalformedMessageException) { return NtStatus.InvalidParameter; } // Windows: STATUS_INVALID_SECURITY_DESCR family
        if ((info & (SecurityInformation.Owner | SecurityInformation.Group)) != 0 && (granted & AccessMask.WriteOwner) == 0)
            return NtStatus.AccessDenied;
        if ((info & SecurityInformation.Dacl) != 0 && (granted & AccessMask.WriteDac) == 0)
            return NtStatus.AccessDenied;
        if ((info & SecurityInformation.Sacl) != 0 && (granted & AccessMask.AccessSystemSecurity) == 0)
            return NtStatus.AccessDenied;
        return NtStatus.Success;
    }
}
