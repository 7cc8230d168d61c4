namespace SmbCopy.Storage.Iscsi.Initiator;

/// <summary>How to reach one target and what to propose at login. Sizes are the RFC 7143 key values.</summary>
public sealed record IscsiInitiatorOptions
{
    /// <summary>Target portal address (host name or IP).</summary>
    public required string Host { get; init; }

    public int Port { get; init; } = 3260;

    /// <summary>TargetName (IQN) to log in to.</summary>
    public required string TargetName { get; init; }

    public string InitiatorName { get; init; } = "iqn.2025-01.org.smbcopy:gateway";

    /// <summary>CHAP user name and secret (one-way CHAP, MD5); null = AuthMethod=None.</summary>
    public string? ChapUser { get; init; }
    public string? ChapSecret { get; init; }

    /// <summary>Largest data segment this side accepts (declared to the target).</summary>
    public int MaxRecvDataSegmentLength { get; init; } = 262144;
    public int MaxBurstLength { get; init; } = 16 * 1024 * 1024 - 512;
    public int FirstBurstLength { get; init; } = 262144;
    public bool ImmediateData { get; init; } = true;
    public bool InitialR2T { get; init; } = false;

    /// <summary>Offer CRC32C header / data digests first (the target may still choose None).</summary>
    public bool HeaderDigest { get; init; }
    public bool DataDigest { get; init; }

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan LoginTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Idle time after which a NOP-Out ping is sent; <see cref="TimeSpan.Zero"/> disables keep-alive.</summary>
    public TimeSpan NopInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A ping not answered within this drops the connection (ERL 0 recovery: reconnect and retry).</summary>
    public TimeSpan NopTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>A command without a response after this drops the connection (ERL 0 recovery).</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Retries of one command after transient faults (connection loss, UNIT ATTENTION, BUSY, TASK SET FULL).</summary>
    public int MaxRetryAttempts { get; init; } = 6;

    /// <summary>First retry delay (exponential backoff with jitter after that).</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Initiator part of the session id (6 bytes); random when null. Kept across reconnects, so that a new
    /// login reinstates (and cleans up) the old session on the target.</summary>
    public byte[]? Isid { get; init; }

    public static byte[] RandomIsid()
    {
        var isid = new byte[6];
        System.Security.Cryptography.RandomNumberGenerator.Fill(isid);
        isid[0] = (byte)(0x80 | (isid[0] & 0x3F)); // type 10b: random (RFC 7143 §11.12.5)
        return isid;
    }
}

/// <summary>The operational parameters in force after login (RFC 7143 §13).</summary>
public sealed record IscsiNegotiatedParameters
{
    /// <summary>What we declared we receive.</summary>
    public int MaxRecvDataSegmentLength { get; init; } = 8192;
    /// <summary>What the target declared it receives: the largest Data-Out / immediate data segment we may send.</summary>
    public int TargetMaxRecvDataSegmentLength { get; init; } = 8192;
    public int MaxBurstLength { get; init; } = 262144;
    public int FirstBurstLength { get; init; } = 65536;
    public bool ImmediateData { get; init; } = true;
    public bool InitialR2T { get; init; } = true;
    public int MaxOutstandingR2T { get; init; } = 1;
    public bool DataPduInOrder { get; init; } = true;
    public bool DataSequenceInOrder { get; init; } = true;
    public int ErrorRecoveryLevel { get; init; }
    public int DefaultTime2Wait { get; init; } = 2;
    public int DefaultTime2Retain { get; init; } = 20;
    public DigestOptions Digests { get; init; }
    public ushort Tsih { get; init; }
    public ushort TargetPortalGroupTag { get; init; }
    /// <summary>Address the target redirected to, if any ("host:port,tpgt").</summary>
    public string? TargetAddress { get; init; }
}
