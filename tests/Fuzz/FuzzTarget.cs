using System.Buffers.Binary;
using System.Text;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Rpc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Protocol.Wire;
using FileAttributes = SmbCopy.Protocol.Fscc.FileAttributes;

namespace SmbCopy.Fuzz;

// The one entry point of the fuzz harness. Compiled into tests/Fuzz (SharpFuzz/AFL driver, random mode,
// seed writer) and linked into SmbCopy.Protocol.Tests, which replays tests/Fuzz/regressions/ through
// FuzzTarget.Check. Only public API of SmbCopy.Protocol is used, so both assemblies can compile it.
//
// Input layout: data[0] is the selector, data[1..] the payload.
//   selector & 0x7F picks the target (the ids below are stable: regression files depend on them;
//   append new targets, never renumber). An unknown id is a no-op.
//   selector & 0x80 ("raw") matters only for SMB2 command targets: without it a valid 64-byte header
//   for that command is prepended, so the payload is the body; with it the payload is the whole
//   message (header bytes included, unchecked) and the body is read at offset 64, as the dispatcher does.
//
// Contract checked by Check: every target either returns or throws MalformedMessageException.
// SrvsvcPipe must not throw at all, so a MalformedMessageException out of it is turned into a violation.
// A parse that allocates far more than its input could justify ("lying length") is a violation too.

/// <summary>Raised when an input breaks the parser contract in a way that is not itself an exception.</summary>
public sealed class FuzzContractViolationException(string message, Exception? inner = null) : Exception(message, inner);

public static class FuzzTarget
{
    public const byte RawFlag = 0x80;

    // SMB2 commands: the id is the command code (0x00..0x12).
    // Whole-message header parser.
    public const byte Header = 0x20;
    // SET_INFO file information classes and other FSCC buffers.
    public const byte SetBasic = 0x21, SetRename = 0x22, SetRenameEx = 0x23, SetLink = 0x24, SetDisposition = 0x25,
        SetDispositionEx = 0x26, SetPosition = 0x27, SetMode = 0x28, SetAllocation = 0x29, SetEndOfFile = 0x2A, FileName = 0x2B;
    // Security.
    public const byte SecurityDescriptorId = 0x30, SidId = 0x31, AclId = 0x32;
    // FSCTL inputs (and the outputs we also parse).
    public const byte CopyChunk = 0x40, DuplicateExtents = 0x41, DuplicateExtentsEx = 0x42, OffloadRead = 0x43, OffloadWrite = 0x44,
        ValidateNegotiate = 0x45, ZeroData = 0x46, AllocatedRange = 0x47, OffloadReadOut = 0x48, OffloadToken = 0x49, CopyChunkResponse = 0x4A;
    // Create context payloads and the context chain.
    public const byte CtxLease = 0x50, CtxDurableV2 = 0x51, CtxReconnectV2 = 0x52, CtxDurable = 0x53, CtxReconnect = 0x54,
        CtxMaximalAccess = 0x55, CtxAllocationSize = 0x56, CtxTimewarp = 0x57, CtxChain = 0x58, NegotiateContextIds = 0x59;
    // srvsvc named pipe: fresh pipe / pipe already bound / bound pipe fed in chunks with small reads.
    public const byte PipeFresh = 0x60, PipeBound = 0x61, PipeChunked = 0x62;

    private delegate void Target(ReadOnlySpan<byte> payload, bool raw);

    private static readonly Dictionary<byte, (string Name, Target Run)> Targets = BuildTargets();

    public static IEnumerable<(byte Id, string Name)> All => Targets.Select(t => (t.Key, t.Value.Name)).OrderBy(t => t.Key);

    public static string NameOf(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return "empty";
        string name = Targets.TryGetValue((byte)(data[0] & 0x7F), out var t) ? t.Name : $"unknown{data[0] & 0x7F:X2}";
        return (data[0] & RawFlag) != 0 && data[0] <= (RawFlag | 0x12) ? name + "-raw" : name;
    }

    /// <summary>Runs the selected parser; any exception propagates (MalformedMessageException included).</summary>
    public static void Run(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        if (!Targets.TryGetValue((byte)(data[0] & 0x7F), out var target)) return;
        target.Run(data[1..], (data[0] & RawFlag) != 0);
    }

    /// <summary>
    /// Run plus the contract: MalformedMessageException is an accepted outcome; anything else propagates,
    /// and so does a FuzzContractViolationException for an allocation out of proportion to the input.
    /// </summary>
    /// <returns>null when the input parsed, else the MalformedMessageException's message.</returns>
    public static string? Check(ReadOnlySpan<byte> data)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        string? malformed = null;
        try
        {
            Run(data);
        }
        catch (MalformedMessageException ex)
        {
            malformed = ex.Message;
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        long budget = AllocationBudget(data.Length);
        if (allocated > budget)
            throw new FuzzContractViolationException($"{NameOf(data)}: allocated {allocated} bytes for a {data.Length}-byte input (budget {budget})");
        return malformed;
    }

    /// <summary>Generous: a few fixed MiB (pipe buffers, response PDUs) plus 64 bytes per input byte.</summary>
    public static long AllocationBudget(int inputLength) => (8L << 20) + 64L * inputLength;

    private static Dictionary<byte, (string, Target)> BuildTargets()
    {
        var t = new Dictionary<byte, (string, Target)>
        {
            [(byte)Smb2Command.Negotiate] = ("negotiate", (p, raw) => Message(p, raw, Smb2Command.Negotiate, NegotiateBody)),
            [(byte)Smb2Command.SessionSetup] = ("session-setup", (p, raw) => Message(p, raw, Smb2Command.SessionSetup, (m, o) => SessionSetupRequest.Parse(m, o))),
            [(byte)Smb2Command.Logoff] = ("logoff", (p, raw) => Message(p, raw, Smb2Command.Logoff, (m, o) => EmptyBody.Validate(m.Span, o))),
            [(byte)Smb2Command.TreeConnect] = ("tree-connect", (p, raw) => Message(p, raw, Smb2Command.TreeConnect, (m, o) => _ = TreeConnectRequest.Parse(m.Span, o).ShareName)),
            [(byte)Smb2Command.TreeDisconnect] = ("tree-disconnect", (p, raw) => Message(p, raw, Smb2Command.TreeDisconnect, (m, o) => EmptyBody.Validate(m.Span, o))),
            [(byte)Smb2Command.Create] = ("create", (p, raw) => Message(p, raw, Smb2Command.Create, CreateBody)),
            [(byte)Smb2Command.Close] = ("close", (p, raw) => Message(p, raw, Smb2Command.Close, (m, o) => CloseRequest.Parse(m, o))),
            [(byte)Smb2Command.Flush] = ("flush", (p, raw) => Message(p, raw, Smb2Command.Flush, (m, o) => FlushRequest.Parse(m, o))),
            [(byte)Smb2Command.Read] = ("read", (p, raw) => Message(p, raw, Smb2Command.Read, (m, o) => ReadRequest.Parse(m, o))),
            [(byte)Smb2Command.Write] = ("write", (p, raw) => Message(p, raw, Smb2Command.Write, (m, o) => WriteRequest.Parse(m, o))),
            [(byte)Smb2Command.Lock] = ("lock", (p, raw) => Message(p, raw, Smb2Command.Lock, (m, o) => LockRequest.Parse(m, o))),
            [(byte)Smb2Command.Ioctl] = ("ioctl", (p, raw) => Message(p, raw, Smb2Command.Ioctl, IoctlBody)),
            [(byte)Smb2Command.Cancel] = ("cancel", (p, raw) => Message(p, raw, Smb2Command.Cancel, (m, o) => EmptyBody.Validate(m.Span, o))),
            [(byte)Smb2Command.Echo] = ("echo", (p, raw) => Message(p, raw, Smb2Command.Echo, (m, o) => EmptyBody.Validate(m.Span, o))),
            [(byte)Smb2Command.QueryDirectory] = ("query-directory", (p, raw) => Message(p, raw, Smb2Command.QueryDirectory, (m, o) => QueryDirectoryRequest.Parse(m, o))),
            [(byte)Smb2Command.ChangeNotify] = ("change-notify", (p, raw) => Message(p, raw, Smb2Command.ChangeNotify, (m, o) => ChangeNotifyRequest.Parse(m, o))),
            [(byte)Smb2Command.QueryInfo] = ("query-info", (p, raw) => Message(p, raw, Smb2Command.QueryInfo, (m, o) => QueryInfoRequest.Parse(m, o))),
            [(byte)Smb2Command.SetInfo] = ("set-info", (p, raw) => Message(p, raw, Smb2Command.SetInfo, SetInfoBody)),
            [(byte)Smb2Command.OplockBreak] = ("oplock-break", (p, raw) => Message(p, raw, Smb2Command.OplockBreak, OplockBreakBody)),

            [Header] = ("header", (p, _) => Smb2Header.Parse(p)),

            [SetBasic] = ("set-basic", (p, _) => FileBasicInformation.Parse(p)),
            [SetRename] = ("set-rename", (p, _) => FileRenameInformation.Parse(p)),
            [SetRenameEx] = ("set-rename-ex", (p, _) => FileRenameInformation.ParseEx(p)),
            [SetLink] = ("set-link", (p, _) => FileLinkInformation.Parse(p)),
            [SetDisposition] = ("set-disposition", (p, _) => FileDispositionInformation.Parse(p)),
            [SetDispositionEx] = ("set-disposition-ex", (p, _) => FileDispositionInformationEx.Parse(p)),
            [SetPosition] = ("set-position", (p, _) => FilePositionInformation.Parse(p)),
            [SetMode] = ("set-mode", (p, _) => FileModeInformation.Parse(p)),
            [SetAllocation] = ("set-allocation", (p, _) => FileAllocationInformation.Parse(p)),
            [SetEndOfFile] = ("set-end-of-file", (p, _) => FileEndOfFileInformation.Parse(p)),
            [FileName] = ("file-name", (p, _) => FileNameInformation.Parse(p)),

            [SecurityDescriptorId] = ("security-descriptor", (p, _) => SecurityDescriptorRoundTrip(p)),
            [SidId] = ("sid", (p, raw) => Sid.Parse(p, out int _).ToString()),
            [AclId] = ("acl", (p, _) => Acl.Parse(p)),

            [CopyChunk] = ("fsctl-copychunk", (p, _) => CopyChunkBoth(p)),
            [DuplicateExtents] = ("fsctl-duplicate-extents", (p, _) => DuplicateExtentsData.Parse(p)),
            [DuplicateExtentsEx] = ("fsctl-duplicate-extents-ex", (p, _) => DuplicateExtentsDataEx.Parse(p)),
            [OffloadRead] = ("fsctl-offload-read", (p, _) => OffloadReadInput.Parse(p)),
            [OffloadWrite] = ("fsctl-offload-write", (p, _) => OffloadWriteInput.Parse(p)),
            [ValidateNegotiate] = ("fsctl-validate-negotiate", (p, _) => ValidateNegotiateInfoRequest.Parse(p)),
            [ZeroData] = ("fsctl-zero-data", (p, _) => FileZeroDataInformation.Parse(p)),
            [AllocatedRange] = ("fsctl-allocated-range", (p, _) => FileAllocatedRangeBuffer.Parse(p)),
            [OffloadReadOut] = ("fsctl-offload-read-output", (p, _) => OffloadReadOutput.Parse(p)),
            [OffloadToken] = ("offload-token", (p, _) => StorageOffloadToken.Parse(p)),
            [CopyChunkResponse] = ("copychunk-response", (p, _) => SrvCopyChunkResponse.Parse(p)),

            [CtxLease] = ("ctx-lease", (p, _) => LeaseContext.Parse(p)),
            [CtxDurableV2] = ("ctx-dh2q", (p, _) => CreateContextData.ParseDurableHandleRequestV2(p)),
            [CtxReconnectV2] = ("ctx-dh2c", (p, _) => CreateContextData.ParseDurableHandleReconnectV2(p)),
            [CtxDurable] = ("ctx-dhnq", (p, _) => CreateContextData.ParseDurableHandleRequest(p)),
            [CtxReconnect] = ("ctx-dhnc", (p, _) => CreateContextData.ParseDurableHandleReconnect(p)),
            [CtxMaximalAccess] = ("ctx-mxac", (p, _) => CreateContextData.ParseMaximalAccessRequest(p)),
            [CtxAllocationSize] = ("ctx-alsi", (p, _) => CreateContextData.ParseAllocationSize(p)),
            [CtxTimewarp] = ("ctx-twrp", (p, _) => CreateContextData.ParseTimewarp(p)),
            [CtxChain] = ("ctx-chain", (p, _) => ContextChain(p.ToArray())),
            [NegotiateContextIds] = ("negotiate-context-ids", (p, _) => NegotiateIds(p)),

            [PipeFresh] = ("pipe", (p, _) => Pipe(p, bound: false, chunked: false)),
            [PipeBound] = ("pipe-bound", (p, _) => Pipe(p, bound: true, chunked: false)),
            [PipeChunked] = ("pipe-chunked", (p, _) => Pipe(p, bound: true, chunked: true)),
        };
        return t;
    }

    // ---- SMB2 messages ----

    private delegate void BodyParser(ReadOnlyMemory<byte> message, int bodyOffset);

    private static void Message(ReadOnlySpan<byte> payload, bool raw, Smb2Command command, BodyParser parse)
    {
        byte[] message;
        if (raw)
        {
            message = payload.ToArray();
        }
        else
        {
            message = new byte[Smb2Header.Size + payload.Length];
            RequestHeader(command).WriteTo(message);
            payload.CopyTo(message.AsSpan(Smb2Header.Size));
        }
        parse(message, Smb2Header.Size);
    }

    public static Smb2Header RequestHeader(Smb2Command command) => new()
    {
        Command = command,
        CreditCharge = 1,
        Credits = 1,
        MessageId = 2,
        TreeId = 1,
        SessionId = 0x0000_0400_0000_0011,
    };

    private static void NegotiateBody(ReadOnlyMemory<byte> message, int bodyOffset)
    {
        var negotiate = NegotiateRequest.Parse(message.Span, bodyOffset);
        // What NegotiateHandler reads out of the contexts.
        foreach (var context in negotiate.Contexts)
        {
            switch (context.Type)
            {
                case NegotiateContextType.PreauthIntegrityCapabilities: context.ReadIdList(0, 4); break;
                case NegotiateContextType.EncryptionCapabilities:
                case NegotiateContextType.SigningCapabilities: context.ReadIdList(0, 2); break;
            }
        }
    }

    private static void NegotiateIds(ReadOnlySpan<byte> payload)
    {
        if (payload.IsEmpty) return;
        var context = new NegotiateContext((NegotiateContextType)(payload[0] & 0xF), payload[1..].ToArray());
        if ((payload[0] & 0x10) != 0) context.ReadIdList(0, 4);
        else context.ReadIdList(0, 2);
    }

    private static void CreateBody(ReadOnlyMemory<byte> message, int bodyOffset)
    {
        var create = CreateRequest.Parse(message, bodyOffset);
        foreach (var context in create.CreateContexts) ContextData(context);
    }

    private static void ContextChain(byte[] chain)
    {
        foreach (var context in CreateRequest.ParseContextChain(chain)) ContextData(context);
    }

    /// <summary>Each create context payload through the parser the CREATE handler uses for that name.</summary>
    private static void ContextData(CreateContext context)
    {
        var data = context.Data.Span;
        switch (context.Name)
        {
            case CreateContextNames.RequestLease: LeaseContext.Parse(data); break;
            case CreateContextNames.DurableHandleRequest: CreateContextData.ParseDurableHandleRequest(data); break;
            case CreateContextNames.DurableHandleReconnect: CreateContextData.ParseDurableHandleReconnect(data); break;
            case CreateContextNames.DurableHandleRequestV2: CreateContextData.ParseDurableHandleRequestV2(data); break;
            case CreateContextNames.DurableHandleReconnectV2: CreateContextData.ParseDurableHandleReconnectV2(data); break;
            case CreateContextNames.MaximalAccess: CreateContextData.ParseMaximalAccessRequest(data); break;
            case CreateContextNames.AllocationSize: CreateContextData.ParseAllocationSize(data); break;
            case CreateContextNames.Timewarp: CreateContextData.ParseTimewarp(data); break;
            case CreateContextNames.SecurityDescriptor: SecurityDescriptorRoundTrip(data); break;
        }
    }

    private static void IoctlBody(ReadOnlyMemory<byte> message, int bodyOffset)
    {
        var ioctl = IoctlRequest.Parse(message, bodyOffset);
        var input = ioctl.Input.Span;
        switch (ioctl.CtlCode)
        {
            case FsctlCodes.SrvCopyChunk:
            case FsctlCodes.SrvCopyChunkWrite: CopyChunkBoth(input); break;
            case FsctlCodes.DuplicateExtentsToFile: DuplicateExtentsData.Parse(input); break;
            case FsctlCodes.DuplicateExtentsToFileEx: DuplicateExtentsDataEx.Parse(input); break;
            case FsctlCodes.OffloadRead: OffloadReadInput.Parse(input); break;
            case FsctlCodes.OffloadWrite: OffloadWriteInput.Parse(input); break;
            case FsctlCodes.ValidateNegotiateInfo: ValidateNegotiateInfoRequest.Parse(input); break;
            case FsctlCodes.SetZeroData: FileZeroDataInformation.Parse(input); break;
            case FsctlCodes.QueryAllocatedRanges: FileAllocatedRangeBuffer.Parse(input); break;
            case FsctlCodes.PipeTransceive: Pipe(input, bound: true, chunked: false); break;
        }
    }

    private static void SetInfoBody(ReadOnlyMemory<byte> message, int bodyOffset)
    {
        var set = SetInfoRequest.Parse(message, bodyOffset);
        var buffer = set.Buffer.Span;
        if (set.InfoType == InfoType.Security)
        {
            SecurityDescriptorRoundTrip(buffer);
            return;
        }
        if (set.InfoType != InfoType.File) return;
        switch (set.FileInformationClass)
        {
            case FileInformationClass.Basic: FileBasicInformation.Parse(buffer); break;
            case FileInformationClass.Rename: FileRenameInformation.Parse(buffer); break;
            case FileInformationClass.RenameEx: FileRenameInformation.ParseEx(buffer); break;
            case FileInformationClass.Link: FileLinkInformation.Parse(buffer); break;
            case FileInformationClass.Disposition: FileDispositionInformation.Parse(buffer); break;
            case FileInformationClass.DispositionEx: FileDispositionInformationEx.Parse(buffer); break;
            case FileInformationClass.Position: FilePositionInformation.Parse(buffer); break;
            case FileInformationClass.Mode: FileModeInformation.Parse(buffer); break;
            case FileInformationClass.Allocation: FileAllocationInformation.Parse(buffer); break;
            case FileInformationClass.EndOfFile: FileEndOfFileInformation.Parse(buffer); break;
        }
    }

    private static void OplockBreakBody(ReadOnlyMemory<byte> message, int bodyOffset)
    {
        // The dispatcher tells an oplock break acknowledgment from a lease break acknowledgment by StructureSize.
        if (OplockBreakRequest.PeekStructureSize(message.Span, bodyOffset) == LeaseBreakAcknowledgment.StructureSize)
            LeaseBreakAcknowledgment.Parse(message, bodyOffset);
        else
            OplockBreak.Parse(message, bodyOffset);
    }

    // ---- FSCC ----

    private static void CopyChunkBoth(ReadOnlySpan<byte> input)
    {
        bool ok = SrvCopyChunkCopy.TryParse(input, out var copy);
        if (ok != (copy is not null)) throw new FuzzContractViolationException("SrvCopyChunkCopy.TryParse result and out value disagree");
        SrvCopyChunkCopy.Parse(input);
    }

    /// <summary>Parse, then write back what was parsed: the server echoes descriptors it accepted.</summary>
    private static void SecurityDescriptorRoundTrip(ReadOnlySpan<byte> buffer)
    {
        var sd = SecurityDescriptor.Parse(buffer);
        sd.ToBytes();
        _ = sd.Owner?.ToString();
    }

    // ---- srvsvc pipe ----

    private static readonly IReadOnlyList<RpcShareInfo> PipeShares =
    [
        new("data", 0, "Team data"),
        new("IPC$", 0x80000003, "Remote IPC"),
        new("Ünïcode share with a rather long name", 0, "ümlauts"),
    ];

    private static readonly RpcServerInfo PipeServer = new("FILESRV", "SmbCopy fuzz");

    private static void Pipe(ReadOnlySpan<byte> payload, bool bound, bool chunked)
    {
        var pipe = new SrvsvcPipe(() => PipeShares, PipeServer);
        try
        {
            if (bound)
            {
                pipe.Write(FuzzSeeds.RpcBind(1));
                pipe.Read(new byte[pipe.PendingBytes]);
            }
            if (!chunked)
            {
                pipe.Transceive(payload);
                return;
            }
            // First payload byte: the write size (1..256); reads go through a buffer of a different size.
            if (payload.IsEmpty) return;
            int chunk = payload[0] + 1;
            var rest = payload[1..];
            var readBuffer = new byte[(chunk * 3 % 509) + 1];
            while (!rest.IsEmpty)
            {
                int n = Math.Min(chunk, rest.Length);
                pipe.Write(rest[..n]);
                rest = rest[n..];
                pipe.Transceive(ReadOnlySpan<byte>.Empty, readBuffer);
            }
            while (pipe.Read(readBuffer) > 0) { }
            if (pipe.PendingBytes != 0) throw new FuzzContractViolationException($"pipe still has {pipe.PendingBytes} bytes after draining");
        }
        catch (MalformedMessageException ex)
        {
            throw new FuzzContractViolationException("SrvsvcPipe must never throw, but a MalformedMessageException escaped", ex);
        }
    }
}

/// <summary>
/// Valid example inputs for every target (selector byte included): the seed corpus of both fuzz modes,
/// written to tests/Fuzz/seeds/ by `dotnet run -- --write-seeds DIR`.
/// </summary>
public static class FuzzSeeds
{
    private static readonly Guid ClientGuid = new("7a1b2c3d-4e5f-4061-8293-a4b5c6d7e8f9");
    private static readonly Guid LeaseKey = new("11111111-2222-3333-4444-555555555555");

    public static IEnumerable<(string Name, byte[] Data)> All()
    {
        // SMB2 request bodies (a header is prepended by the target) and one raw whole message for each.
        foreach (var (name, command, body) in Bodies())
        {
            yield return (name, With((byte)command, body));
            var whole = new byte[Smb2Header.Size + body.Length];
            FuzzTarget.RequestHeader(command).WriteTo(whole);
            body.CopyTo(whole, Smb2Header.Size);
            yield return (name + "-raw", With((byte)((byte)command | FuzzTarget.RawFlag), whole));
        }

        var header = new byte[Smb2Header.Size];
        FuzzTarget.RequestHeader(Smb2Command.Create).WriteTo(header);
        yield return ("header", With(FuzzTarget.Header, header));
        var asyncHeader = FuzzTarget.RequestHeader(Smb2Command.ChangeNotify);
        asyncHeader.Flags = Smb2Flags.AsyncCommand;
        asyncHeader.AsyncId = 9;
        asyncHeader.WriteTo(header);
        yield return ("header-async", With(FuzzTarget.Header, header));

        yield return ("set-basic", With(FuzzTarget.SetBasic, Basic()));
        yield return ("set-rename", With(FuzzTarget.SetRename, Rename("new\\name.txt", 1)));
        yield return ("set-rename-ex", With(FuzzTarget.SetRenameEx, Rename("renamed.txt", 0x43)));
        yield return ("set-link", With(FuzzTarget.SetLink, Rename("link.txt", 0)));
        yield return ("set-disposition", With(FuzzTarget.SetDisposition, [1]));
        yield return ("set-disposition-ex", With(FuzzTarget.SetDispositionEx, U32(0x13)));
        yield return ("set-position", With(FuzzTarget.SetPosition, U64(4096)));
        yield return ("set-mode", With(FuzzTarget.SetMode, U32(0x2)));
        yield return ("set-allocation", With(FuzzTarget.SetAllocation, U64(1 << 20)));
        yield return ("set-end-of-file", With(FuzzTarget.SetEndOfFile, U64(12345)));
        yield return ("file-name", With(FuzzTarget.FileName, FileNameInfo("\\dir\\file.txt")));

        yield return ("security-descriptor", With(FuzzTarget.SecurityDescriptorId, Sd()));
        yield return ("security-descriptor-sacl", With(FuzzTarget.SecurityDescriptorId, SdWithSacl()));
        yield return ("sid", With(FuzzTarget.SidId, Sid.BuiltinAdministrators.ToBytes()));
        yield return ("acl", With(FuzzTarget.AclId, AclBytes()));

        yield return ("fsctl-copychunk", With(FuzzTarget.CopyChunk, CopyChunkInput()));
        yield return ("fsctl-duplicate-extents", With(FuzzTarget.DuplicateExtents, DuplicateExtentsInput()));
        yield return ("fsctl-duplicate-extents-ex", With(FuzzTarget.DuplicateExtentsEx, DuplicateExtentsExInput()));
        yield return ("fsctl-offload-read", With(FuzzTarget.OffloadRead, OffloadReadInputBytes()));
        yield return ("fsctl-offload-write", With(FuzzTarget.OffloadWrite, OffloadWriteInputBytes()));
        yield return ("fsctl-validate-negotiate", With(FuzzTarget.ValidateNegotiate, ValidateNegotiateInput()));
        yield return ("fsctl-zero-data", With(FuzzTarget.ZeroData, [.. U64(4096), .. U64(8192)]));
        yield return ("fsctl-allocated-range", With(FuzzTarget.AllocatedRange, [.. U64(0), .. U64(1 << 30)]));
        yield return ("fsctl-offload-read-output", With(FuzzTarget.OffloadReadOut, Write(w => new OffloadReadOutput(0, 4096, Token()).WriteTo(w))));
        yield return ("offload-token", With(FuzzTarget.OffloadToken, Write(w => Token().WriteTo(w))));
        yield return ("copychunk-response", With(FuzzTarget.CopyChunkResponse, Write(w => new SrvCopyChunkResponse(16, 1 << 20, 16 << 20).WriteTo(w))));

        yield return ("ctx-lease-v1", With(FuzzTarget.CtxLease, LeaseBytes(v2: false)));
        yield return ("ctx-lease-v2", With(FuzzTarget.CtxLease, LeaseBytes(v2: true)));
        yield return ("ctx-dh2q", With(FuzzTarget.CtxDurableV2, DurableV2()));
        yield return ("ctx-dh2c", With(FuzzTarget.CtxReconnectV2, ReconnectV2()));
        yield return ("ctx-dhnq", With(FuzzTarget.CtxDurable, new byte[16]));
        yield return ("ctx-dhnc", With(FuzzTarget.CtxReconnect, [.. U64(5), .. U64(6)]));
        yield return ("ctx-mxac", With(FuzzTarget.CtxMaximalAccess, U64(0x01D9_0000_0000_0000)));
        yield return ("ctx-alsi", With(FuzzTarget.CtxAllocationSize, U64(65536)));
        yield return ("ctx-twrp", With(FuzzTarget.CtxTimewarp, U64(0x01D9_0000_0000_0000)));
        yield return ("ctx-chain", With(FuzzTarget.CtxChain, ContextChain()));
        yield return ("negotiate-context-ids-preauth", With(FuzzTarget.NegotiateContextIds, [0x11, .. PreauthContextData()]));
        yield return ("negotiate-context-ids-cipher", With(FuzzTarget.NegotiateContextIds, [0x02, .. U16(2), .. U16(2), .. U16(4)]));

        yield return ("pipe-bind", With(FuzzTarget.PipeFresh, RpcBind(1)));
        yield return ("pipe-bind-enum", With(FuzzTarget.PipeFresh, [.. RpcBind(1), .. RpcRequest(2, 15, ShareEnumStub(1))]));
        yield return ("pipe-bound-enum502", With(FuzzTarget.PipeBound, RpcRequest(2, 15, ShareEnumStub(502))));
        yield return ("pipe-bound-getinfo", With(FuzzTarget.PipeBound, RpcRequest(3, 16, ShareGetInfoStub("data", 2))));
        yield return ("pipe-bound-serverinfo", With(FuzzTarget.PipeBound, RpcRequest(4, 21, ServerGetInfoStub(101))));
        yield return ("pipe-bound-alter", With(FuzzTarget.PipeBound, RpcBind(5, ptype: 14, contextId: 1)));
        yield return ("pipe-bound-fragmented", With(FuzzTarget.PipeBound, FragmentedRequest()));
        yield return ("pipe-chunked", With(FuzzTarget.PipeChunked, [7, .. RpcRequest(2, 15, ShareEnumStub(2)), .. RpcRequest(3, 21, ServerGetInfoStub(102))]));
    }

    private static IEnumerable<(string, Smb2Command, byte[])> Bodies()
    {
        yield return ("negotiate", Smb2Command.Negotiate, NegotiateRequestBody());
        yield return ("negotiate-smb2", Smb2Command.Negotiate, Write(w =>
        {
            w.WriteUInt16(36); w.WriteUInt16(2); w.WriteUInt16(1); w.WriteUInt16(0); w.WriteUInt32(0);
            w.WriteGuid(ClientGuid); w.WriteUInt64(0); w.WriteUInt16(0x202); w.WriteUInt16(0x210);
        }));
        yield return ("session-setup", Smb2Command.SessionSetup, Write(w =>
        {
            byte[] token = [.. "NTLMSSP\0"u8, 1, 0, 0, 0, 0x97, 0x82, 0x08, 0xE2, .. new byte[16]];
            w.WriteUInt16(25); w.WriteByte(0); w.WriteByte(1); w.WriteUInt32(1); w.WriteUInt32(0);
            w.WriteUInt16(Smb2Header.Size + 24); w.WriteUInt16((ushort)token.Length); w.WriteUInt64(0);
            w.WriteBytes(token);
        }));
        yield return ("logoff", Smb2Command.Logoff, EmptyBodyBytes());
        yield return ("tree-connect", Smb2Command.TreeConnect, Write(w =>
        {
            byte[] path = Encoding.Unicode.GetBytes("\\\\fileserver\\data");
            w.WriteUInt16(9); w.WriteUInt16(0); w.WriteUInt16(Smb2Header.Size + 8); w.WriteUInt16((ushort)path.Length);
            w.WriteBytes(path);
        }));
        yield return ("tree-disconnect", Smb2Command.TreeDisconnect, EmptyBodyBytes());
        yield return ("create", Smb2Command.Create, CreateRequestBody("dir\\file.txt", ContextChain()));
        yield return ("create-noctx", Smb2Command.Create, CreateRequestBody("", []));
        yield return ("close", Smb2Command.Close, Write(w => { w.WriteUInt16(24); w.WriteUInt16(1); w.WriteUInt32(0); FileId(w); }));
        yield return ("flush", Smb2Command.Flush, Write(w => { w.WriteUInt16(24); w.WriteUInt16(0); w.WriteUInt32(0); FileId(w); }));
        yield return ("read", Smb2Command.Read, Write(w =>
        {
            w.WriteUInt16(49); w.WriteByte(0x50); w.WriteByte(0); w.WriteUInt32(65536); w.WriteUInt64(4096); FileId(w);
            w.WriteUInt32(1); w.WriteUInt32(0); w.WriteUInt32(0); w.WriteUInt16(0); w.WriteUInt16(0); w.WriteByte(0);
        }));
        yield return ("write", Smb2Command.Write, Write(w =>
        {
            byte[] data = "hello, fuzzer"u8.ToArray();
            w.WriteUInt16(49); w.WriteUInt16(Smb2Header.Size + 48); w.WriteUInt32((uint)data.Length); w.WriteUInt64(0); FileId(w);
            w.WriteUInt32(0); w.WriteUInt32(0); w.WriteUInt16(0); w.WriteUInt16(0); w.WriteUInt32(1);
            w.WriteBytes(data);
        }));
        yield return ("lock", Smb2Command.Lock, Write(w =>
        {
            w.WriteUInt16(48); w.WriteUInt16(2); w.WriteUInt32(0x31); FileId(w);
            w.WriteUInt64(0); w.WriteUInt64(100); w.WriteUInt32((uint)(LockFlags.Exclusive | LockFlags.FailImmediately)); w.WriteUInt32(0);
            w.WriteUInt64(200); w.WriteUInt64(10); w.WriteUInt32((uint)LockFlags.Unlock); w.WriteUInt32(0);
        }));
        yield return ("ioctl-copychunk", Smb2Command.Ioctl, IoctlBodyBytes(FsctlCodes.SrvCopyChunkWrite, CopyChunkInput(), 12));
        yield return ("ioctl-duplicate-extents", Smb2Command.Ioctl, IoctlBodyBytes(FsctlCodes.DuplicateExtentsToFile, DuplicateExtentsInput(), 0));
        yield return ("ioctl-duplicate-extents-ex", Smb2Command.Ioctl, IoctlBodyBytes(FsctlCodes.DuplicateExtentsToFileEx, DuplicateExtentsExInput(), 0));
        yield return ("ioctl-offload-read", Smb2Command.Ioctl, IoctlBodyBytes(FsctlCodes.OffloadRead, OffloadReadInputBytes(), 528));
        yield return ("ioctl-offload-write", Smb2Command.Ioctl, IoctlBodyBytes(FsctlCodes.OffloadWrite, OffloadWriteInputBytes(), 16));
        yield return ("ioctl-validate-negotiate", Smb2Command.Ioctl, IoctlBodyBytes(FsctlCodes.ValidateNegotiateInfo, ValidateNegotiateInput(), 24));
        yield return ("ioctl-zero-data", Smb2Command.Ioctl, IoctlBodyBytes(FsctlCodes.SetZeroData, [.. U64(0), .. U64(4096)], 0));
        yield return ("ioctl-allocated-ranges", Smb2Command.Ioctl, IoctlBodyBytes(FsctlCodes.QueryAllocatedRanges, [.. U64(0), .. U64(1 << 20)], 1024));
        yield return ("ioctl-resume-key", Smb2Command.Ioctl, IoctlBodyBytes(FsctlCodes.SrvRequestResumeKey, [], 32));
        yield return ("ioctl-pipe-transceive", Smb2Command.Ioctl, IoctlBodyBytes(FsctlCodes.PipeTransceive, RpcRequest(2, 15, ShareEnumStub(1)), 4280));
        yield return ("cancel", Smb2Command.Cancel, EmptyBodyBytes());
        yield return ("echo", Smb2Command.Echo, EmptyBodyBytes());
        yield return ("query-directory", Smb2Command.QueryDirectory, Write(w =>
        {
            byte[] pattern = Encoding.Unicode.GetBytes("*.txt");
            w.WriteUInt16(33); w.WriteByte((byte)FileInformationClass.IdBothDirectory); w.WriteByte(1); w.WriteUInt32(0); FileId(w);
            w.WriteUInt16(Smb2Header.Size + 32); w.WriteUInt16((ushort)pattern.Length); w.WriteUInt32(65536);
            w.WriteBytes(pattern);
        }));
        yield return ("change-notify", Smb2Command.ChangeNotify, Write(w =>
        {
            w.WriteUInt16(32); w.WriteUInt16(1); w.WriteUInt32(4096); FileId(w); w.WriteUInt32(0x17); w.WriteUInt32(0);
        }));
        yield return ("query-info", Smb2Command.QueryInfo, Write(w =>
        {
            w.WriteUInt16(41); w.WriteByte((byte)InfoType.File); w.WriteByte((byte)FileInformationClass.All); w.WriteUInt32(4096);
            w.WriteUInt16(Smb2Header.Size + 40); w.WriteUInt16(0); w.WriteUInt32(8); w.WriteUInt32(0); w.WriteUInt32(0); FileId(w);
            w.WriteUInt64(0);
        }));
        yield return ("set-info-basic", Smb2Command.SetInfo, SetInfoBodyBytes(InfoType.File, FileInformationClass.Basic, Basic()));
        yield return ("set-info-rename", Smb2Command.SetInfo, SetInfoBodyBytes(InfoType.File, FileInformationClass.Rename, Rename("dir\\other.txt", 1)));
        yield return ("set-info-rename-ex", Smb2Command.SetInfo, SetInfoBodyBytes(InfoType.File, FileInformationClass.RenameEx, Rename("x.txt", 0x3)));
        yield return ("set-info-link", Smb2Command.SetInfo, SetInfoBodyBytes(InfoType.File, FileInformationClass.Link, Rename("hard.txt", 0)));
        yield return ("set-info-disposition", Smb2Command.SetInfo, SetInfoBodyBytes(InfoType.File, FileInformationClass.Disposition, [1]));
        yield return ("set-info-disposition-ex", Smb2Command.SetInfo, SetInfoBodyBytes(InfoType.File, FileInformationClass.DispositionEx, U32(3)));
        yield return ("set-info-position", Smb2Command.SetInfo, SetInfoBodyBytes(InfoType.File, FileInformationClass.Position, U64(10)));
        yield return ("set-info-mode", Smb2Command.SetInfo, SetInfoBodyBytes(InfoType.File, FileInformationClass.Mode, U32(2)));
        yield return ("set-info-allocation", Smb2Command.SetInfo, SetInfoBodyBytes(InfoType.File, FileInformationClass.Allocation, U64(8192)));
        yield return ("set-info-end-of-file", Smb2Command.SetInfo, SetInfoBodyBytes(InfoType.File, FileInformationClass.EndOfFile, U64(100)));
        yield return ("set-info-security", Smb2Command.SetInfo, SetInfoBodyBytes(InfoType.Security, 0, Sd(), additional: 0x7));
        yield return ("oplock-break", Smb2Command.OplockBreak, Write(w => { w.WriteUInt16(24); w.WriteByte(1); w.WriteByte(0); w.WriteUInt32(0); FileId(w); }));
        yield return ("lease-break-ack", Smb2Command.OplockBreak, Write(w =>
        {
            w.WriteUInt16(36); w.WriteUInt16(0); w.WriteUInt32(0); w.WriteGuid(LeaseKey); w.WriteUInt32(1); w.WriteUInt64(0);
        }));
    }

    // ---- builders ----

    private static byte[] With(byte selector, byte[] payload) => [selector, .. payload];

    private static byte[] Write(Action<WireWriter> write)
    {
        using var w = new WireWriter();
        write(w);
        return w.ToArray();
    }

    private static byte[] U16(ushort v) { var b = new byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, v); return b; }
    private static byte[] U32(uint v) { var b = new byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); return b; }
    private static byte[] U64(ulong v) { var b = new byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); return b; }

    private static void FileId(WireWriter w) { w.WriteUInt64(0x0000_0001_0000_0042); w.WriteUInt64(0x0000_0002_0000_0043); }

    private static byte[] EmptyBodyBytes() => Write(w => { w.WriteUInt16(4); w.WriteUInt16(0); });

    private static byte[] PreauthContextData() => Write(w =>
    {
        w.WriteUInt16(1); w.WriteUInt16(32); w.WriteUInt16(1);
        for (int i = 0; i < 32; i++) w.WriteByte((byte)(i * 7));
    });

    private static byte[] NegotiateRequestBody() => Write(w =>
    {
        ushort[] dialects = [0x202, 0x210, 0x300, 0x302, 0x311];
        (ushort Type, byte[] Data)[] contexts =
        [
            (1, PreauthContextData()),
            (2, [.. U16(2), .. U16(2), .. U16(4)]),
            (8, [.. U16(2), .. U16(2), .. U16(1)]),
            (5, Encoding.Unicode.GetBytes("fileserver")),
        ];
        int bodyStart = w.Length;
        w.WriteUInt16(36); w.WriteUInt16((ushort)dialects.Length); w.WriteUInt16(1); w.WriteUInt16(0); w.WriteUInt32(0x7F);
        w.WriteGuid(ClientGuid);
        int offsetAt = w.Length;
        w.WriteUInt32(0); w.WriteUInt16((ushort)contexts.Length); w.WriteUInt16(0);
        foreach (var d in dialects) w.WriteUInt16(d);
        for (int i = 0; i < contexts.Length; i++)
        {
            while ((w.Length - bodyStart) % 8 != 0) w.WriteByte(0);
            if (i == 0) w.PatchUInt32(offsetAt, (uint)(Smb2Header.Size + w.Length - bodyStart));
            w.WriteUInt16(contexts[i].Type); w.WriteUInt16((ushort)contexts[i].Data.Length); w.WriteUInt32(0);
            w.WriteBytes(contexts[i].Data);
        }
    });

    private static byte[] CreateRequestBody(string name, byte[] contexts) => Write(w =>
    {
        byte[] nameBytes = Encoding.Unicode.GetBytes(name);
        int nameOffset = Smb2Header.Size + 56;
        int contextsOffset = contexts.Length == 0 ? 0 : (nameOffset + Math.Max(nameBytes.Length, 1) + 7) & ~7;
        w.WriteUInt16(57); w.WriteByte(0); w.WriteByte(0xFF); w.WriteUInt32(2); w.WriteUInt64(0); w.WriteUInt64(0);
        w.WriteUInt32(0x0012019F); w.WriteUInt32(0x80); w.WriteUInt32(7); w.WriteUInt32(3); w.WriteUInt32(0x40);
        w.WriteUInt16((ushort)nameOffset); w.WriteUInt16((ushort)nameBytes.Length);
        w.WriteUInt32((uint)contextsOffset); w.WriteUInt32((uint)contexts.Length);
        w.WriteBytes(nameBytes);
        if (nameBytes.Length == 0) w.WriteByte(0);   // the Buffer is at least one byte
        if (contexts.Length == 0) return;
        while (Smb2Header.Size + w.Length < contextsOffset) w.WriteByte(0);
        w.WriteBytes(contexts);
    });

    /// <summary>A chain of every create context the server reads, each 8-aligned.</summary>
    public static byte[] ContextChain() => Write(w =>
    {
        (string Name, byte[] Data)[] contexts =
        [
            (CreateContextNames.MaximalAccess, []),
            (CreateContextNames.QueryOnDiskId, []),
            (CreateContextNames.RequestLease, LeaseBytes(v2: true)),
            (CreateContextNames.DurableHandleRequestV2, DurableV2()),
            (CreateContextNames.AllocationSize, U64(1 << 20)),
            (CreateContextNames.Timewarp, U64(0x01D9_0000_0000_0000)),
            (CreateContextNames.DurableHandleRequest, new byte[16]),
            (CreateContextNames.DurableHandleReconnect, [.. U64(5), .. U64(6)]),
            (CreateContextNames.DurableHandleReconnectV2, ReconnectV2()),
            (CreateContextNames.SecurityDescriptor, Sd()),
            (CreateContextNames.AppInstanceId, [.. U16(20), .. U16(0), .. ClientGuid.ToByteArray()]),
        ];
        for (int i = 0; i < contexts.Length; i++)
        {
            var (name, data) = contexts[i];
            int start = w.Length;
            byte[] nameBytes = Encoding.Latin1.GetBytes(name);
            int dataOffset = data.Length == 0 ? 0 : (16 + nameBytes.Length + 7) & ~7;
            w.WriteUInt32(0); w.WriteUInt16(16); w.WriteUInt16((ushort)nameBytes.Length); w.WriteUInt16(0);
            w.WriteUInt16((ushort)dataOffset); w.WriteUInt32((uint)data.Length);
            w.WriteBytes(nameBytes);
            if (data.Length != 0)
            {
                while (w.Length - start < dataOffset) w.WriteByte(0);
                w.WriteBytes(data);
            }
            if (i == contexts.Length - 1) break;
            while ((w.Length - start) % 8 != 0) w.WriteByte(0);
            w.PatchUInt32(start, (uint)(w.Length - start));
        }
    });

    private static byte[] LeaseBytes(bool v2) => Write(w => new LeaseContext(LeaseKey, 7, v2 ? 4u : 0u, 0, ClientGuid, 3, v2).WriteTo(w, v2));

    private static byte[] DurableV2() => Write(w => { w.WriteUInt32(60000); w.WriteUInt32(2); w.WriteUInt64(0); w.WriteGuid(ClientGuid); });

    private static byte[] ReconnectV2() => Write(w => { FileId(w); w.WriteGuid(ClientGuid); w.WriteUInt32(2); });

    private static byte[] IoctlBodyBytes(uint ctlCode, byte[] input, uint maxOutput) => Write(w =>
    {
        w.WriteUInt16(57); w.WriteUInt16(0); w.WriteUInt32(ctlCode); FileId(w);
        w.WriteUInt32(input.Length == 0 ? 0u : Smb2Header.Size + 56); w.WriteUInt32((uint)input.Length); w.WriteUInt32(0);
        w.WriteUInt32(0); w.WriteUInt32(0); w.WriteUInt32(maxOutput); w.WriteUInt32(1); w.WriteUInt32(0);
        w.WriteBytes(input);
    });

    private static byte[] SetInfoBodyBytes(InfoType type, FileInformationClass infoClass, byte[] buffer, uint additional = 0) => Write(w =>
    {
        w.WriteUInt16(33); w.WriteByte((byte)type); w.WriteByte((byte)infoClass); w.WriteUInt32((uint)buffer.Length);
        w.WriteUInt16(Smb2Header.Size + 32); w.WriteUInt16(0); w.WriteUInt32(additional); FileId(w);
        w.WriteBytes(buffer);
    });

    private static byte[] Basic() => Write(w => new FileBasicInformation(0x01D9_0000_0000_0001, 0, -1, 0x01D9_0000_0000_0002, FileAttributes.Archive).WriteTo(w));

    private static byte[] Rename(string name, uint first) => Write(w =>
    {
        byte[] nameBytes = Encoding.Unicode.GetBytes(name);
        w.WriteUInt32(first); w.WriteUInt32(0); w.WriteUInt64(0); w.WriteUInt32((uint)nameBytes.Length); w.WriteBytes(nameBytes);
    });

    private static byte[] FileNameInfo(string name) => Write(w => new FileNameInformation(name).WriteTo(w));

    private static byte[] Sd() => SecurityDescriptor.CreateDefault(Sid.BuiltinAdministrators, Sid.BuiltinUsers, isDirectory: true).ToBytes();

    private static byte[] SdWithSacl()
    {
        var label = new Ace(AceType.SystemMandatoryLabel, AceFlags.None, (AccessMask)1, new Sid(16, 0x2000));
        var audit = new Ace(AceType.SystemAudit, AceFlags.FailedAccess, AccessMask.FileAllAccess, Sid.Everyone);
        var callback = new Ace((AceType)0x09, AceFlags.None, 0, null) { RawBody = new byte[12] };
        var sd = new SecurityDescriptor
        {
            Owner = Sid.LocalSystem,
            Group = Sid.AuthenticatedUsers,
            SaclPresent = true,
            Sacl = new Acl([label, audit]),
            DaclPresent = true,
            Dacl = new Acl([Ace.Deny(Sid.BuiltinUsers, AccessMask.FileAllAccess), callback], Acl.RevisionDs),
        };
        return sd.ToBytes(SecurityInformation.Owner | SecurityInformation.Group | SecurityInformation.Dacl | SecurityInformation.Sacl | SecurityInformation.Label);
    }

    private static byte[] AclBytes() => Write(w => new Acl([Ace.Allow(Sid.Everyone, AccessMask.FileAllAccess, AceFlags.ContainerInherit)]).WriteTo(w));

    private static byte[] CopyChunkInput() => Write(w => new SrvCopyChunkCopy(new byte[24], 2, [new(0, 0, 4096), new(4096, 8192, 100)]).WriteTo(w));

    private static byte[] DuplicateExtentsInput() => Write(w => new DuplicateExtentsData(new Smb2FileId(1, 2), 0, 4096, 65536).WriteTo(w));

    private static byte[] DuplicateExtentsExInput() => Write(w => new DuplicateExtentsDataEx(0x30, new Smb2FileId(1, 2), 0, 4096, 65536, 1).WriteTo(w));

    private static byte[] OffloadReadInputBytes() => Write(w => new OffloadReadInput(32, 0, 1000, 0, 1 << 20).WriteTo(w));

    private static StorageOffloadToken Token() => new(0xFFFF0002, Enumerable.Range(0, 504).Select(i => (byte)i).ToArray());

    private static byte[] OffloadWriteInputBytes() => Write(w => new OffloadWriteInput(544, 0, 0, 1 << 20, 0, Token()).WriteTo(w));

    private static byte[] ValidateNegotiateInput() => Write(w => new ValidateNegotiateInfoRequest(0x7F, ClientGuid, 1, [0x202, 0x210, 0x300, 0x302]).WriteTo(w));

    // ---- DCE/RPC (C706 12.6), little-endian ----

    private static readonly byte[] SrvsvcUuid = Convert.FromHexString("c84f324b7016d30112785a47bf6ee188");
    private static readonly byte[] NdrUuid = Convert.FromHexString("045d888aeb1cc9119fe808002b104860");
    private static readonly byte[] BtfnUuid = Convert.FromHexString("2c1cb76c129840450300000000000000");

    public static byte[] RpcBind(uint callId, byte ptype = 11, ushort contextId = 0) => RpcPdu(ptype, 3, callId, Write(w =>
    {
        w.WriteUInt16(4280); w.WriteUInt16(4280); w.WriteUInt32(0);
        w.WriteByte(2); w.WriteZeros(3);
        w.WriteUInt16(contextId); w.WriteByte(1); w.WriteByte(0); w.WriteBytes(SrvsvcUuid); w.WriteUInt16(3); w.WriteUInt16(0);
        w.WriteBytes(NdrUuid); w.WriteUInt32(2);
        w.WriteUInt16((ushort)(contextId + 1)); w.WriteByte(1); w.WriteByte(0); w.WriteBytes(SrvsvcUuid); w.WriteUInt16(3); w.WriteUInt16(0);
        w.WriteBytes(BtfnUuid); w.WriteUInt32(1);
    }));

    private static byte[] RpcRequest(uint callId, ushort opnum, byte[] stub, byte flags = 3) => RpcPdu(0, flags, callId, Write(w =>
    {
        w.WriteUInt32((uint)stub.Length); w.WriteUInt16(0); w.WriteUInt16(opnum); w.WriteBytes(stub);
    }));

    private static byte[] FragmentedRequest()
    {
        var stub = ShareGetInfoStub("IPC$", 1);
        int half = stub.Length / 2 & ~7;
        return [.. RpcRequest(7, 16, stub[..half], flags: 1), .. RpcRequest(7, 16, stub[half..], flags: 2)];
    }

    private static byte[] RpcPdu(byte ptype, byte flags, uint callId, byte[] body) => Write(w =>
    {
        w.WriteByte(5); w.WriteByte(0); w.WriteByte(ptype); w.WriteByte(flags); w.WriteUInt32(0x10);
        w.WriteUInt16((ushort)(16 + body.Length)); w.WriteUInt16(0); w.WriteUInt32(callId);
        w.WriteBytes(body);
    });

    private static void NdrU32(WireWriter w, uint v) { w.Align(4); w.WriteUInt32(v); }

    private static void NdrString(WireWriter w, string s)
    {
        uint n = (uint)s.Length + 1;
        NdrU32(w, n); NdrU32(w, 0); NdrU32(w, n);
        w.WriteBytes(Encoding.Unicode.GetBytes(s + "\0"));
    }

    private static byte[] ShareEnumStub(uint level) => Write(w =>
    {
        NdrU32(w, 0x00020000); NdrString(w, "fileserver");
        NdrU32(w, level); NdrU32(w, level); NdrU32(w, 0x00020004); NdrU32(w, 0); NdrU32(w, 0);
        NdrU32(w, 0xFFFFFFFF); NdrU32(w, 0x00020008); NdrU32(w, 0);
    });

    private static byte[] ShareGetInfoStub(string share, uint level) => Write(w =>
    {
        NdrU32(w, 0x00020000); NdrString(w, "fileserver"); NdrString(w, share); NdrU32(w, level);
    });

    private static byte[] ServerGetInfoStub(uint level) => Write(w =>
    {
        NdrU32(w, 0x00020000); NdrString(w, "\\\\fileserver"); NdrU32(w, level);
    });
}
