using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using SmbCopy.Gateway.Smb.Connection;
using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Server;
using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Gateway.Tests.Kit;
using SmbCopy.Protocol.Security;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Gateway.Tests.Smb;

/// <summary>
/// Compound requests through the real dispatcher (MS-SMB2 3.3.5.2.7, 3.3.4.1.3) with stand-in handlers:
/// what related requests inherit, which failures the chain passes on, and how the responses are laid out.
/// </summary>
public sealed class CompoundDispatchTests
{
    private const uint TreeId = 7;
    private const ulong NoFile = ulong.MaxValue;

    private sealed class TestOpen(ulong id, TreeConnect tree) : SmbOpen(id, id, tree, 0x1F01FF)
    {
        public override string DisplayName => "test" + VolatileId;
        public override ValueTask CloseAsync() => ValueTask.CompletedTask;
    }

    /// <summary>CREATE: a new open (or the status <see cref="FailWith"/>).</summary>
    private sealed class CreateStub : ISmb2Handler
    {
        private ulong _next = 100;
        public NtStatus FailWith { get; set; } = NtStatus.Success;
        public Smb2Command Command => Smb2Command.Create;
        public HandlerRequirements Requirements => HandlerRequirements.Tree;

        public ValueTask<Smb2Response> HandleAsync(Smb2Request request)
        {
            if (FailWith != NtStatus.Success) return ValueTask.FromResult(Smb2Response.Error(FailWith));
            var open = new TestOpen(Interlocked.Increment(ref _next), request.Tree!);
            request.Session!.Opens[open.VolatileId] = open;
            var response = Smb2Response.Ok(w => { w.WriteUInt16(89); w.WriteUInt64(open.PersistentId); w.WriteUInt64(open.VolatileId); });
            response.CreatedOpen = open;
            return ValueTask.FromResult(response);
        }
    }

    /// <summary>CLOSE / FLUSH: FileId at body offset 8; FILE_CLOSED when it names no open.</summary>
    private sealed class FileIdStub(Smb2Command command, bool closes) : ISmb2Handler
    {
        public Smb2Command Command => command;
        public HandlerRequirements Requirements => HandlerRequirements.Tree;

        public ValueTask<Smb2Response> HandleAsync(Smb2Request request)
        {
            var body = request.Span[Smb2Header.Size..];
            var open = request.ResolveOpen(BinaryPrimitives.ReadUInt64LittleEndian(body[8..]), BinaryPrimitives.ReadUInt64LittleEndian(body[16..]));
            if (open is null || (closes && !request.Session!.Opens.TryRemove(open.VolatileId, out _)))
                return ValueTask.FromResult(Smb2Response.Error(NtStatus.FileClosed));
            return ValueTask.FromResult(Smb2Response.Ok(w => w.WriteUInt16(4)));
        }
    }

    /// <summary>ECHO: no session needed, a 4-byte body (a 68-byte message).</summary>
    private sealed class EchoStub : ISmb2Handler
    {
        public Smb2Command Command => Smb2Command.Echo;
        public HandlerRequirements Requirements => HandlerRequirements.None;
        public ValueTask<Smb2Response> HandleAsync(Smb2Request request) =>
            ValueTask.FromResult(Smb2Response.Ok(w => { w.WriteUInt16(4); w.WriteUInt16(0); }));
    }

    private readonly CreateStub _create = new();
    private readonly SmbServer _server;
    private readonly SmbConnection _connection;
    private readonly Pipe _pipe = new();
    private readonly SmbSession _session;
    private readonly Smb2Signer _key = new(SigningAlgorithm.AesCmac, Enumerable.Repeat((byte)3, 16).ToArray());
    private ulong _messageId;

    public CompoundDispatchTests()
    {
        _server = TestGateway.Server(handlers:
            [_create, new FileIdStub(Smb2Command.Close, closes: true), new FileIdStub(Smb2Command.Flush, closes: false), new EchoStub()]);
        _connection = TestGateway.Connect(_server, Smb2Dialect.Smb311, _pipe.Writer);
        _connection.Credits.Grant(500, 1000, 1);
        _session = TestGateway.SignedSession(_server, _connection, _key);
        _session.Trees[TreeId] = new TreeConnect(TreeId, SmbShare.Ipc(), 0x1F01FF, _session);
    }

    private sealed record Req(Smb2Command Command, bool Related = false, ulong? SessionId = null, uint? Tree = null, ulong FileId = NoFile, bool Sign = false);

    private sealed record Resp(Smb2Command Command, NtStatus Status, Smb2Flags Flags, int Length, byte[] Message);

    private static byte[] Body(Smb2Command command, ulong fileId) => command switch
    {
        Smb2Command.Echo => [4, 0, 0, 0],
        Smb2Command.Create => new byte[57], // contents unused by the stub
        _ => Fid(fileId),
    };

    private static byte[] Fid(ulong fileId)
    {
        var body = new byte[24];
        body[0] = 24;
        BinaryPrimitives.WriteUInt64LittleEndian(body.AsSpan(8), fileId);
        BinaryPrimitives.WriteUInt64LittleEndian(body.AsSpan(16), fileId);
        return body;
    }

    /// <summary>Sends <paramref name="requests"/> as one frame (8-aligned, 3.2.4.1.4) and returns the responses received.</summary>
    private async Task<List<Resp>> SendAsync(params Req[] requests)
    {
        var messages = new List<byte[]>();
        for (int i = 0; i < requests.Length; i++)
        {
            var r = requests[i];
            byte[] body = Body(r.Command, r.FileId);
            int length = Smb2Header.Size + body.Length;
            bool last = i == requests.Length - 1;
            var message = new byte[last ? length : (length + 7) & ~7];
            new Smb2Header
            {
                CreditCharge = 1,
                Command = r.Command,
                Credits = 1,
                Flags = (r.Related ? Smb2Flags.RelatedOperations : 0) | (r.Sign ? Smb2Flags.Signed : 0),
                NextCommand = last ? 0 : (uint)message.Length,
                MessageId = _messageId++,
                TreeId = r.Tree ?? TreeId,
                SessionId = r.SessionId ?? _session.SessionId,
            }.WriteTo(message);
            body.CopyTo(message, Smb2Header.Size);
            if (r.Sign) _key.Sign(message);
            messages.Add(message);
        }
        int total = messages.Sum(m => m.Length);
        byte[] frame = ArrayPool<byte>.Shared.Rent(total);
        int offset = 0;
        foreach (var m in messages) { m.CopyTo(frame, offset); offset += m.Length; }
        await new Smb2Dispatcher(_connection).ProcessFrameAsync(frame, total);
        return await ReadResponsesAsync();
    }

    private async Task<List<Resp>> ReadResponsesAsync()
    {
        await _pipe.Writer.FlushAsync();
        var result = new List<Resp>();
        if (!_pipe.Reader.TryRead(out var read)) return result;
        byte[] data = read.Buffer.ToArray();
        _pipe.Reader.AdvanceTo(read.Buffer.End);
        int pos = 0;
        while (pos + 4 <= data.Length)
        {
            int frameLength = (data[pos + 1] << 16) | (data[pos + 2] << 8) | data[pos + 3];
            var frame = data.AsSpan(pos + 4, frameLength);
            int at = 0;
            while (true)
            {
                var header = Smb2Header.Parse(frame[at..]);
                int length = header.NextCommand == 0 ? frame.Length - at : (int)header.NextCommand;
                result.Add(new Resp(header.Command, header.NtStatus, header.Flags, length, frame.Slice(at, length).ToArray()));
                if (header.NextCommand == 0) break;
                at += (int)header.NextCommand;
            }
            pos += 4 + frameLength;
        }
        return result;
    }

    private static NtStatus[] Statuses(List<Resp> responses) => [.. responses.Select(r => r.Status)];

    [Fact]
    public async Task A_related_first_request_fails_with_invalid_parameter_and_so_do_the_related_requests_after_it()
    {
        // 3.3.5.2.7.2 <259> (smbtorture compound.invalid1 / related9): the chain has no ids to inherit.
        await SendAsync(new Req(Smb2Command.Create));
        ulong id = Assert.Single(_session.Opens).Key;

        var responses = await SendAsync(
            new Req(Smb2Command.Flush, Related: true, FileId: id),
            new Req(Smb2Command.Close, Related: true, FileId: id),
            new Req(Smb2Command.Close)); // unrelated: its own (all-0xFF) FileId names nothing

        Assert.Equal([NtStatus.InvalidParameter, NtStatus.InvalidParameter, NtStatus.FileClosed], Statuses(responses));
        Assert.Single(_session.Opens); // the related CLOSE never ran
    }

    [Fact]
    public async Task A_refused_related_request_is_signed_in_the_session_its_header_names()
    {
        // 3.3.4.1.1: the client signed it, so the error comes back signed (a signing client rejects it otherwise).
        var responses = await SendAsync(new Req(Smb2Command.Flush, Related: true, Sign: true), new Req(Smb2Command.Flush, Related: true, Sign: true));

        Assert.Equal([NtStatus.InvalidParameter, NtStatus.InvalidParameter], Statuses(responses));
        foreach (var r in responses)
        {
            Assert.True(r.Flags.HasFlag(Smb2Flags.Signed));
            Assert.True(_key.Verify(r.Message));
        }
    }

    [Fact]
    public async Task A_related_request_after_an_operation_without_a_session_fails_with_invalid_parameter()
    {
        // 3.3.5.2.7.2 (compound.invalid2): the previous operation "does not contain a SessionId" → INVALID_PARAMETER,
        // where the unrelated requests with the same unknown SessionId get USER_SESSION_DELETED.
        var responses = await SendAsync(
            new Req(Smb2Command.Create),
            new Req(Smb2Command.Close, Related: true, SessionId: ulong.MaxValue, Tree: uint.MaxValue),
            new Req(Smb2Command.Close, SessionId: ulong.MaxValue, Tree: uint.MaxValue),
            new Req(Smb2Command.Close, Related: true, SessionId: ulong.MaxValue, Tree: uint.MaxValue));

        Assert.Equal([NtStatus.Success, NtStatus.Success, NtStatus.UserSessionDeleted, NtStatus.InvalidParameter], Statuses(responses));
        Assert.Empty(_session.Opens); // the related CLOSE closed what the CREATE opened
    }

    [Fact]
    public async Task A_related_request_uses_the_open_the_previous_request_named()
    {
        // 3.3.5.2.7.2: FileId is the one "used in processing the previous operation", not only one a CREATE made.
        await SendAsync(new Req(Smb2Command.Create));
        ulong id = Assert.Single(_session.Opens).Key;

        var responses = await SendAsync(new Req(Smb2Command.Flush, FileId: id), new Req(Smb2Command.Close, Related: true));

        Assert.Equal([NtStatus.Success, NtStatus.Success], Statuses(responses));
        Assert.Empty(_session.Opens);
    }

    [Fact]
    public async Task A_related_request_after_the_chain_closed_its_open_gets_file_closed()
    {
        var responses = await SendAsync(
            new Req(Smb2Command.Create),
            new Req(Smb2Command.Close, Related: true),
            new Req(Smb2Command.Flush, Related: true),
            new Req(Smb2Command.Close, Related: true));

        Assert.Equal([NtStatus.Success, NtStatus.Success, NtStatus.FileClosed, NtStatus.FileClosed], Statuses(responses));
    }

    [Fact]
    public async Task A_failed_create_fails_the_related_requests_after_it_with_its_status()
    {
        // 3.3.5.2.7.2 <260> (compound.related4/8): the same error code as the CREATE.
        _create.FailWith = NtStatus.ObjectNameNotFound;
        var responses = await SendAsync(
            new Req(Smb2Command.Create),
            new Req(Smb2Command.Flush, Related: true),
            new Req(Smb2Command.Close, Related: true),
            new Req(Smb2Command.Echo));

        Assert.Equal([NtStatus.ObjectNameNotFound, NtStatus.ObjectNameNotFound, NtStatus.ObjectNameNotFound, NtStatus.Success], Statuses(responses));
    }

    [Fact]
    public async Task Every_response_of_a_compound_is_padded_to_8_bytes_including_the_last()
    {
        // 3.3.4.1.3: "The length of the last response in the compounded responses SHOULD be padded to a multiple
        // of 8 bytes" (compound.compound-padding: a 3-byte READ answers a 24-byte body in a compound, 19 alone).
        var compound = await SendAsync(new Req(Smb2Command.Echo), new Req(Smb2Command.Echo));
        var single = await SendAsync(new Req(Smb2Command.Echo));

        Assert.Equal([72, 72], compound.Select(r => r.Length));
        Assert.Equal(68, Assert.Single(single).Length);
    }

    [Fact]
    public async Task A_request_not_on_an_8_byte_boundary_drops_the_connection()
    {
        // 3.3.5.2.7 <263>: NextCommand must point at an 8-aligned header; the frame cannot be walked otherwise.
        var message = new byte[Smb2Header.Size * 2 + 8];
        new Smb2Header { Command = Smb2Command.Echo, NextCommand = 68, MessageId = _messageId++, CreditCharge = 1 }.WriteTo(message);
        byte[] frame = ArrayPool<byte>.Shared.Rent(message.Length);
        message.CopyTo(frame, 0);

        await new Smb2Dispatcher(_connection).ProcessFrameAsync(frame, message.Length);

        Assert.True(_connection.IsClosed);
        Assert.Empty(await ReadResponsesAsync());
    }
}
