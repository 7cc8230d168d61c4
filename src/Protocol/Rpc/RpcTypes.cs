namespace SmbCopy.Protocol.Rpc;

/// <summary>
/// One share as NetrShareEnum / NetrShareGetInfo report it (MS-SRVS 2.2.4.22..26).
/// <paramref name="Type"/>: 0 STYPE_DISKTREE, 1 STYPE_PRINTQ, 3 STYPE_IPC, | 0x80000000 STYPE_SPECIAL
/// (IPC$ = 0x80000003).
/// </summary>
public sealed record RpcShareInfo(string Name, uint Type, string Remark);

/// <summary>
/// What NetrServerGetInfo reports (MS-SRVS 2.2.4.40..42). <paramref name="ServerName"/> without the
/// leading backslashes, as Windows returns it.
/// </summary>
public sealed record RpcServerInfo(string ServerName, string Comment);

/// <summary>DCE/RPC connection-oriented PDU constants (C706 12.6, MS-RPCE 2.2.2).</summary>
internal static class RpcPdu
{
    public const int HeaderLength = 16;
    /// <summary>Header plus alloc_hint, p_cont_id, opnum / cancel_count: where the stub starts.</summary>
    public const int RequestHeaderLength = 24;

    public const byte TypeRequest = 0;
    public const byte TypeResponse = 2;
    public const byte TypeFault = 3;
    public const byte TypeBind = 11;
    public const byte TypeBindAck = 12;
    public const byte TypeBindNak = 13;
    public const byte TypeAlterContext = 14;
    public const byte TypeAlterContextResp = 15;
    public const byte TypeAuth3 = 16;
    public const byte TypeShutdown = 17;
    public const byte TypeCoCancel = 18;
    public const byte TypeOrphaned = 19;

    public const byte FlagFirstFrag = 0x01;
    public const byte FlagLastFrag = 0x02;
    public const byte FlagDidNotExecute = 0x20;
    public const byte FlagObjectUuid = 0x80;

    // Fault status codes (C706 appendix E, MS-RPCE 2.2.2.11 / 3.1.1.5.5).
    public const uint NcaOpRangeError = 0x1C010002;
    public const uint NcaUnknownInterface = 0x1C010003;
    public const uint NcaProtoError = 0x1C01000B;
    /// <summary>nca_s_fault_ndr = RPC_X_BAD_STUB_DATA: the stub could not be unmarshalled.</summary>
    public const uint NcaFaultNdr = 0x000006F7;

    // p_cont_def_result_t and reasons (C706 12.6.3.1, MS-RPCE 2.2.2.4).
    public const ushort ResultAcceptance = 0;
    public const ushort ResultProviderRejection = 2;
    public const ushort ResultNegotiateAck = 3;
    public const ushort ReasonAbstractSyntaxNotSupported = 1;
    public const ushort ReasonTransferSyntaxesNotSupported = 2;

    // bind_nak reject reasons (C706 12.6.3.9, MS-RPCE 2.2.2.5).
    public const ushort NakReasonNotSpecified = 0;
    public const ushort NakProtocolVersionNotSupported = 4;
    public const ushort NakAuthenticationTypeNotRecognized = 8;

    public static readonly Guid SrvsvcInterface = new("4b324fc8-1670-01d3-1278-5a47bf6ee188");
    public const ushort SrvsvcVersionMajor = 3;
    public const ushort SrvsvcVersionMinor = 0;
    public static readonly Guid Ndr = new("8a885d04-1ceb-11c9-9fe8-08002b104860");
    public const uint NdrVersion = 2;
    public static readonly Guid Ndr64 = new("71710533-beba-4937-8319-b5dbef9ccc36");

    /// <summary>
    /// Bind-time feature negotiation (MS-RPCE 3.3.1.5.3): transfer syntax UUID whose first 8 bytes are
    /// 6CB71C2C-9812-4540; the remaining bytes carry the feature bit mask.
    /// </summary>
    public static bool IsBindTimeFeature(ReadOnlySpan<byte> uuidWireBytes) =>
        uuidWireBytes.Length >= 8 && uuidWireBytes[..8].SequenceEqual(BindTimeFeaturePrefix);

    private static ReadOnlySpan<byte> BindTimeFeaturePrefix => [0x2C, 0x1C, 0xB7, 0x6C, 0x12, 0x98, 0x40, 0x45];
}
