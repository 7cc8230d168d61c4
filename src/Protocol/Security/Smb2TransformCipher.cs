using System.Buffers.Binary;
using System.Security.Cryptography;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Protocol.Security;

/// <summary>
/// SMB2 TRANSFORM_HEADER encryption (MS-SMB2 2.2.41, 3.1.4.3): AES-CCM / AES-GCM with AAD = header bytes 20..51
/// and the tag in the header's Signature field. Thread-safe; one per session.
/// Nonces are unique per instance: a 64-bit counter started at a random value, followed by random salt bytes.
/// </summary>
public sealed class Smb2TransformCipher : IDisposable
{
    public const int HeaderSize = 52;
    private const int TagSize = 16;
    private const int SignatureOffset = 4;
    private const int NonceOffset = 20;
    private const int NonceFieldSize = 16;
    private const int OriginalSizeOffset = 36;
    private const int FlagsOffset = 42;
    private const int SessionIdOffset = 44;
    private const ushort FlagEncrypted = 1;

    private readonly byte[] _encryptionKey;
    private readonly byte[] _decryptionKey;
    private readonly byte[] _nonceSalt;
    private long _counter;
    private bool _disposed;

    public Smb2TransformCipher(CipherId cipher, byte[] encryptionKey, byte[] decryptionKey)
    {
        ArgumentNullException.ThrowIfNull(encryptionKey);
        ArgumentNullException.ThrowIfNull(decryptionKey);
        int keySize = cipher switch
        {
            CipherId.Aes128Ccm or CipherId.Aes128Gcm => 16,
            CipherId.Aes256Ccm or CipherId.Aes256Gcm => 32,
            _ => throw new ArgumentOutOfRangeException(nameof(cipher), cipher, "not an encryption cipher"),
        };
        if (encryptionKey.Length != keySize || decryptionKey.Length != keySize)
            throw new ArgumentException($"{cipher} needs {keySize}-byte keys");
        if (IsCcm(cipher) && !AesCcm.IsSupported) throw new PlatformNotSupportedException("AES-CCM is not available");
        if (!IsCcm(cipher) && !AesGcm.IsSupported) throw new PlatformNotSupportedException("AES-GCM is not available");
        Cipher = cipher;
        _encryptionKey = (byte[])encryptionKey.Clone();
        _decryptionKey = (byte[])decryptionKey.Clone();
        _nonceSalt = RandomNumberGenerator.GetBytes(NonceLength - 8);
        _counter = BinaryPrimitives.ReadInt64LittleEndian(RandomNumberGenerator.GetBytes(8));
    }

    public CipherId Cipher { get; }

    private static bool IsCcm(CipherId c) => c is CipherId.Aes128Ccm or CipherId.Aes256Ccm;
    private int NonceLength => IsCcm(Cipher) ? 11 : 12;

    /// <summary>Returns TRANSFORM_HEADER ‖ ciphertext for one SMB2 message (or compound chain).</summary>
    public byte[] Encrypt(ReadOnlySpan<byte> message, ulong sessionId)
    {
        Span<byte> nonce = stackalloc byte[NonceLength];
        BinaryPrimitives.WriteInt64LittleEndian(nonce, Interlocked.Increment(ref _counter));
        _nonceSalt.CopyTo(nonce[8..]);
        return EncryptWithNonce(message, sessionId, nonce);
    }

    /// <summary>Encryption with a caller-chosen nonce: for the published test vectors only.</summary>
    internal byte[] EncryptWithNonce(ReadOnlySpan<byte> message, ulong sessionId, ReadOnlySpan<byte> nonce)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (nonce.Length != NonceLength) throw new ArgumentException("wrong nonce length", nameof(nonce));
        var output = new byte[HeaderSize + message.Length];
        var header = output.AsSpan(0, HeaderSize);
        BinaryPrimitives.WriteUInt32LittleEndian(header, Smb2Header.TransformProtocolId);
        nonce.CopyTo(header[NonceOffset..]);
        BinaryPrimitives.WriteUInt32LittleEndian(header[OriginalSizeOffset..], (uint)message.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(header[FlagsOffset..], FlagEncrypted);
        BinaryPrimitives.WriteUInt64LittleEndian(header[SessionIdOffset..], sessionId);
        var aad = header[NonceOffset..];
        var tag = header.Slice(SignatureOffset, TagSize);
        var ciphertext = output.AsSpan(HeaderSize);
        if (IsCcm(Cipher))
        {
            using var ccm = new AesCcm(_encryptionKey);
            ccm.Encrypt(nonce, message, ciphertext, tag, aad);
        }
        else
        {
            using var gcm = new AesGcm(_encryptionKey, TagSize);
            gcm.Encrypt(nonce, message, ciphertext, tag, aad);
        }
        return output;
    }

    /// <summary>Decrypts a TRANSFORM_HEADER message with the client→server key; false on a bad header, size or tag.</summary>
    public bool TryDecrypt(ReadOnlySpan<byte> transformMessage, out byte[] plaintext)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        plaintext = [];
        if (transformMessage.Length <= HeaderSize) return false;
        var header = transformMessage[..HeaderSize];
        if (BinaryPrimitives.ReadUInt32LittleEndian(header) != Smb2Header.TransformProtocolId) return false;
        if (BinaryPrimitives.ReadUInt16LittleEndian(header[FlagsOffset..]) != FlagEncrypted) return false;
        uint originalSize = BinaryPrimitives.ReadUInt32LittleEndian(header[OriginalSizeOffset..]);
        var ciphertext = transformMessage[HeaderSize..];
        if (originalSize != (uint)ciphertext.Length) return false;
        var nonce = header.Slice(NonceOffset, NonceLength);
        var aad = header[NonceOffset..];
        var tag = header.Slice(SignatureOffset, TagSize);
        var output = new byte[ciphertext.Length];
        try
        {
            if (IsCcm(Cipher))
            {
                using var ccm = new AesCcm(_decryptionKey);
                ccm.Decrypt(nonce, ciphertext, tag, output, aad);
            }
            else
            {
                using var gcm = new AesGcm(_decryptionKey, TagSize);
                gcm.Decrypt(nonce, ciphertext, tag, output, aad);
            }
        }
        catch (CryptographicException)
        {
            CryptographicOperations.ZeroMemory(output);
            return false;
        }
        plaintext = output;
        return true;
    }

    /// <summary>Reads SessionId from a TRANSFORM_HEADER (to find the session whose keys decrypt it).</summary>
    public static bool TryReadSessionId(ReadOnlySpan<byte> transformMessage, out ulong sessionId)
    {
        sessionId = 0;
        if (transformMessage.Length < HeaderSize) return false;
        if (BinaryPrimitives.ReadUInt32LittleEndian(transformMessage) != Smb2Header.TransformProtocolId) return false;
        sessionId = BinaryPrimitives.ReadUInt64LittleEndian(transformMessage[SessionIdOffset..]);
        return true;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        CryptographicOperations.ZeroMemory(_encryptionKey);
        CryptographicOperations.ZeroMemory(_decryptionKey);
    }
}
