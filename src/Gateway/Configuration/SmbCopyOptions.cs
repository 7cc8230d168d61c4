namespace SmbCopy.Gateway.Configuration;

/// <summary>The "SmbCopy" configuration section (appsettings.json, environment, command line).</summary>
public sealed class SmbCopyOptions
{
    public const string SectionName = "SmbCopy";

    public SmbEndpointOptions Smb { get; set; } = new();
    public HttpEndpointOptions Http { get; set; } = new();
    public SecurityOptions Security { get; set; } = new();
    public List<UserOptions> Users { get; set; } = [];
    public List<ShareOptions> Shares { get; set; } = [];
    public LimitsOptions Limits { get; set; } = new();
    /// <summary>Where the gateway keeps its state (server GUID, generated user). Relative to the working directory.</summary>
    public string StateDirectory { get; set; } = "./.state";
    /// <summary>NetBIOS-style name the server announces in NTLM and srvsvc.</summary>
    public string ServerName { get; set; } = "SMBCOPY";
    public string DomainName { get; set; } = "WORKGROUP";
}

public sealed class SmbEndpointOptions
{
    public string Address { get; set; } = "0.0.0.0";
    public int Port { get; set; } = 445;
}

public sealed class HttpEndpointOptions
{
    public string Address { get; set; } = "127.0.0.1";
    public int Port { get; set; } = 8445;
}

public sealed class SecurityOptions
{
    public bool RequireSigning { get; set; } = true;
    public bool RequireEncryption { get; set; }
    /// <summary>Failed log-ons from one client address before it is delayed.</summary>
    public int FailedLogonsBeforeThrottle { get; set; } = 5;
}

public sealed class UserOptions
{
    public string Name { get; set; } = "";
    /// <summary>MD4 of the UTF-16LE password, 32 hex digits. Never a plaintext password.</summary>
    public string NtHash { get; set; } = "";
}

public sealed class ShareOptions
{
    public string Name { get; set; } = "";
    public string Driver { get; set; } = "Local";
    public string Path { get; set; } = "";
    public string Remark { get; set; } = "";
    public bool ReadOnly { get; set; }
    public bool GuestAccess { get; set; }
    public bool RequireEncryption { get; set; }
    // NFS driver
    public string? Server { get; set; }
    public int? Port { get; set; }
    public string? Export { get; set; }
    public int? Uid { get; set; }
    public int? Gid { get; set; }
    /// <summary>Copy ranges of at least this many bytes go by an asynchronous NFS COPY (CB_OFFLOAD), smaller ones
    /// synchronously. Driver default 16 MiB; 0 = always synchronous.</summary>
    public long? AsyncCopyMinBytes { get; set; }
    // iSCSI driver
    public string? Portal { get; set; }
    public string? Target { get; set; }
    public int? Lun { get; set; }
    public string? Metadata { get; set; }
    /// <summary>A region of the LUN (first block, block count; 0 = to the end): several shares on one LUN.</summary>
    public long? FirstLba { get; set; }
    public long? Blocks { get; set; }
    /// <summary>false: copies on the LUN go by READ/WRITE through the gateway even when the target has EXTENDED COPY.</summary>
    public bool? ExtendedCopy { get; set; }
    /// <summary>true: make a new, empty volume on the LUN region when the share is opened (scratch shares, tests).</summary>
    public bool? Format { get; set; }
    /// <summary>The initiator IQN the gateway logs in with (driver default iqn.2025-01.org.smbcopy:gateway);
    /// what the target's ACLs name.</summary>
    public string? InitiatorName { get; set; }
    /// <summary>One-way CHAP (the target authenticates the gateway): both or neither. The driver has no mutual CHAP.</summary>
    public string? ChapUser { get; set; }
    /// <summary>The CHAP secret: never logged nor shown on the status page.</summary>
    public string? ChapSecret { get; set; }
}

public sealed class LimitsOptions
{
    /// <summary>MaxTransactSize / MaxReadSize / MaxWriteSize announced in NEGOTIATE (Windows uses 8 MiB).</summary>
    public int MaxIoSize { get; set; } = 8 * 1024 * 1024;
    /// <summary>Largest frame accepted before a session is authenticated.</summary>
    public int MaxUnauthenticatedFrame { get; set; } = 64 * 1024 + 1024;
    public int MaxConnections { get; set; } = 1024;
    public int MaxCreditsPerConnection { get; set; } = 8192;
    public int CopyChunkMaxChunks { get; set; } = 256;
    public int CopyChunkMaxChunkSize { get; set; } = 1024 * 1024;
    public int CopyChunkMaxDataSize { get; set; } = 16 * 1024 * 1024;
}
