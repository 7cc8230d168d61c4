using SmbCopy.Gateway.Smb.Connection;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Gateway.Smb.Files;

/// <summary>
/// Classic oplocks (MS-SMB2 3.3.5.9 step "oplock", 3.3.4.6, 3.3.5.22.1; MS-FSA 2.1.5.17): exclusive and
/// batch for a sole opener, level II for readers; broken when another open arrives (ack awaited, up
/// to <see cref="BreakTimeout"/>) or when data changes (level II, no ack). Leases are not offered
/// (no SMB2_GLOBAL_CAP_LEASING), so a lease request gets no oplock.
/// All oplock state lives on the <see cref="FileNode"/> under its gate.
/// </summary>
public static class Oplocks
{
    /// <summary>How long a conflicting open waits for the holder's acknowledgment (Windows: 35 s).</summary>
    public static TimeSpan BreakTimeout { get; set; } = TimeSpan.FromSeconds(35);

    /// <summary>The level granted to a new open of a non-directory file (caller holds node.Gate, the open is already added).</summary>
    public static OplockLevel Grant(FileNode node, FileOpen open, OplockLevel requested)
    {
        if (open.IsDirectory || requested is OplockLevel.None or OplockLevel.Lease) return OplockLevel.None;
        bool alone = node.Opens.Count == 1;
        bool exclusiveHeld = node.Opens.Any(o => !ReferenceEquals(o, open) && o.Oplock is OplockLevel.Exclusive or OplockLevel.Batch);
        OplockLevel granted;
        if (requested is OplockLevel.Exclusive or OplockLevel.Batch && alone) granted = requested;
        else if (!exclusiveHeld && node.Opens.All(o => ReferenceEquals(o, open) || o.OplockBreaking is null)) granted = OplockLevel.LevelII;
        else granted = OplockLevel.None;
        open.Oplock = granted;
        return granted;
    }

    /// <summary>
    /// A stat open (MS-FSA 2.1.4.12, operation OPEN: DesiredAccess has no flag other than FILE_READ_ATTRIBUTES,
    /// FILE_WRITE_ATTRIBUTES and SYNCHRONIZE) breaks no oplock (smbtorture smb2.oplock.statopen1: READ_EA,
    /// WRITE_EA, READ_CONTROL, WRITE_DAC, WRITE_OWNER and DELETE do break).
    /// </summary>
    public static bool IsStatOpen(AccessMask access) =>
        (access & ~(AccessMask.FileReadAttributes | AccessMask.FileWriteAttributes | AccessMask.Synchronize)) == 0;

    /// <summary>
    /// Before a new open proceeds: breaks another open's exclusive or batch oplock (to level II, or to
    /// none when the new open will overwrite) and waits for the acknowledgment or the holder's close.
    /// With <paramref name="sharingViolation"/> (the new open conflicts with the share modes) only a batch
    /// oplock is broken — its holder may be caching a closed handle and can really close it; an exclusive
    /// holder keeps its oplock and the open fails (MS-FSA 2.1.5.1.2.1; smbtorture exclusive1/3 vs batch1).
    /// Returns false when nothing had to be broken (the caller need not go async).
    /// </summary>
    public static async Task<bool> BreakForOpenAsync(FileNode node, bool toNone, Func<ValueTask> goAsync, CancellationToken cancellation,
        bool sharingViolation = false)
    {
        FileOpen? holder;
        Task? pending;
        lock (node.Gate)
        {
            holder = node.Opens.FirstOrDefault(o => sharingViolation
                ? o.Oplock == OplockLevel.Batch
                : o.Oplock is OplockLevel.Exclusive or OplockLevel.Batch || o.OplockBreaking is not null);
            if (holder is null) return false;
            pending = holder.OplockBreaking?.Task;
        }
        // A disconnected durable open cannot answer the break: it is closed and the new open goes on
        // (MS-SMB2 3.3.4.6 / Windows; smbtorture durable-open.oplock and open2-oplock).
        if (holder.Durable is { IsDisconnected: true } durable
            && await holder.Tree.Session.EstablishedOn.Server.DurableOpens.PurgeAsync(durable, "conflicting open").ConfigureAwait(false))
            return true;
        await goAsync().ConfigureAwait(false);
        if (pending is null)
        {
            var target = toNone ? OplockLevel.None : OplockLevel.LevelII;
            TaskCompletionSource breaking;
            lock (node.Gate)
            {
                if (holder.OplockBreaking is null)
                {
                    holder.OplockBreaking = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    holder.OplockBreakTarget = target;
                    breaking = holder.OplockBreaking;
                    pending = breaking.Task;
                }
                else
                {
                    pending = holder.OplockBreaking.Task;
                    breaking = holder.OplockBreaking;
                    target = holder.OplockBreakTarget;
                }
            }
            await SendBreakAsync(holder, target).ConfigureAwait(false);
        }
        try
        {
            await pending.WaitAsync(BreakTimeout, cancellation).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The holder did not answer: Windows lowers the oplock to none and lets the new open go on.
            CompleteBreak(holder, OplockLevel.None);
        }
        // The holder's connection went away while the break was in flight and it stayed as a disconnected
        // durable open: it will never acknowledge, so it is purged like one found disconnected above.
        if (holder.Durable is { IsDisconnected: true } lost)
            await holder.Tree.Session.EstablishedOn.Server.DurableOpens.PurgeAsync(lost, "break not acknowledged").ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Data or size changed through <paramref name="actor"/> (WRITE, SET_INFO end-of-file/allocation, LOCK): every
    /// level II oplock on the file is broken to none, the actor's own included (MS-FSA 2.1.4.12: all of
    /// Oplock.IIOplocks; smbtorture smb2.oplock.batch1/batch6 "self break to none", brl1/brl3). No
    /// acknowledgment is expected (MS-SMB2 2.2.24.1, 3.3.4.6).
    /// </summary>
    public static void BreakLevelII(FileNode node, FileOpen? actor)
    {
        List<FileOpen> holders;
        lock (node.Gate) holders = TakeLevelII(node, except: null);
        SendLevelIIBreaks(holders);
    }

    /// <summary>Lowers every level II oplock on the node but <paramref name="except"/> to none (caller holds node.Gate).</summary>
    internal static List<FileOpen> TakeLevelII(FileNode node, FileOpen? except)
    {
        var holders = node.Opens.Where(o => !ReferenceEquals(o, except) && o.Oplock == OplockLevel.LevelII).ToList();
        foreach (var h in holders)
        {
            h.Oplock = OplockLevel.None;
            h.OplockLevelIIBroken = true;
        }
        return holders;
    }

    /// <summary>Sends the level II → none notifications of <see cref="TakeLevelII"/> (outside the gate).</summary>
    internal static void SendLevelIIBreaks(List<FileOpen>? holders)
    {
        if (holders is null) return;
        foreach (var h in holders) _ = SendBreakAsync(h, OplockLevel.None);
    }

    /// <summary>The holder acknowledged (or closed): it now holds <paramref name="level"/>; waiting opens go on.</summary>
    public static void CompleteBreak(FileOpen holder, OplockLevel level)
    {
        TaskCompletionSource? breaking;
        lock (holder.Node.Gate)
        {
            breaking = holder.OplockBreaking;
            holder.OplockBreaking = null;
            holder.Oplock = level;
        }
        breaking?.TrySetResult();
    }

    /// <summary>
    /// The unsolicited OPLOCK_BREAK notification (MS-SMB2 2.2.23.1, 3.3.4.6): MessageId all ones,
    /// SessionId and TreeId 0, unsigned; encrypted when the session encrypts.
    /// </summary>
    private static async Task SendBreakAsync(FileOpen holder, OplockLevel level)
    {
        var session = holder.Session;
        var connection = session.Connection;
        if (connection.IsClosed) { CompleteBreak(holder, OplockLevel.None); return; }
        using var body = new WireWriter(32);
        new OplockBreak(level, new Smb2FileId(holder.PersistentId, holder.VolatileId)).WriteTo(body);
        var message = new byte[Smb2Header.Size + body.Length];
        new Smb2Header
        {
            Command = Smb2Command.OplockBreak,
            Flags = Smb2Flags.ServerToRedir,
            MessageId = ulong.MaxValue,
        }.WriteTo(message);
        body.WrittenSpan.CopyTo(message.AsSpan(Smb2Header.Size));
        bool encrypt = (session.EncryptData || holder.Tree.EncryptData) && session.Cipher is not null;
        await connection.SendFrameAsync(encrypt ? session.Cipher!.Encrypt(message, session.SessionId) : message).ConfigureAwait(false);
        connection.Logger.LogDebug("oplock break to {Level} sent for {Path}", level, holder.DisplayName);
    }
}
