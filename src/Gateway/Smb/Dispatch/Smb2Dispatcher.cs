using System.Buffers;
using System.Buffers.Binary;
using SmbCopy.Gateway.Smb.Connection;
using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Protocol.Security;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Gateway.Smb.Dispatch;

/// <summary>
/// Processes one received frame: transform (decrypt), compound walking, credit and signature checks,
/// session/tree resolution, handler dispatch, and the compound response with signing and encryption
/// (MS-SMB2 3.3.5.2 and 3.3.4.1). A protocol error becomes an NTSTATUS; only what the spec calls
/// connection-fatal closes the connection.
/// </summary>
public sealed class Smb2Dispatcher(SmbConnection connection)
{
    private readonly SmbConnection _connection = connection;
    private ILogger Log => _connection.Logger;

    /// <param name="slot">Released when the frame is done, or earlier when one of its requests goes async
    /// (an async request must not hold the connection's read loop).</param>
    public async Task ProcessFrameAsync(byte[] frame, int length, FrameSlot? slot = null)
    {
        try
        {
            await ProcessFrameCoreAsync(frame.AsMemory(0, length), slot).ConfigureAwait(false);
        }
        catch (MalformedMessageException ex)
        {
            _connection.Close("malformed frame: " + ex.Message);
        }
        catch (Exception ex)
        {
            Log.LogError(ex, "unexpected error processing a frame on connection {ConnectionId}", _connection.Id);
            _connection.Close("internal error");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    private async Task ProcessFrameCoreAsync(ReadOnlyMemory<byte> frame, FrameSlot? slot)
    {
        if (frame.Length < 4) { _connection.Close("frame shorter than a protocol id"); return; }
        uint protocolId = BinaryPrimitives.ReadUInt32LittleEndian(frame.Span);
        switch (protocolId)
        {
            case Smb2Header.Smb1ProtocolId:
                await Smb1Negotiate.HandleAsync(_connection, frame).ConfigureAwait(false);
                return;
            case Smb2Header.TransformProtocolId:
                await ProcessTransformAsync(frame, slot).ConfigureAwait(false);
                return;
            case Smb2Header.ProtocolId:
                await ProcessCompoundAsync(frame, encryptedBy: null, slot).ConfigureAwait(false);
                return;
            default:
                // Compression (FC 'SMB') is never negotiated; anything else is not SMB.
                _connection.Close($"unexpected protocol id 0x{protocolId:X8}");
                return;
        }
    }

    /// <summary>3.3.5.2.1.1: decrypt; an unknown session or a failed decryption drops the connection.</summary>
    private async Task ProcessTransformAsync(ReadOnlyMemory<byte> frame, FrameSlot? slot)
    {
        if (!_connection.Dialect.IsSmb3() || !Smb2TransformCipher.TryReadSessionId(frame.Span, out ulong sessionId))
        {
            _connection.Close("transform header without SMB 3 or malformed");
            return;
        }
        var session = _connection.Server.FindSession(sessionId);
        if (session?.Cipher is null || !session.Cipher.TryDecrypt(frame.Span, out byte[] plain))
        {
            _connection.Close("transform message could not be decrypted");
            return;
        }
        if (plain.Length < Smb2Header.Size || BinaryPrimitives.ReadUInt32LittleEndian(plain) != Smb2Header.ProtocolId)
        {
            _connection.Close("decrypted payload is not SMB2");
            return;
        }
        await ProcessCompoundAsync(plain, session, slot).ConfigureAwait(false);
    }

    private async Task ProcessCompoundAsync(ReadOnlyMemory<byte> messages, SmbSession? encryptedBy, FrameSlot? slot)
    {
        var responses = new List<Outgoing>();
        try
        {
            int offset = 0;
            var chain = new CompoundChain();
            ulong lastAsyncId = 0;
            bool compound = false;
            while (true)
            {
                var remaining = messages[offset..];
                var header = Smb2Header.Parse(remaining.Span);
                int messageLength;
                if (header.NextCommand == 0) messageLength = remaining.Length;
                else
                {
                    compound = true;
                    // 3.3.5.2.7: each following request starts 8-byte aligned; the server SHOULD<263> disconnect
                    // otherwise (and a NextCommand outside the frame leaves nothing to answer).
                    if (header.NextCommand % 8 != 0 || header.NextCommand < Smb2Header.Size || header.NextCommand > remaining.Length - Smb2Header.Size)
                    {
                        _connection.Close("bad NextCommand in compound");
                        return;
                    }
                    messageLength = (int)header.NextCommand;
                }
                var message = remaining[..messageLength];

                if (!_connection.IsNegotiated && header.Command != Smb2Command.Negotiate)
                {
                    _connection.Close($"{header.Command} before NEGOTIATE");
                    return;
                }
                if (header.Command != Smb2Command.Cancel && !_connection.Credits.TryConsume(header.MessageId, EffectiveCharge(header)))
                {
                    _connection.Close($"MessageId {header.MessageId} outside the credit window");
                    return;
                }

                Smb2Response response;
                SmbSession? session = null;
                // An unknown command is a disconnect (3.3.5.2.6) whatever its place in the chain: no precheck.
                var handler = _connection.Server.HandlerFor(header.Command);
                NtStatus refusal = handler is null ? NtStatus.Success
                    : chain.Precheck(header, (handler.Requirements & HandlerRequirements.Session) != 0);
                if (refusal != NtStatus.Success)
                {
                    // Answered in the session the chain or the header names, so a signing client can verify it (3.3.4.1.1).
                    response = Smb2Response.Error(refusal);
                    session = chain.Session ?? SessionOfHeader(header);
                    chain.Refused(header);
                    Log.LogDebug("{Command} (MessageId {MessageId}) in a related compound: {Status}", header.Command, header.MessageId, refusal);
                }
                else
                {
                    var request = new Smb2Request
                    {
                        Connection = _connection,
                        Server = _connection.Server,
                        Header = header,
                        Message = message,
                        RelatedOpen = header.IsRelated ? chain.Open : null,
                        WasEncrypted = encryptedBy is not null,
                        IsCompoundMember = compound,
                        SendInterim = live => { slot?.Release(); return SendInterimAsync(live, responses, encryptedBy, compound); },
                    };
                    long started = System.Diagnostics.Stopwatch.GetTimestamp();
                    var activity = SmbMetrics.StartRequest(header.Command);
                    // 3.3.5.2.7.2: a related request uses the previous operation's SessionId and TreeId.
                    response = await DispatchOneAsync(request, header.IsRelated ? chain.Session : null,
                        header.IsRelated ? chain.Tree : null, encryptedBy).ConfigureAwait(false);
                    SmbMetrics.Completed(header.Command, response.Status, started, activity);
                    session = request.Session;
                    lastAsyncId = request.AsyncId;
                    if (response.DisconnectConnection)
                    {
                        _connection.Close($"{header.Command} requires disconnect");
                        return;
                    }
                    chain.Completed(header, response.Status, request.Session, request.Tree, response.CreatedOpen ?? request.ResolvedOpen);
                }
                if (!response.Suppressed) responses.Add(new Outgoing(header, response, session, lastAsyncId));
                else response.Dispose();
                lastAsyncId = 0;
                if (header.NextCommand == 0) break;
                offset += (int)header.NextCommand;
            }
            if (responses.Count > 0)
                await SendResponsesAsync(responses, encryptedBy, compound).ConfigureAwait(false);
        }
        finally
        {
            foreach (var r in responses) r.Response.Dispose();
        }
    }

    /// <summary>The valid session of this connection that <paramref name="header"/> names, if any.</summary>
    private SmbSession? SessionOfHeader(in Smb2Header header)
    {
        if (header.SessionId == 0) return null;
        var known = _connection.Server.FindSession(header.SessionId);
        return known is not null && known.IsValid && known.HasChannel(_connection) ? known : null;
    }

    private ushort EffectiveCharge(in Smb2Header header) =>
        _connection.SupportsMultiCredit ? Math.Max((ushort)1, header.CreditCharge) : (ushort)1;

    private async ValueTask<Smb2Response> DispatchOneAsync(Smb2Request request, SmbSession? inheritedSession,
        TreeConnect? inheritedTree, SmbSession? encryptedBy)
    {
        var header = request.Header;
        var handler = _connection.Server.HandlerFor(header.Command);
        // Errors found before the handler runs are still answered in the session (and so signed).
        if (request.Session is null && header.Command is not (Smb2Command.Negotiate or Smb2Command.SessionSetup) && header.SessionId != 0)
        {
            var known = inheritedSession ?? _connection.Server.FindSession(header.SessionId);
            if (known is not null && known.IsValid && known.HasChannel(_connection)) request.Session = known;
        }
        if (handler is null)
        {
            if ((ushort)header.Command > (ushort)Smb2Command.OplockBreak)
                return Smb2Response.Disconnect(); // unknown command (B.1)
            return Smb2Response.Error(NtStatus.NotSupported);
        }

        // Multi-credit charge (3.3.5.2.5).
        if (_connection.SupportsMultiCredit)
        {
            int payload;
            try { payload = handler.ExpectedPayloadSize(request.Span); }
            catch (MalformedMessageException) { payload = 0; }
            if (payload > 0)
            {
                int needed = (payload - 1) / 65536 + 1;
                if (Math.Max(1, (int)header.CreditCharge) < needed)
                    return Smb2Response.Error(NtStatus.InvalidParameter);
            }
        }

        if ((handler.Requirements & HandlerRequirements.Session) != 0)
        {
            var session = inheritedSession ?? _connection.Server.FindSession(header.SessionId);
            if (session is null || session.State == SessionState.Expired || !session.HasChannel(_connection))
                return Smb2Response.Error(NtStatus.UserSessionDeleted);
            request.Session = session;
            if (!session.IsValid)
                return Smb2Response.Error(header.Command is Smb2Command.Logoff or Smb2Command.Close or Smb2Command.Lock
                    ? NtStatus.InvalidParameter : NtStatus.AccessDenied);
            var check = CheckSignatureAndEncryption(request, session, encryptedBy);
            if (check != NtStatus.Success) return Smb2Response.Error(check);

            if ((handler.Requirements & HandlerRequirements.Tree & ~HandlerRequirements.Session) != 0)
            {
                var tree = inheritedTree;
                if (tree is null && !session.Trees.TryGetValue(header.TreeId, out tree))
                    return Smb2Response.Error(NtStatus.NetworkNameDeleted);
                if (tree.EncryptData && encryptedBy is null)
                    return Smb2Response.Error(NtStatus.AccessDenied);
                request.Tree = tree;
            }
        }
        else if (header.SessionId != 0 && header.Command != Smb2Command.SessionSetup && header.Command != Smb2Command.Negotiate)
        {
            // ECHO and CANCEL may name a session; when they do, its signing rules apply.
            var session = inheritedSession ?? _connection.Server.FindSession(header.SessionId);
            if (session is not null && session.IsValid)
            {
                request.Session = session;
                var check = CheckSignatureAndEncryption(request, session, encryptedBy);
                if (check != NtStatus.Success) return Smb2Response.Error(check);
            }
        }

        using var cts = new CancellationTokenSource();
        bool tracked = false;
        if (header.Command != Smb2Command.Cancel)
        {
            // A CANCEL that overtook this request left a cancelled marker under its MessageId.
            while (!(tracked = _connection.InFlight.TryAdd(header.MessageId, cts)))
            {
                if (!_connection.InFlight.TryRemove(header.MessageId, out var marker)) continue;
                if (marker.IsCancellationRequested) cts.Cancel();
                marker.Dispose();
            }
        }
        try
        {
            var live = new Smb2Request
            {
                Connection = request.Connection,
                Server = request.Server,
                Header = request.Header,
                Message = request.Message,
                RelatedOpen = request.RelatedOpen,
                WasEncrypted = request.WasEncrypted,
                IsCompoundMember = request.IsCompoundMember,
                Session = request.Session,
                Tree = request.Tree,
                Cancellation = cts.Token,
                SendInterim = request.SendInterim,
            };
            try
            {
                return await handler.HandleAsync(live).ConfigureAwait(false);
            }
            finally
            {
                request.Session = live.Session;
                request.Tree = live.Tree;
                request.AsyncId = live.AsyncId;
                request.ResolvedOpen = live.ResolvedOpen;
            }
        }
        catch (MalformedMessageException ex)
        {
            Log.LogInformation("{Command} from {Remote}: malformed request: {Reason}", header.Command, _connection.RemoteEndPoint, ex.Message);
            return Smb2Response.Error(NtStatus.InvalidParameter);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            return Smb2Response.Error(NtStatus.Cancelled);
        }
        catch (Exception ex)
        {
            var status = StatusMapper.FromException(ex);
            if (status == NtStatus.InternalError)
                Log.LogError(ex, "{Command} failed on connection {ConnectionId}", header.Command, _connection.Id);
            else
                Log.LogDebug("{Command}: {Status}: {Message}", header.Command, status, ex.Message);
            return Smb2Response.Error(status);
        }
        finally
        {
            if (tracked) _connection.InFlight.TryRemove(header.MessageId, out _);
        }
    }

    /// <summary>3.3.5.2.4: verify a signed request; refuse unsigned ones where signing or encryption is required.</summary>
    private NtStatus CheckSignatureAndEncryption(Smb2Request request, SmbSession session, SmbSession? encryptedBy)
    {
        if (encryptedBy is not null)
            return ReferenceEquals(encryptedBy, session) ? NtStatus.Success : NtStatus.AccessDenied;
        if (session.EncryptData)
            return NtStatus.AccessDenied;
        if (request.Header.IsSigned)
        {
            // Channel.SigningKey of the connection the request arrived on (3.3.5.2.4).
            var signer = session.SignerFor(_connection);
            // The frame buffer is this request's own: verify in place rather than copying the message.
            if (signer is null || !signer.VerifyInPlace(System.Runtime.InteropServices.MemoryMarshal.AsMemory(request.Message).Span))
            {
                Log.LogWarning("bad signature on {Command} from {Remote} (session {SessionId:X})", request.Header.Command, _connection.RemoteEndPoint, session.SessionId);
                return NtStatus.AccessDenied;
            }
            return NtStatus.Success;
        }
        return session.SigningRequired ? NtStatus.AccessDenied : NtStatus.Success;
    }

    /// <summary>
    /// Builds the (compound) response: each message 8-aligned when followed by another, signed separately, then
    /// encrypted as one (3.3.4.1.3). <paramref name="compound"/>: answering a compound request, whose last response
    /// is padded to a multiple of 8 too ("SHOULD be padded", 3.3.4.1.3; Windows and Samba do).
    /// </summary>
    private async Task SendResponsesAsync(List<Outgoing> responses, SmbSession? encryptedBy, bool compound = false)
    {
        // One response whose body already sits in its own frame buffer (READ): header and length prefix go in front of
        // it, it is signed in place and sent from there; no copy of the data in user space (docs/benchmarks.md).
        if (responses.Count == 1 && !compound && responses[0].Response.Frame is { } frame && encryptedBy is null && !WillEncrypt(responses[0]))
        {
            int length = Smb2Header.Size + responses[0].Response.BodyLength;
            var message = frame.AsSpan(4, length);
            message[..Smb2Header.Size].Clear();
            SmbSession? none = null;
            FinishMessage(message, length, responses[0], last: true, ref none);
            await _connection.SendFramedAsync(frame, 4 + length).ConfigureAwait(false);
            return;
        }

        int total = 0;
        foreach (var r in responses) total += Align8(Smb2Header.Size + r.Response.BodyLength);
        // 4 bytes in front for the direct-TCP length prefix: the frame goes out from this buffer as is.
        byte[] buffer = ArrayPool<byte>.Shared.Rent(4 + total);
        try
        {
            int offset = 0;
            SmbSession? encryptFor = encryptedBy;
            for (int i = 0; i < responses.Count; i++)
            {
                var response = responses[i].Response;
                int length = Smb2Header.Size + response.BodyLength;
                bool last = i == responses.Count - 1;
                int padded = last && !compound ? length : Align8(length);
                var span = buffer.AsSpan(4 + offset, padded);
                span.Clear();
                response.BodySpan.CopyTo(span[Smb2Header.Size..]);
                FinishMessage(span, length, responses[i], last, ref encryptFor);
                offset += padded;
            }

            if (encryptFor?.Cipher is not null)
            {
                byte[] sealedMessage = encryptFor.Cipher.Encrypt(buffer.AsSpan(4, offset), encryptFor.SessionId);
                await _connection.SendFrameAsync(sealedMessage).ConfigureAwait(false);
            }
            else
            {
                await _connection.SendFramedAsync(buffer, 4 + offset).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>True when the session of this response encrypts it (the test <see cref="FinishMessage"/> makes).</summary>
    private static bool WillEncrypt(in Outgoing o) =>
        o.Session is { IsValid: true, EncryptData: true, Cipher: not null }
        && o.Request.Command is not (Smb2Command.Negotiate or Smb2Command.SessionSetup);

    /// <summary>
    /// Writes the header of one response message in front of its body (<paramref name="span"/>: header, body, padding),
    /// signs it, and notes when its session wants the whole compound encrypted.
    /// </summary>
    private void FinishMessage(Span<byte> span, int length, in Outgoing outgoing, bool last, ref SmbSession? encryptFor)
    {
        var (request, response, session, asyncId) = outgoing;
        // Credits go with the interim response of an async request, not its final one (3.3.4.2).
        ushort granted = asyncId != 0 && response.Status != NtStatus.Pending ? (ushort)0
            : _connection.Credits.Grant(request.Credits, _connection.Server.Options.Limits.MaxCreditsPerConnection, request.CreditCharge);
        var header = new Smb2Header
        {
            CreditCharge = request.CreditCharge,
            Status = (uint)response.Status,
            Command = request.Command,
            Credits = granted,
            AsyncId = asyncId,
            Flags = Smb2Flags.ServerToRedir | (asyncId != 0 ? Smb2Flags.AsyncCommand : 0)
                | (request.Flags & (Smb2Flags.RelatedOperations | Smb2Flags.PriorityMask)),
            NextCommand = last ? 0u : (uint)span.Length,
            MessageId = request.MessageId,
            TreeId = response.TreeIdOverride ?? request.TreeId,
            SessionId = response.SessionIdOverride ?? request.SessionId,
        };
        header.WriteTo(span);
        var signer = response.Status == NtStatus.Pending ? null : ChooseSigner(request, response, session, encryptFor);
        signer?.Sign(span); // padding included: 3.1.4.1, a compounded message is signed with its padding
        if (signer is null && encryptFor is null && request.IsSigned && UnsignedErrorClientsAccept(response.Status))
        {
            // No key to sign with (no session known for the request: USER_SESSION_DELETED, or a related
            // request whose chain lost its session, 3.3.5.2.7.2), but signing clients need the SIGNED flag
            // before they report these statuses; they do not check a zero signature on them (Samba echoes
            // the request's signature instead).
            uint flags = BinaryPrimitives.ReadUInt32LittleEndian(span[16..]);
            BinaryPrimitives.WriteUInt32LittleEndian(span[16..], flags | (uint)Smb2Flags.Signed);
        }
        // After signing: the preauth hash covers the message as sent (a binding's signed MORE_PROCESSING_REQUIRED).
        response.OnSerialized?.Invoke(span[..length]);
        if (encryptFor is null && WillEncrypt(outgoing))
            encryptFor = session;
    }

    /// <summary>
    /// Sends the responses of the compound gathered so far plus the interim response of
    /// <paramref name="request"/> (3.3.4.2): Status PENDING, ASYNC flag, AsyncId, unsigned.
    /// </summary>
    private async ValueTask SendInterimAsync(Smb2Request request, List<Outgoing> responses, SmbSession? encryptedBy, bool compound)
    {
        var batch = new List<Outgoing>(responses) { new(request.Header, Smb2Response.Error(NtStatus.Pending), request.Session, request.AsyncId) };
        responses.Clear();
        try
        {
            await SendResponsesAsync(batch, encryptedBy, compound).ConfigureAwait(false);
        }
        finally
        {
            foreach (var r in batch) r.Response.Dispose();
        }
    }

    /// <summary>Errors a server may have to send before it knows a session to sign with (3.3.5.2.6, 3.3.5.2.7.2, 3.3.5.2.9).</summary>
    private static bool UnsignedErrorClientsAccept(NtStatus status) =>
        status is NtStatus.UserSessionDeleted or NtStatus.InvalidParameter;

    private readonly record struct Outgoing(Smb2Header Request, Smb2Response Response, SmbSession? Session, ulong AsyncId);

    /// <summary>
    /// 3.3.4.1.1: Channel.SigningKey of the connection the response goes out on; on a connection that is not
    /// (yet) a channel of the session (binding in progress, binding refusals) Session.SigningKey.
    /// </summary>
    private Smb2Signer? ChooseSigner(in Smb2Header request, Smb2Response response, SmbSession? session, SmbSession? encryptedBy)
    {
        if (encryptedBy is not null) return null;
        if (response.SigningKey is { } key) return key;
        if (response.SignWith is { } forced) return forced.SignerFor(_connection) ?? forced.Signer;
        if (session is null || !session.IsValid) return null;
        if (request.Command == Smb2Command.SessionSetup) return null;
        var channelSigner = session.SignerFor(_connection);
        if (channelSigner is null) return null;
        return request.IsSigned || session.SigningRequired ? channelSigner : null;
    }

    private static int Align8(int value) => (value + 7) & ~7;
}

/// <summary>A frame's place in the connection's bounded set of frames in progress; released once.</summary>
public sealed class FrameSlot(SemaphoreSlim owner)
{
    private int _released;

    public void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0) owner.Release();
    }
}
