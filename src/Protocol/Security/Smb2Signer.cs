using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Protocol.Security;

/// <summary>
/// SMB2 message signing (MS-SMB2 3.1.4.1): HMAC-SHA256 (2.0.2/2.1, truncated to 16 bytes), AES-128-CMAC (3.x),
/// AES-128-GMAC (3.1.1). Thread-safe: no mutable state is shared between calls.
/// </summary>
public sealed class Smb2Signer : IDisposable
{
    private const int SignatureOffset = Smb2Header.SignatureOffset;
    private const int SignatureSize = 16;
    private static readonly byte[] ZeroSignature = new byte[SignatureSize];
    private readonly byte[] _key;
    private readonly AesGcm? _gmac;
    private readonly object _gmacGate = new();
    private bool _disposed;

    public Smb2Signer(SigningAlgorithm algorithm, byte[] signingKey)
    {
        ArgumentNullException.ThrowIfNull(signingKey);
        if (algorithm is not (SigningAlgorithm.HmacSha256 or SigningAlgorithm.AesCmac or SigningAlgorithm.AesGmac))
            throw new ArgumentOutOfRangeException(nameof(algorithm));
        if (algorithm != SigningAlgorithm.HmacSha256 && signingKey.Length != 16)
            throw new ArgumentException("AES-128 signing needs a 16-byte key", nameof(signingKey));
        if (signingKey.Length == 0) throw new ArgumentException("empty signing key", nameof(signingKey));
        Algorithm = algorithm;
        _key = (byte[])signingKey.Clone();
        if (algorithm == SigningAlgorithm.AesGmac) _gmac = new AesGcm(_key, SignatureSize);
    }

    public SigningAlgorithm Algorithm { get; }

    /// <summary>Sets SMB2_FLAGS_SIGNED, zeroes the signature field and fills it with the MAC of the whole message.</summary>
    public void Sign(Span<byte> message)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (message.Length < Smb2Header.Size) throw new ArgumentException("message shorter than an SMB2 header", nameof(message));
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(message[16..]);
        BinaryPrimitives.WriteUInt32LittleEndian(message[16..], flags | (uint)Smb2Flags.Signed);
        message.Slice(SignatureOffset, SignatureSize).Clear();
        Span<byte> signature = stackalloc byte[SignatureSize];
        Compute(message, signature, signatureZeroed: true);
        signature.CopyTo(message.Slice(SignatureOffset, SignatureSize));
    }

    /// <summary>
    /// As <see cref="Verify"/>, for a message the caller owns: the signature field is zeroed while the MAC
    /// is computed over the message in place (no copy of a large WRITE for AES-GMAC), then restored.
    /// </summary>
    public bool VerifyInPlace(Span<byte> message)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (message.Length < Smb2Header.Size) return false;
        Span<byte> received = stackalloc byte[SignatureSize];
        var field = message.Slice(SignatureOffset, SignatureSize);
        field.CopyTo(received);
        field.Clear();
        Span<byte> expected = stackalloc byte[SignatureSize];
        try
        {
            Compute(message, expected, signatureZeroed: true);
        }
        finally
        {
            received.CopyTo(field);
        }
        return CryptographicOperations.FixedTimeEquals(expected, received);
    }

    /// <summary>True when the signature field matches the MAC of the message (constant-time compare). Input is not modified.</summary>
    public bool Verify(ReadOnlySpan<byte> message)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (message.Length < Smb2Header.Size) return false;
        Span<byte> expected = stackalloc byte[SignatureSize];
        Compute(message, expected, signatureZeroed: false);
        return CryptographicOperations.FixedTimeEquals(expected, message.Slice(SignatureOffset, SignatureSize));
    }

    /// <summary>MAC of the message as if its signature field were zero.</summary>
    private void Compute(ReadOnlySpan<byte> message, Span<byte> signature, bool signatureZeroed)
    {
        var head = message[..SignatureOffset];
        var tail = message[(SignatureOffset + SignatureSize)..];
        switch (Algorithm)
        {
            case SigningAlgorithm.HmacSha256:
            {
                using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _key);
                hmac.AppendData(head);
                hmac.AppendData(ZeroSignature);
                hmac.AppendData(tail);
                Span<byte> full = stackalloc byte[32];
                hmac.GetHashAndReset(full);
                full[..SignatureSize].CopyTo(signature);
                break;
            }
            case SigningAlgorithm.AesCmac:
            {
                var cmac = AesCmac.Create(_key);
                cmac.BlockUpdate(head);
                cmac.BlockUpdate(ZeroSignature);
                cmac.BlockUpdate(tail);
                cmac.DoFinal(signature);
                break;
            }
            case SigningAlgorithm.AesGmac:
            {
                // Nonce: MessageId (8, LE) ‖ 4 bytes with bit 0 = SERVER_TO_REDIR, bit 1 = CANCEL (MS-SMB2 3.1.4.1).
                Span<byte> nonce = stackalloc byte[12];
                message.Slice(24, 8).CopyTo(nonce);
                uint role = 0;
                if ((BinaryPrimitives.ReadUInt32LittleEndian(message[16..]) & (uint)Smb2Flags.ServerToRedir) != 0) role |= 1;
                if (BinaryPrimitives.ReadUInt16LittleEndian(message[12..]) == (ushort)Smb2Command.Cancel) role |= 2;
                BinaryPrimitives.WriteUInt32LittleEndian(nonce[8..], role);
                if (signatureZeroed)
                {
                    lock (_gmacGate) _gmac!.Encrypt(nonce, ReadOnlySpan<byte>.Empty, Span<byte>.Empty, signature, message);
                    break;
                }
                var aad = ArrayPool<byte>.Shared.Rent(message.Length);
                try
                {
                    message.CopyTo(aad);
                    aad.AsSpan(SignatureOffset, SignatureSize).Clear();
                    lock (_gmacGate) _gmac!.Encrypt(nonce, ReadOnlySpan<byte>.Empty, Span<byte>.Empty, signature, aad.AsSpan(0, message.Length));
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(aad);
                }
                break;
            }
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _gmac?.Dispose();
        CryptographicOperations.ZeroMemory(_key);
    }
}
