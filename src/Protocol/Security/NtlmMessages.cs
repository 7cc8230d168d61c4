using System.Buffers.Binary;
using System.Text;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Security;

/// <summary>NEGOTIATE_FLAGS (MS-NLMP 2.2.2.5).</summary>
internal static class NtlmFlags
{
    public const uint Unicode = 0x00000001;
    public const uint Oem = 0x00000002;
    public const uint RequestTarget = 0x00000004;
    public const uint Sign = 0x00000010;
    public const uint Seal = 0x00000020;
    public const uint LmKey = 0x00000080;
    public const uint Ntlm = 0x00000200;
    public const uint Anonymous = 0x00000800;
    public const uint AlwaysSign = 0x00008000;
    public const uint TargetTypeDomain = 0x00010000;
    public const uint TargetTypeServer = 0x00020000;
    public const uint ExtendedSessionSecurity = 0x00080000;
    public const uint TargetInfo = 0x00800000;
    public const uint Version = 0x02000000;
    public const uint Negotiate128 = 0x20000000;
    public const uint KeyExchange = 0x40000000;
    public const uint Negotiate56 = 0x80000000;
}

/// <summary>AV_PAIR ids (MS-NLMP 2.2.2.1).</summary>
internal static class AvId
{
    public const ushort Eol = 0;
    public const ushort NbComputerName = 1;
    public const ushort NbDomainName = 2;
    public const ushort DnsComputerName = 3;
    public const ushort DnsDomainName = 4;
    public const ushort DnsTreeName = 5;
    public const ushort Flags = 6;
    public const ushort Timestamp = 7;
}

/// <summary>Parsing and building of the three NTLMSSP messages (MS-NLMP 2.2.1). Every wire offset is bounds-checked.</summary>
internal static class NtlmMessages
{
    public static ReadOnlySpan<byte> Signature => "NTLMSSP\0"u8;
    public const uint TypeNegotiate = 1;
    public const uint TypeChallenge = 2;
    public const uint TypeAuthenticate = 3;
    public const int MicOffset = 72;
    public const int MicSize = 16;

    public static bool IsNtlmssp(ReadOnlySpan<byte> token) => token.Length >= 12 && token[..8].SequenceEqual(Signature);

    public static uint MessageType(ReadOnlySpan<byte> token) =>
        IsNtlmssp(token) ? BinaryPrimitives.ReadUInt32LittleEndian(token[8..]) : 0;

    /// <summary>Reads the NEGOTIATE flags; throws <see cref="MalformedMessageException"/> when it is not a NEGOTIATE_MESSAGE.</summary>
    public static uint ParseNegotiateFlags(ReadOnlySpan<byte> message)
    {
        if (MessageType(message) != TypeNegotiate) throw new MalformedMessageException("not an NTLM NEGOTIATE_MESSAGE");
        if (message.Length < 16) throw new MalformedMessageException("NEGOTIATE_MESSAGE too short");
        return BinaryPrimitives.ReadUInt32LittleEndian(message[12..]);
    }

    /// <summary>Builds a CHALLENGE_MESSAGE with TargetInfo AV pairs 2, 1, 4, 3, 7, 0.</summary>
    public static byte[] BuildChallenge(uint flags, ReadOnlySpan<byte> serverChallenge, string targetName,
        string nbComputer, string nbDomain, string dnsComputer, string dnsDomain, long fileTime)
    {
        using var info = new WireWriter(256);
        WriteAvString(info, AvId.NbDomainName, nbDomain);
        WriteAvString(info, AvId.NbComputerName, nbComputer);
        WriteAvString(info, AvId.DnsDomainName, dnsDomain);
        WriteAvString(info, AvId.DnsComputerName, dnsComputer);
        info.WriteUInt16(AvId.Timestamp);
        info.WriteUInt16(8);
        info.WriteInt64(fileTime);
        info.WriteUInt16(AvId.Eol);
        info.WriteUInt16(0);

        var targetNameBytes = (flags & NtlmFlags.Unicode) != 0 ? Encoding.Unicode.GetBytes(targetName) : Encoding.ASCII.GetBytes(targetName);
        const int headerSize = 56;
        using var w = new WireWriter(headerSize + targetNameBytes.Length + info.Length);
        w.WriteBytes(Signature);
        w.WriteUInt32(TypeChallenge);
        WriteDescriptor(w, targetNameBytes.Length, headerSize);
        w.WriteUInt32(flags);
        w.WriteBytes(serverChallenge);
        w.WriteZeros(8);
        WriteDescriptor(w, info.Length, headerSize + targetNameBytes.Length);
        // Version: 10.0 build 20348, NTLMSSP_REVISION_W2K3 (only meaningful with NEGOTIATE_VERSION).
        w.WriteByte(10);
        w.WriteByte(0);
        w.WriteUInt16(20348);
        w.WriteZeros(3);
        w.WriteByte(0x0F);
        w.WriteBytes(targetNameBytes);
        w.WriteBytes(info.WrittenSpan);
        return w.ToArray();
    }

    private static void WriteAvString(WireWriter w, ushort id, string value)
    {
        int lengthAt = w.Length + 2;
        w.WriteUInt16(id);
        w.WriteUInt16(0);
        int count = w.WriteUtf16(value);
        if (count > ushort.MaxValue) throw new ArgumentException("AV pair value too long", nameof(value));
        w.PatchUInt16(lengthAt, (ushort)count);
    }

    private static void WriteDescriptor(WireWriter w, int length, int offset)
    {
        if (length > ushort.MaxValue) throw new ArgumentException("NTLM field too long");
        w.WriteUInt16((ushort)length);
        w.WriteUInt16((ushort)length);
        w.WriteUInt32((uint)offset);
    }

    /// <summary>Returns the payload named by the 8-byte field descriptor at <paramref name="at"/>.</summary>
    public static ReadOnlySpan<byte> Field(ReadOnlySpan<byte> message, int at)
    {
        var r = new WireReader(message);
        r.Seek(at);
        ushort length = r.ReadUInt16();
        r.ReadUInt16(); // MaxLen: ignored (MS-NLMP says SHOULD equal Len)
        uint offset = r.ReadUInt32();
        return WireReader.Slice(message, offset, length);
    }

    /// <summary>Finds an AV pair's value in a well-formed list; throws when the list runs past its end.</summary>
    public static bool TryFindAvPair(ReadOnlySpan<byte> avPairs, ushort id, out ReadOnlySpan<byte> value)
    {
        var r = new WireReader(avPairs);
        while (r.Remaining >= 4)
        {
            ushort avId = r.ReadUInt16();
            ushort avLen = r.ReadUInt16();
            var v = r.ReadBytes(avLen);
            if (avId == AvId.Eol) break;
            if (avId == id)
            {
                value = v;
                return true;
            }
        }
        value = default;
        return false;
    }
}

/// <summary>The fields of an AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3), as slices of the original bytes.</summary>
internal readonly ref struct NtlmAuthenticate
{
    public ReadOnlySpan<byte> LmResponse { get; init; }
    public ReadOnlySpan<byte> NtResponse { get; init; }
    public string Domain { get; init; }
    public string User { get; init; }
    public string Workstation { get; init; }
    public ReadOnlySpan<byte> EncryptedRandomSessionKey { get; init; }
    public uint Flags { get; init; }

    public static NtlmAuthenticate Parse(ReadOnlySpan<byte> message)
    {
        if (NtlmMessages.MessageType(message) != NtlmMessages.TypeAuthenticate) throw new MalformedMessageException("not an NTLM AUTHENTICATE_MESSAGE");
        if (message.Length < 64) throw new MalformedMessageException("AUTHENTICATE_MESSAGE too short");
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(message[60..]);
        bool unicode = (flags & NtlmFlags.Unicode) != 0;
        return new NtlmAuthenticate
        {
            LmResponse = NtlmMessages.Field(message, 12),
            NtResponse = NtlmMessages.Field(message, 20),
            Domain = Text(NtlmMessages.Field(message, 28), unicode),
            User = Text(NtlmMessages.Field(message, 36), unicode),
            Workstation = Text(NtlmMessages.Field(message, 44), unicode),
            EncryptedRandomSessionKey = NtlmMessages.Field(message, 52),
            Flags = flags,
        };
    }

    private static string Text(ReadOnlySpan<byte> bytes, bool unicode) =>
        unicode ? WireReader.Utf16(bytes) : Encoding.Latin1.GetString(bytes);
}
