using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Gateway.Smb.Dispatch;

/// <summary>
/// A handler's answer: a status and a body (the header is the dispatcher's). The body lives in a
/// pooled writer released once the response is on the wire.
/// </summary>
public sealed class Smb2Response : IDisposable
{
    /// <summary>
    /// Bytes in front of a framed body: the direct-TCP length prefix (MS-SMB2 2.1) and the SMB2 header, so that a
    /// single unencrypted response goes on the wire from the buffer its data was read into.
    /// </summary>
    public const int FrameHeadroom = 4 + Smb2Header.Size;

    private byte[]? _frame;
    private readonly int _frameBodyLength;

    private Smb2Response(NtStatus status, WireWriter? body)
    {
        Status = status;
        Body = body;
    }

    private Smb2Response(NtStatus status, byte[] frame, int bodyLength)
    {
        Status = status;
        _frame = frame;
        _frameBodyLength = bodyLength;
    }

    public NtStatus Status { get; }
    /// <summary>The body in a pooled writer; null for a framed body (<see cref="Frame"/>) or no message.</summary>
    public WireWriter? Body { get; }
    /// <summary>A pooled buffer with the body at <see cref="FrameHeadroom"/>: the dispatcher writes the header and
    /// prefix in front of it (READ responses; no copy of the data between the file and the socket).</summary>
    public byte[]? Frame => _frame;
    public int BodyLength => _frame is not null ? _frameBodyLength : Body?.Length ?? 0;
    public ReadOnlySpan<byte> BodySpan => _frame is not null ? _frame.AsSpan(FrameHeadroom, _frameBodyLength) : Body is null ? default : Body.WrittenSpan;

    /// <summary>The response carries no message at all (CANCEL, 3.3.5.16).</summary>
    public bool Suppressed { get; private init; }
    /// <summary>Close the TCP connection instead of answering (where the spec says so).</summary>
    public bool DisconnectConnection { get; private init; }

    /// <summary>SessionId to put in the response header when it differs from the request's (new session).</summary>
    public ulong? SessionIdOverride { get; set; }
    /// <summary>TreeId to put in the response header (TREE_CONNECT's new tree).</summary>
    public uint? TreeIdOverride { get; set; }
    /// <summary>Sign this response with this session's key even though the request was not signed (final SESSION_SETUP, 3.3.5.5.3).</summary>
    public SmbSession? SignWith { get; set; }
    /// <summary>Sign with exactly this key (wins over <see cref="SignWith"/>): a SESSION_SETUP refusal answered with the key its request was signed with.</summary>
    public SmbCopy.Protocol.Security.Smb2Signer? SigningKey { get; set; }
    /// <summary>Called with the exact response message bytes as sent (header to end, unpadded, signed when signed): preauth integrity hash.</summary>
    public Action<ReadOnlySpan<byte>>? OnSerialized { get; set; }
    /// <summary>A CREATE's new open: later requests of a related compound use it (3.3.5.2.7.2).</summary>
    public SmbOpen? CreatedOpen { get; set; }

    public static Smb2Response Ok(WireWriter body) => new(NtStatus.Success, body);

    /// <summary>Success with a body of <paramref name="bodyLength"/> bytes at <see cref="FrameHeadroom"/> in
    /// <paramref name="frame"/>, an <see cref="System.Buffers.ArrayPool{T}.Shared"/> array this response now owns.</summary>
    public static Smb2Response OkFramed(byte[] frame, int bodyLength) => new(NtStatus.Success, frame, bodyLength);
    public static Smb2Response WithStatus(NtStatus status, WireWriter body) => new(status, body);

    public static Smb2Response Error(NtStatus status, ReadOnlySpan<byte> errorData = default)
    {
        var w = new WireWriter(16);
        ErrorResponse.WriteTo(w, errorData);
        return new Smb2Response(status, w);
    }

    public static Smb2Response None() => new(NtStatus.Success, null) { Suppressed = true };
    public static Smb2Response Disconnect() => new(NtStatus.Success, null) { DisconnectConnection = true };

    /// <summary>Builds a body with <paramref name="write"/> into a fresh pooled writer.</summary>
    public static Smb2Response Ok(Action<WireWriter> write, int capacity = 128)
    {
        var w = new WireWriter(capacity);
        write(w);
        return Ok(w);
    }

    public void Dispose()
    {
        Body?.Dispose();
        if (Interlocked.Exchange(ref _frame, null) is { } frame) System.Buffers.ArrayPool<byte>.Shared.Return(frame);
    }
}
