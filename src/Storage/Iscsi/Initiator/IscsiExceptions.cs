namespace SmbCopy.Storage.Iscsi.Initiator;

/// <summary>Base of the initiator's exceptions.</summary>
public abstract class IscsiException : Exception
{
    protected IscsiException(string message) : base(message) { }
    protected IscsiException(string message, Exception? inner) : base(message, inner) { }

    /// <summary>True when retrying (after a reconnect if the connection is gone) may succeed.</summary>
    public abstract bool IsTransient { get; }
}

/// <summary>The target sent something that violates RFC 7143 (bad lengths, unknown tags, bad digests). The connection
/// is closed; a new connection may work.</summary>
public sealed class IscsiProtocolException : IscsiException
{
    public IscsiProtocolException(string message) : base(message) { }
    public override bool IsTransient => true;
}

/// <summary>The TCP connection was lost, could not be made, or the session was closed; every command in flight on it
/// fails with this. Retrying on a new connection may work.</summary>
public sealed class IscsiConnectionException : IscsiException
{
    public IscsiConnectionException(string message, Exception? inner = null) : base(message, inner) { }
    public override bool IsTransient => true;
}

/// <summary>Login failed with a Status-Class / Status-Detail (RFC 7143 §11.13.5).</summary>
public sealed class IscsiLoginException : IscsiException
{
    public IscsiLoginException(byte statusClass, byte statusDetail, string message)
        : base($"iSCSI login failed (0x{statusClass:X2}{statusDetail:X2} {Describe(statusClass, statusDetail)}): {message}")
    {
        StatusClass = statusClass;
        StatusDetail = statusDetail;
    }

    public IscsiLoginException(string message) : base("iSCSI login failed: " + message) { }

    public byte StatusClass { get; }
    public byte StatusDetail { get; }

    /// <summary>Target errors (class 3) are retryable (out of resources, service unavailable); initiator errors
    /// (class 2: bad credentials, no such target) are not.</summary>
    public override bool IsTransient => StatusClass == 3;

    public static string Describe(byte statusClass, byte statusDetail) => (statusClass, statusDetail) switch
    {
        (0, 0) => "success",
        (1, 1) => "target moved temporarily",
        (1, 2) => "target moved permanently",
        (2, 0) => "initiator error",
        (2, 1) => "authentication failure",
        (2, 2) => "authorization failure",
        (2, 3) => "target not found",
        (2, 4) => "target removed",
        (2, 5) => "unsupported version",
        (2, 6) => "too many connections",
        (2, 7) => "missing parameter",
        (2, 8) => "can't include in session",
        (2, 9) => "session type not supported",
        (2, 10) => "session does not exist",
        (2, 11) => "invalid during login",
        (3, 0) => "target error",
        (3, 1) => "service unavailable",
        (3, 2) => "out of resources",
        _ => "unknown status",
    };
}
