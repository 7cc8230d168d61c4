using System.Security.Cryptography;

namespace SmbCopy.Protocol.Security;

/// <summary>
/// SMB 3.1.1 pre-authentication integrity hash (MS-SMB2 3.3.5.4, 3.3.5.5): a SHA-512 chain
/// H = SHA-512(H ‖ message) that starts at 64 zero bytes. Messages are hashed from the SMB2 header
/// to the end, without the 4-byte transport prefix. Not thread-safe; the connection owns it and
/// <see cref="Clone"/>s it into each session set-up.
/// </summary>
public sealed class PreauthIntegrityHash
{
    public const int Size = 64;
    private readonly byte[] _value;

    public PreauthIntegrityHash() => _value = new byte[Size];

    private PreauthIntegrityHash(byte[] value) => _value = value;

    public PreauthIntegrityHash Clone() => new((byte[])_value.Clone());

    public void Update(ReadOnlySpan<byte> message)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA512);
        sha.AppendData(_value);
        sha.AppendData(message);
        sha.GetHashAndReset(_value);
    }

    /// <summary>A copy of the current 64-byte value (the KDF context once the session is set up).</summary>
    public byte[] Value => (byte[])_value.Clone();
}
