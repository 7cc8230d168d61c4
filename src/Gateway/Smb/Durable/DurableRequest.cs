using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;

namespace SmbCopy.Gateway.Smb.Durable;

/// <summary>
/// The durable-handle create contexts of one CREATE (MS-SMB2 2.2.13.2.3/.4/.11/.12) and the rules that decide what
/// they ask for: a new durable open (v1 "DHnQ", v2 "DH2Q") or a reconnect ("DHnC", "DH2C"). The v2 contexts exist
/// only for SMB 3.x (3.3.5.9.10, 3.3.5.9.12) and are ignored on 2.x connections.
/// </summary>
public sealed record DurableRequest
{
    public bool RequestV1 { get; private init; }
    public DurableHandleRequestV2? RequestV2 { get; private init; }
    public Smb2FileId? ReconnectV1 { get; private init; }
    public DurableHandleReconnectV2? ReconnectV2 { get; private init; }

    public bool IsReconnect => ReconnectV1 is not null || ReconnectV2 is not null;
    public bool IsRequest => !IsReconnect && (RequestV1 || RequestV2 is not null);

    public static readonly DurableRequest None = new();

    /// <summary>
    /// Reads the contexts. Invalid combinations are STATUS_INVALID_PARAMETER (3.3.5.9.10: DH2Q with DHnQ or DHnC;
    /// 3.3.5.9.12: DH2C with DHnQ, DHnC or DH2Q); DHnQ beside DHnC is ignored (3.3.5.9.7). A context too short for
    /// its structure is STATUS_INVALID_PARAMETER too.
    /// </summary>
    public static (NtStatus Status, DurableRequest Request) Parse(in CreateRequest create, Smb2Dialect dialect)
    {
        bool v1 = false;
        DurableHandleRequestV2? v2 = null;
        Smb2FileId? c1 = null;
        DurableHandleReconnectV2? c2 = null;
        bool smb3 = dialect.IsSmb3();
        try
        {
            foreach (var context in create.CreateContexts)
            {
                var data = context.Data.Span;
                switch (context.Name)
                {
                    case CreateContextNames.DurableHandleRequest:
                        CreateContextData.ParseDurableHandleRequest(data);
                        v1 = true;
                        break;
                    case CreateContextNames.DurableHandleReconnect:
                        if (data.Length < 16) return (NtStatus.InvalidParameter, None);
                        c1 = CreateContextData.ParseDurableHandleReconnect(data);
                        break;
                    case CreateContextNames.DurableHandleRequestV2 when smb3:
                        if (data.Length < 32) return (NtStatus.InvalidParameter, None);
                        v2 = CreateContextData.ParseDurableHandleRequestV2(data);
                        break;
                    case CreateContextNames.DurableHandleReconnectV2 when smb3:
                        if (data.Length < 36) return (NtStatus.InvalidParameter, None);
                        c2 = CreateContextData.ParseDurableHandleReconnectV2(data);
                        break;
                }
            }
        }
        catch (SmbCopy.Protocol.Wire.MalformedMessageException)
        {
            return (NtStatus.InvalidParameter, None);
        }
        if (v2 is not null && (v1 || c1 is not null)) return (NtStatus.InvalidParameter, None);
        if (c2 is not null && (v1 || c1 is not null || v2 is not null)) return (NtStatus.InvalidParameter, None);
        if (c1 is not null) v1 = false;
        if (!v1 && v2 is null && c1 is null && c2 is null) return (NtStatus.Success, None);
        return (NtStatus.Success, new DurableRequest { RequestV1 = v1, RequestV2 = v2, ReconnectV1 = c1, ReconnectV2 = c2 });
    }

    /// <summary>
    /// Whether a requested durable open is granted (3.3.5.9.6 v1, 3.3.5.9.10 v2): only for a file open that got a
    /// batch oplock — or a lease with handle caching, which this server does not grant (no SMB2_GLOBAL_CAP_LEASING).
    /// Persistent handles (v2 flag PERSISTENT) need a continuously available share, which this server does not
    /// offer, so a persistent request is treated as a plain durable one.
    /// </summary>
    public bool Grants(OplockLevel granted, bool isDirectory) =>
        IsRequest && !isDirectory && granted == OplockLevel.Batch;

    /// <summary>The v2 timeout the server applies and answers (3.3.5.9.10): 0 means the default (60 s), at most 300 s (Windows Server 2012+, Samba).</summary>
    public static uint EffectiveTimeoutMs(uint requested) =>
        requested == 0 ? (uint)DurableOpenTable.DefaultTimeout.TotalMilliseconds
        : Math.Min(requested, (uint)DurableOpenTable.MaximumTimeout.TotalMilliseconds);
}
