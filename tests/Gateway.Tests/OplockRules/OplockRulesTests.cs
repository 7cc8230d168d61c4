using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using SmbCopy.Gateway.Smb.Connection;
using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Gateway.Smb.Handlers;
using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Gateway.Tests.Kit;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Protocol.Wire;
using Disposition = SmbCopy.Protocol.Fscc.CreateDisposition;
using FileAttributes = SmbCopy.Protocol.Fscc.FileAttributes;

namespace SmbCopy.Gateway.Tests.OplockRules;

/// <summary>
/// Classic oplock rules on a real share, two clients on their own connections, through FileCreate and the
/// WRITE / LOCK / OPLOCK_BREAK paths (MS-FSA 2.1.4.12, 2.1.5.1.2.1; MS-SMB2 2.2.24.1, 3.3.5.22.1). Each client
/// records the break notifications its connection receives and acknowledges exclusive/batch breaks with the
/// offered level, as smbtorture's torture_oplock_handler does; the scenarios are those of smbtorture smb2.oplock.
/// </summary>
public sealed class OplockRulesTests : IAsyncDisposable
{
    /// <summary>One client: its connection's output is read back for OPLOCK_BREAK notifications.</summary>
    private sealed class Client : IAsyncDisposable
    {
        private readonly Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: 0));
        private readonly List<(OplockLevel Level, ulong VolatileId)> _breaks = [];
        private readonly Task _reader;
        /// <summary>False: breaks are recorded, never acknowledged (torture_oplock_handler_timeout).</summary>
        public bool Acknowledges { get; set; } = true;
        public SmbConnection Connection { get; }
        public SmbSession Session { get; }
        public TreeConnect Tree { get; }

        public Client(LocalShareKit kit)
        {
            (Connection, Session, Tree) = kit.LogOn(output: _pipe.Writer);
            _reader = Task.Run(ReadAsync);
        }

        public List<(OplockLevel Level, ulong VolatileId)> Breaks
        {
            get { lock (_breaks) return [.. _breaks]; }
        }

        private async Task ReadAsync()
        {
            var reader = _pipe.Reader;
            while (true)
            {
                var result = await reader.ReadAsync();
                var buffer = result.Buffer;
                while (buffer.Length >= 4)
                {
                    var prefix = new byte[4];
                    buffer.Slice(0, 4).CopyTo(prefix);
                    int length = (prefix[1] << 16) | (prefix[2] << 8) | prefix[3];
                    if (buffer.Length < 4 + length) break;
                    var frame = buffer.Slice(4, length).ToArray();
                    buffer = buffer.Slice(4 + length);
                    var header = Smb2Header.Parse(frame);
                    if (header.Command != Smb2Command.OplockBreak || header.MessageId != ulong.MaxValue) continue;
                    var notification = OplockBreak.Parse(frame, Smb2Header.Size);
                    lock (_breaks) _breaks.Add((notification.OplockLevel, notification.FileId.Volatile));
                    // torture_oplock_handler: acknowledge an exclusive/batch break with the offered level.
                    if (Acknowledges && Session.Opens.TryGetValue(notification.FileId.Volatile, out var open) && open is FileOpen file
                        && file.OplockBreaking is not null)
                        Oplocks.CompleteBreak(file, notification.OplockLevel);
                }
                reader.AdvanceTo(buffer.Start, result.Buffer.End);
                if (result.IsCompleted) return;
            }
        }

        public async Task<List<(OplockLevel Level, ulong VolatileId)>> WaitForBreaksAsync(int count)
        {
            for (int i = 0; i < 100 && Breaks.Count < count; i++) await Task.Delay(20);
            await Task.Delay(100); // and nothing more arrives
            return Breaks;
        }

        public async ValueTask DisposeAsync()
        {
            await Session.CloseAllAsync();
            await _pipe.Writer.CompleteAsync();
            await _reader;
        }
    }

    private readonly LocalShareKit _kit = new("oplock-");

    public ValueTask DisposeAsync() => _kit.DisposeAsync();

    private const AccessMask All = AccessMask.FileAllAccess;
    private const ShareAccess ShareAll = ShareAccess.Read | ShareAccess.Write | ShareAccess.Delete;
    private const AccessMask AttributesOnly = AccessMask.FileReadAttributes | AccessMask.FileWriteAttributes | AccessMask.Synchronize;

    private Smb2Request Request(Client client, Smb2Command command, byte[]? message = null) =>
        _kit.Request(client.Connection, client.Session, client.Tree, command, message);

    private async Task<(NtStatus Status, FileOpen? Open, OplockLevel Granted)> OpenAsync(Client client, AccessMask access, ShareAccess share,
        OplockLevel oplock, Disposition disposition = Disposition.OpenIf, string name = "file.dat")
    {
        var create = new CreateRequest(0, oplock, 2, 0, access, FileAttributes.Normal, share, disposition, CreateOptions.None, name, []);
        var (status, open, body) = await FileCreate.OpenAsync(Request(client, Smb2Command.Create), create);
        body?.Dispose();
        OplockLevel granted = OplockLevel.None;
        if (open is not null) lock (open.Node.Gate) granted = open.Oplock;
        return (status, open, granted);
    }

    [Fact]
    public async Task An_exclusive_oplock_with_a_share_mode_conflict_is_not_broken()
    {
        // MS-FSA 2.1.5.1.2.1: only a batch oplock is broken on a sharing violation (smbtorture oplock.exclusive1).
        await using var c1 = new Client(_kit);
        await using var c2 = new Client(_kit);
        var (_, holder, level) = await OpenAsync(c1, All, ShareAccess.None, OplockLevel.Exclusive);
        Assert.Equal(OplockLevel.Exclusive, level);

        var (status, _, _) = await OpenAsync(c2, All, ShareAccess.None, OplockLevel.Exclusive);
        Assert.Equal(NtStatus.SharingViolation, status);
        Assert.Empty(await c1.WaitForBreaksAsync(0));
        lock (holder!.Node.Gate) Assert.Equal(OplockLevel.Exclusive, holder.Oplock);
    }

    [Fact]
    public async Task A_batch_oplock_with_a_share_mode_conflict_breaks_to_level_II_and_the_open_still_fails()
    {
        // smbtorture oplock.batch1: the holder may be caching a closed handle; once it keeps it, the conflict stands.
        await using var c1 = new Client(_kit);
        await using var c2 = new Client(_kit);
        var (_, holder, level) = await OpenAsync(c1, All, ShareAccess.None, OplockLevel.Batch);
        Assert.Equal(OplockLevel.Batch, level);

        var (status, _, _) = await OpenAsync(c2, AccessMask.Delete, ShareAll, OplockLevel.None);
        Assert.Equal(NtStatus.SharingViolation, status);
        var breaks = await c1.WaitForBreaksAsync(1);
        Assert.Equal([(OplockLevel.LevelII, holder!.VolatileId)], breaks);

        // Now level II: a second conflicting open breaks nothing.
        (status, _, _) = await OpenAsync(c2, AccessMask.Delete, ShareAll, OplockLevel.None);
        Assert.Equal(NtStatus.SharingViolation, status);
        Assert.Single(await c1.WaitForBreaksAsync(1));
    }

    [Theory]
    [InlineData(AccessMask.FileReadAttributes, false)]
    [InlineData(AccessMask.FileWriteAttributes, false)]
    [InlineData(AccessMask.Synchronize, false)]
    [InlineData(AccessMask.FileReadEa, true)]
    [InlineData(AccessMask.FileWriteEa, true)]
    [InlineData(AccessMask.ReadControl, true)]
    [InlineData(AccessMask.WriteDac, true)]
    [InlineData(AccessMask.WriteOwner, true)]
    [InlineData(AccessMask.Delete, true)]
    [InlineData(AccessMask.FileReadData, true)]
    public async Task Only_a_stat_open_leaves_a_batch_oplock_alone(AccessMask access, bool breaks)
    {
        // MS-FSA 2.1.4.12 (OPEN): no flag but FILE_READ_ATTRIBUTES, FILE_WRITE_ATTRIBUTES, SYNCHRONIZE is a stat open
        // (smbtorture oplock.statopen1).
        await using var c1 = new Client(_kit);
        var (_, holder, _) = await OpenAsync(c1, All, ShareAll, OplockLevel.Batch);
        var (status, second, _) = await OpenAsync(c1, access, ShareAll, OplockLevel.None, Disposition.Open);
        Assert.Equal(NtStatus.Success, status);
        Assert.Equal(breaks ? 1 : 0, (await c1.WaitForBreaksAsync(breaks ? 1 : 0)).Count);
        lock (holder!.Node.Gate) Assert.Equal(breaks ? OplockLevel.LevelII : OplockLevel.Batch, holder.Oplock);
        Assert.NotNull(second);
    }

    [Theory]
    [InlineData(Disposition.Overwrite)]
    [InlineData(Disposition.OverwriteIf)]
    [InlineData(Disposition.Supersede)]
    public async Task An_attribute_only_overwrite_breaks_the_batch_oplock_to_none_and_gets_level_II(Disposition disposition)
    {
        // An overwrite changes the data even through a stat open (smbtorture oplock.exclusive5, batch13/14/16;
        // exclusive9 for the break level).
        await using var c1 = new Client(_kit);
        await using var c2 = new Client(_kit);
        var (_, holder, _) = await OpenAsync(c1, All, ShareAll, OplockLevel.Batch);
        var (status, _, granted) = await OpenAsync(c2, AttributesOnly, ShareAll, OplockLevel.Batch, disposition);
        Assert.Equal(NtStatus.Success, status);
        Assert.Equal(OplockLevel.LevelII, granted);
        Assert.Equal([(OplockLevel.None, holder!.VolatileId)], await c1.WaitForBreaksAsync(1));
    }

    [Fact]
    public async Task A_delete_pending_file_fails_the_open_without_a_break()
    {
        // MS-FSA 2.1.5.1.2.1 checks DeletePending before oplocks (smbtorture oplock.doc).
        await using var c1 = new Client(_kit);
        await using var c2 = new Client(_kit);
        var (_, holder, _) = await OpenAsync(c1, All, ShareAll, OplockLevel.Batch);
        lock (holder!.Node.Gate) holder.Node.DeletePending = true;
        var (status, _, _) = await OpenAsync(c2, AccessMask.FileReadData, ShareAll, OplockLevel.None, Disposition.Open);
        Assert.Equal(NtStatus.DeletePending, status);
        Assert.Empty(await c1.WaitForBreaksAsync(0));
        lock (holder.Node.Gate) holder.Node.DeletePending = false;
    }

    [Fact]
    public async Task A_write_breaks_every_level_II_oplock_the_writers_own_included()
    {
        // MS-FSA 2.1.4.12: every open of Oplock.IIOplocks is broken to none (smbtorture oplock.batch6/batch9).
        await using var c1 = new Client(_kit);
        await using var c2 = new Client(_kit);
        var (_, h1, _) = await OpenAsync(c1, All, ShareAll, OplockLevel.Batch);
        var (_, h2, g2) = await OpenAsync(c2, All, ShareAll, OplockLevel.Batch);
        Assert.Equal(OplockLevel.LevelII, g2);
        Assert.Single(await c1.WaitForBreaksAsync(1)); // batch → level II, acknowledged

        Oplocks.BreakLevelII(h1!.Node, h1); // what WRITE and SET_INFO end-of-file do after changing the data
        Assert.Equal([(OplockLevel.LevelII, h1.VolatileId), (OplockLevel.None, h1.VolatileId)], await c1.WaitForBreaksAsync(2));
        Assert.Equal([(OplockLevel.None, h2!.VolatileId)], await c2.WaitForBreaksAsync(1));
        lock (h1.Node.Gate) Assert.All(new[] { h1, h2 }, o => Assert.Equal(OplockLevel.None, o.Oplock));
    }

    [Fact]
    public async Task A_lock_request_breaks_the_lockers_own_level_II_oplock()
    {
        // MS-FSA 2.1.4.12, operation BYTE_RANGE_LOCK (smbtorture oplock.brl1/brl3); a lone batch holder is not broken (brl2).
        await using var c1 = new Client(_kit);
        await using var c2 = new Client(_kit);
        var (_, h1, _) = await OpenAsync(c1, AccessMask.FileReadData | AccessMask.FileWriteData, ShareAccess.Read | ShareAccess.Write, OplockLevel.Batch);
        Assert.Equal(NtStatus.Success, await LockAsync(c1, h1!, 0));
        Assert.Empty(await c1.WaitForBreaksAsync(0));

        var (_, h2, _) = await OpenAsync(c2, AccessMask.FileReadData | AccessMask.FileWriteData, ShareAccess.Read | ShareAccess.Write, OplockLevel.None);
        Assert.Single(await c1.WaitForBreaksAsync(1)); // to level II
        Assert.Equal(NtStatus.Success, await LockAsync(c1, h1!, 8));
        Assert.Equal([(OplockLevel.LevelII, h1!.VolatileId), (OplockLevel.None, h1!.VolatileId)], await c1.WaitForBreaksAsync(2));
        Assert.NotNull(h2);
    }

    [Fact]
    public async Task Acknowledging_a_level_II_break_to_none_is_an_oplock_protocol_error()
    {
        // MS-SMB2 2.2.24.1: a break from level II needs no acknowledgment; Windows answers one with
        // STATUS_INVALID_OPLOCK_PROTOCOL (smbtorture oplock.levelii500). Without any break: INVALID_DEVICE_STATE (3.3.5.22.1).
        await using var c1 = new Client(_kit);
        var (_, h1, granted) = await OpenAsync(c1, AccessMask.FileReadData | AccessMask.FileWriteData, ShareAccess.Read | ShareAccess.Write, OplockLevel.LevelII);
        Assert.Equal(OplockLevel.LevelII, granted);
        Assert.Equal(NtStatus.InvalidDeviceState, (await AcknowledgeAsync(c1, h1!, OplockLevel.None)).Status);

        Oplocks.BreakLevelII(h1!.Node, h1);
        Assert.Equal([(OplockLevel.None, h1.VolatileId)], await c1.WaitForBreaksAsync(1));
        Assert.Equal(NtStatus.InvalidOplockProtocol, (await AcknowledgeAsync(c1, h1, OplockLevel.None)).Status);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_create_that_breaks_an_oplock_goes_async_first_but_waits_in_place_inside_a_compound(bool compoundMember)
    {
        // MS-SMB2 3.3.4.2: the interim response before the wait; a compound member followed by others waits in
        // place instead (GoAsync there is STATUS_INTERNAL_ERROR), as Windows and Samba (smbtorture compound.compound-break).
        await using var c1 = new Client(_kit);
        await using var c2 = new Client(_kit);
        var (_, holder, _) = await OpenAsync(c1, All, ShareAll, OplockLevel.Batch);
        int interims = 0;
        int breaksAtInterim = -1;
        var request = new Smb2Request
        {
            Connection = c2.Connection,
            Server = _kit.Server,
            Header = new Smb2Header { Command = Smb2Command.Create, NextCommand = compoundMember ? 120u : 0u },
            Message = new byte[Smb2Header.Size],
            Session = c2.Session,
            Tree = c2.Tree,
            SendInterim = _ =>
            {
                interims++;
                breaksAtInterim = c1.Breaks.Count;
                return ValueTask.CompletedTask;
            },
        };
        var access = AccessMask.Synchronize | AccessMask.FileReadAttributes | AccessMask.FileReadEa;
        var create = new CreateRequest(0, OplockLevel.None, 2, 0, access, FileAttributes.Normal, ShareAll, Disposition.Open, CreateOptions.None, "file.dat", []);
        var (status, open, body) = await FileCreate.OpenAsync(request, create);
        body?.Dispose();
        Assert.Equal(NtStatus.Success, status);
        Assert.NotNull(open);
        Assert.Equal([(OplockLevel.LevelII, holder!.VolatileId)], await c1.WaitForBreaksAsync(1));
        Assert.Equal(compoundMember ? 0 : 1, interims);
        if (!compoundMember) Assert.Equal(0, breaksAtInterim); // the interim went out before the break notification
    }

    [Theory]
    [InlineData(OplockLevel.LevelII, NtStatus.Success, OplockLevel.LevelII)]
    [InlineData(OplockLevel.None, NtStatus.Success, OplockLevel.None)]
    [InlineData(OplockLevel.Exclusive, NtStatus.InvalidOplockProtocol, OplockLevel.None)]
    [InlineData(OplockLevel.Lease, NtStatus.InvalidParameter, OplockLevel.None)]
    public async Task An_acknowledgment_completes_the_break_at_the_level_3_3_5_22_1_allows(OplockLevel acked, NtStatus expected, OplockLevel after)
    {
        // MS-SMB2 3.3.5.22.1: II or NONE accepted; anything else from an exclusive/batch break ends it at none with
        // STATUS_INVALID_OPLOCK_PROTOCOL, SMB2_OPLOCK_LEVEL_LEASE with STATUS_INVALID_PARAMETER.
        await using var c1 = new Client(_kit);
        var (_, holder, _) = await OpenAsync(c1, All, ShareAll, OplockLevel.Batch);
        var breaking = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (holder!.Node.Gate)
        {
            holder.OplockBreaking = breaking;
            holder.OplockBreakTarget = OplockLevel.LevelII;
        }
        using var response = await AcknowledgeAsync(c1, holder, acked);
        Assert.Equal(expected, response.Status);
        Assert.True(breaking.Task.IsCompleted); // the waiting open goes on either way
        lock (holder.Node.Gate) Assert.Equal(after, holder.Oplock);
    }

    [Fact]
    public async Task An_unacknowledged_break_times_out_to_none_and_the_open_goes_on()
    {
        // MS-SMB2 3.3.4.6 / Windows: the oplock break acknowledgment timer (35 s) lowers the oplock to none
        // (smbtorture oplock.batch22a). Shortened here; no other test class waits on an acknowledgment.
        await using var c1 = new Client(_kit) { Acknowledges = false };
        await using var c2 = new Client(_kit);
        var (_, holder, _) = await OpenAsync(c1, All, ShareAll, OplockLevel.Batch);
        var saved = Oplocks.BreakTimeout;
        Oplocks.BreakTimeout = TimeSpan.FromMilliseconds(300);
        try
        {
            var started = DateTime.UtcNow;
            var (status, _, granted) = await OpenAsync(c2, All, ShareAll, OplockLevel.Batch);
            Assert.Equal(NtStatus.Success, status);
            Assert.True(DateTime.UtcNow - started >= TimeSpan.FromMilliseconds(250)); // it did wait for the answer
            Assert.Equal(OplockLevel.LevelII, granted);
            Assert.Equal([(OplockLevel.LevelII, holder!.VolatileId)], c1.Breaks);
            lock (holder.Node.Gate)
            {
                Assert.Equal(OplockLevel.None, holder.Oplock);
                Assert.Null(holder.OplockBreaking);
            }
        }
        finally
        {
            Oplocks.BreakTimeout = saved;
        }
    }

    private async Task<NtStatus> LockAsync(Client client, FileOpen open, ulong offset)
    {
        var message = new byte[Smb2Header.Size + LockRequest.StructureSize];
        var body = message.AsSpan(Smb2Header.Size);
        BinaryPrimitives.WriteUInt16LittleEndian(body, LockRequest.StructureSize);
        BinaryPrimitives.WriteUInt16LittleEndian(body[2..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(body[8..], open.PersistentId);
        BinaryPrimitives.WriteUInt64LittleEndian(body[16..], open.VolatileId);
        BinaryPrimitives.WriteUInt64LittleEndian(body[24..], offset);
        BinaryPrimitives.WriteUInt64LittleEndian(body[32..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(body[40..], (uint)(LockFlags.Exclusive | LockFlags.FailImmediately));
        using var response = await new LockHandler().HandleAsync(Request(client, Smb2Command.Lock, message));
        return response.Status;
    }

    private async Task<Smb2Response> AcknowledgeAsync(Client client, FileOpen open, OplockLevel level)
    {
        using var w = new WireWriter(24);
        new OplockBreak(level, new Smb2FileId(open.PersistentId, open.VolatileId)).WriteTo(w);
        var message = new byte[Smb2Header.Size + w.Length];
        w.WrittenSpan.CopyTo(message.AsSpan(Smb2Header.Size));
        return await new OplockBreakHandler().HandleAsync(Request(client, Smb2Command.OplockBreak, message));
    }
}
