using System.Buffers.Binary;
using System.Security.Cryptography;
using SmbCopy.Gateway.Smb.Connection;
using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Protocol.Security;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Gateway.Smb.Handlers;

/// <summary>SMB2 NEGOTIATE (MS-SMB2 3.3.5.4): dialect 2.0.2 to 3.1.1 with the 3.1.1 negotiate contexts.</summary>
public sealed class NegotiateHandler : ISmb2Handler
{
    public const uint CapDfs = 0x1, CapLeasing = 0x2, CapLargeMtu = 0x4, CapMultiChannel = 0x8, CapEncryption = 0x40;
    public const ushort SigningEnabled = 0x1, SigningRequired = 0x2;
    private const ushort HashSha512 = 1;

    /// <summary>Dialects we speak, best first.</summary>
    private static readonly Smb2Dialect[] Supported = [Smb2Dialect.Smb311, Smb2Dialect.Smb302, Smb2Dialect.Smb300, Smb2Dialect.Smb210, Smb2Dialect.Smb202];
    /// <summary>Signing preference for 3.1.1 (B.3: prefer AES-GMAC).</summary>
    private static readonly SigningAlgorithm[] SigningPreference = [SigningAlgorithm.AesGmac, SigningAlgorithm.AesCmac, SigningAlgorithm.HmacSha256];

    public Smb2Command Command => Smb2Command.Negotiate;
    public HandlerRequirements Requirements => HandlerRequirements.None;

    public ValueTask<Smb2Response> HandleAsync(Smb2Request request)
    {
        var connection = request.Connection;
        if (connection.IsNegotiated) return ValueTask.FromResult(Smb2Response.Disconnect());
        if (request.Header.IsSigned) return Error(NtStatus.InvalidParameter);

        var negotiate = NegotiateRequest.Parse(request.Span);
        if (negotiate.Dialects.Count == 0) return Error(NtStatus.InvalidParameter);
        var dialect = Supported.FirstOrDefault(d => negotiate.Dialects.Contains(d));
        if (dialect == Smb2Dialect.None) return Error(NtStatus.NotSupported);

        var contexts = new List<(NegotiateContextType, byte[])>();
        if (dialect == Smb2Dialect.Smb311)
        {
            var status = NegotiateContexts(connection, negotiate, contexts);
            if (status != NtStatus.Success) return Error(status);
        }

        CommitDialect(connection, dialect, negotiate.SecurityMode, negotiate.Capabilities, negotiate.ClientGuid, negotiate.Dialects);
        var body = new WireWriter(512);
        BuildResponse(connection, dialect, contexts).WriteTo(body);
        var response = Smb2Response.Ok(body);
        if (dialect == Smb2Dialect.Smb311)
        {
            var hash = new PreauthIntegrityHash();
            hash.Update(request.Span);
            connection.PreauthHash = hash;
            response.OnSerialized = bytes => hash.Update(bytes);
        }
        connection.Logger.LogDebug("negotiated {Dialect} with {Remote}", dialect, connection.RemoteEndPoint);
        return ValueTask.FromResult(response);
    }

    /// <summary>Records the connection's negotiated state (3.3.5.4 steps after dialect selection).</summary>
    public static void CommitDialect(SmbConnection connection, Smb2Dialect dialect, ushort securityMode, uint capabilities, Guid clientGuid, IReadOnlyList<Smb2Dialect> clientDialects)
    {
        connection.ClientSecurityMode = securityMode;
        connection.ClientCapabilities = capabilities;
        connection.ClientGuid = clientGuid;
        connection.ClientDialects = clientDialects;
        connection.SupportsMultiCredit = dialect >= Smb2Dialect.Smb210;
        uint maxIo = dialect == Smb2Dialect.Smb202 ? 65536u : (uint)connection.Server.Options.Limits.MaxIoSize;
        connection.MaxReadSize = connection.MaxWriteSize = connection.MaxTransactSize = maxIo;
        connection.ServerCapabilities = ServerCapabilities(dialect, capabilities);
        connection.ServerSecurityMode = SecurityMode(connection);
        if (dialect is Smb2Dialect.Smb300 or Smb2Dialect.Smb302 && (capabilities & CapEncryption) != 0)
            connection.Cipher = CipherId.Aes128Ccm;
        connection.SigningAlgorithm = dialect switch
        {
            Smb2Dialect.Smb202 or Smb2Dialect.Smb210 => SigningAlgorithm.HmacSha256,
            Smb2Dialect.Smb311 => connection.SigningAlgorithm, // chosen from the signing context (AES-CMAC without one)
            _ => SigningAlgorithm.AesCmac,
        };
        connection.MarkNegotiated(dialect);
    }

    public static NegotiateResponse BuildResponse(SmbConnection connection, Smb2Dialect dialect, IReadOnlyList<(NegotiateContextType, byte[])> contexts)
    {
        var limits = connection.Server.Options.Limits;
        uint maxIo = dialect == Smb2Dialect.Smb202 ? 65536u : (uint)limits.MaxIoSize;
        return new NegotiateResponse
        {
            SecurityMode = SecurityMode(connection),
            Dialect = dialect,
            ServerGuid = connection.Server.Identity.ServerGuid,
            Capabilities = dialect == Smb2Dialect.Wildcard ? CapLargeMtu : ServerCapabilities(dialect, connection.ClientCapabilities),
            MaxTransactSize = maxIo,
            MaxReadSize = maxIo,
            MaxWriteSize = maxIo,
            SystemTime = connection.Server.Time.GetUtcNow().ToFileTime(),
            SecurityBuffer = SpnegoNtlmAcceptor.CreateNegotiateToken(),
            Contexts = contexts,
        };
    }

    private static ushort SecurityMode(SmbConnection connection) =>
        (ushort)(SigningEnabled | (connection.Server.Options.Security.RequireSigning ? SigningRequired : 0));

    private static uint ServerCapabilities(Smb2Dialect dialect, uint clientCapabilities)
    {
        uint caps = 0;
        if (dialect >= Smb2Dialect.Smb210) caps |= CapLargeMtu;
        // 3.3.5.4: SMB 3.x connections may be bound to an existing session as further channels (3.3.5.5).
        if (dialect.IsSmb3()) caps |= CapMultiChannel;
        if (dialect is Smb2Dialect.Smb300 or Smb2Dialect.Smb302 && (clientCapabilities & CapEncryption) != 0) caps |= CapEncryption;
        return caps;
    }

    /// <summary>3.3.5.4 negotiate-context rules for 3.1.1; fills the response contexts.</summary>
    private static NtStatus NegotiateContexts(SmbConnection connection, NegotiateRequest negotiate, List<(NegotiateContextType, byte[])> reply)
    {
        var seen = new HashSet<NegotiateContextType>();
        NegotiateContext? preauth = null, encryption = null, signing = null;
        foreach (var context in negotiate.Contexts)
        {
            if (context.Type is NegotiateContextType.PreauthIntegrityCapabilities or NegotiateContextType.EncryptionCapabilities
                or NegotiateContextType.CompressionCapabilities or NegotiateContextType.RdmaTransformCapabilities or NegotiateContextType.SigningCapabilities
                && !seen.Add(context.Type))
                return NtStatus.InvalidParameter;
            switch (context.Type)
            {
                case NegotiateContextType.PreauthIntegrityCapabilities: preauth = context; break;
                case NegotiateContextType.EncryptionCapabilities: encryption = context; break;
                case NegotiateContextType.SigningCapabilities: signing = context; break;
            }
        }
        if (preauth is null) return NtStatus.InvalidParameter;
        // PREAUTH: HashAlgorithmCount(2) SaltLength(2) HashAlgorithms(2×n) Salt
        var hashes = preauth.ReadIdList(0, 4);
        if (hashes.Length == 0) return NtStatus.InvalidParameter;
        if (Array.IndexOf(hashes, HashSha512) < 0) return NtStatus.SmbNoPreauthIntegrityHashOverlap;
        var salt = RandomNumberGenerator.GetBytes(32);
        var preauthReply = new byte[6 + salt.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(preauthReply, 1);
        BinaryPrimitives.WriteUInt16LittleEndian(preauthReply.AsSpan(2), (ushort)salt.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(preauthReply.AsSpan(4), HashSha512);
        salt.CopyTo(preauthReply, 6);
        reply.Add((NegotiateContextType.PreauthIntegrityCapabilities, preauthReply));

        if (encryption is not null)
        {
            // ENCRYPTION: CipherCount(2) Ciphers(2×n). The client lists its preference first.
            var ciphers = encryption.ReadIdList(0, 2);
            if (ciphers.Length == 0) return NtStatus.InvalidParameter;
            var chosen = CipherId.None;
            foreach (var c in ciphers)
            {
                if (c is >= (ushort)CipherId.Aes128Ccm and <= (ushort)CipherId.Aes256Gcm) { chosen = (CipherId)c; break; }
            }
            connection.Cipher = chosen;
            var data = new byte[4];
            BinaryPrimitives.WriteUInt16LittleEndian(data, 1);
            BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(2), (ushort)chosen);
            reply.Add((NegotiateContextType.EncryptionCapabilities, data));
        }

        var algorithm = SigningAlgorithm.AesCmac;
        if (signing is not null)
        {
            // SIGNING: SigningAlgorithmCount(2) SigningAlgorithms(2×n)
            var offered = signing.ReadIdList(0, 2);
            if (offered.Length == 0) return NtStatus.InvalidParameter;
            foreach (var preferred in SigningPreference)
            {
                if (Array.IndexOf(offered, (ushort)preferred) >= 0) { algorithm = preferred; break; }
            }
            var data = new byte[4];
            BinaryPrimitives.WriteUInt16LittleEndian(data, 1);
            BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(2), (ushort)algorithm);
            reply.Add((NegotiateContextType.SigningCapabilities, data));
        }
        connection.SigningAlgorithm = algorithm;
        return NtStatus.Success;
    }

    private static ValueTask<Smb2Response> Error(NtStatus status) => ValueTask.FromResult(Smb2Response.Error(status));
}
