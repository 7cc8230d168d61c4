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
    private Smb2Response(NtStatus status, WireWriter? body)
    {
        Status = status;
        Body = body;
    }

    public NtStatus Status { get; }
    public WireWriter? Body { get; }

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

    public void Dispose() => Body?.Dispose();
}
