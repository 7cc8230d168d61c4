using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;

namespace SmbCopy.Gateway.Smb.Handlers;

/// <summary>
/// SMB2 LOCK (MS-SMB2 3.3.5.14) on the per-file lock table (<see cref="FileNode"/>, MS-FSA 2.1.5.8/2.1.5.9).
/// A request whose first element unlocks is an unlock request (3.3.5.14.1): elements are processed in order,
/// earlier unlocks stay done when a later element fails. Otherwise it is a lock request (3.3.5.14.2): flags are
/// validated up front, and a failing element undoes the locks this request already took. A conflicting lock
/// without FAIL_IMMEDIATELY (only legal alone) goes async and waits until the range is free, the request is
/// cancelled (STATUS_CANCELLED) or its open closes (STATUS_RANGE_NOT_LOCKED, as Windows).
/// </summary>
public sealed class LockHandler : ISmb2Handler
{
    private const LockFlags SharedOrExclusive = LockFlags.Shared | LockFlags.Exclusive;

    public Smb2Command Command => Smb2Command.Lock;
    public HandlerRequirements Requirements => HandlerRequirements.Tree;

    public async ValueTask<Smb2Response> HandleAsync(Smb2Request request)
    {
        var lockRequest = LockRequest.Parse(request.Message, Smb2Header.Size);
        var log = request.Connection.Logger;
        if (lockRequest.Locks.Count == 0)
        {
            log.LogDebug("LOCK with LockCount 0 from {Remote}", request.Connection.RemoteEndPoint);
            return Smb2Response.Error(NtStatus.InvalidParameter);
        }
        var open = request.ResolveOpen(lockRequest.FileId.Persistent, lockRequest.FileId.Volatile);
        if (open is null) return Smb2Response.Error(NtStatus.FileClosed);
        if (open is not FileOpen file)
        {
            log.LogDebug("LOCK on {Open}: not a file", open.DisplayName);
            return Smb2Response.Error(NtStatus.InvalidDeviceRequest);
        }
        // MS-FSA 2.1.5.8: byte-range locks are not permitted on directories.
        if (file.IsDirectory) return Smb2Response.Error(NtStatus.InvalidParameter);
        // NtLockFile needs read or write access to the file.
        if (!file.Has(AccessMask.FileReadData | AccessMask.FileWriteData | AccessMask.FileAppendData | AccessMask.FileExecute))
            return Smb2Response.Error(NtStatus.AccessDenied);

        // 3.3.5.14: lock sequence verification: a replay of the last successful LOCK of its bucket succeeds untouched.
        var sequences = VerifiesLockSequence(file, request.Connection) ? file.LockSequences : null;
        if (sequences is not null && sequences.BeginRequest(lockRequest.LockSequenceIndex, lockRequest.LockSequenceNumber))
        {
            log.LogDebug("LOCK on {Open}: replay of sequence {Number} in bucket {Index}, ignored", file.DisplayName,
                lockRequest.LockSequenceNumber, lockRequest.LockSequenceIndex);
            return Smb2Response.Ok(new LockResponse().WriteTo, 4);
        }
        var status = (lockRequest.Locks[0].Flags & LockFlags.Unlock) != 0
            ? ProcessUnlocks(file, lockRequest.Locks)
            : await ProcessLocksAsync(request, file, lockRequest.Locks).ConfigureAwait(false);
        if (status == NtStatus.Success) sequences?.Succeeded(lockRequest.LockSequenceIndex, lockRequest.LockSequenceNumber);
        Smb2Response response;
        if (status != NtStatus.Success)
        {
            log.LogDebug("LOCK on {Open} ({Count} element(s), first {Offset}+{Length} {Flags}): {Status}",
                file.DisplayName, lockRequest.Locks.Count, lockRequest.Locks[0].Offset, lockRequest.Locks[0].Length,
                lockRequest.Locks[0].Flags, status);
            response = Smb2Response.Error(status);
        }
        else response = Smb2Response.Ok(new LockResponse().WriteTo, 4);
        // A blocking lock can outlive its session (LOGOFF closes the open and ends the wait); its final
        // response is still signed with that session's key, as the client expects (3.3.4.1.1).
        var session = request.Session!;
        if (request.AsyncId != 0 && !session.IsValid && (request.Header.IsSigned || session.SigningRequired))
            response.SignWith = session;
        return response;
    }

    /// <summary>
    /// 3.3.5.14: lock sequences are checked when Open.IsDurable (or resilient / persistent, which this server does
    /// not grant), or on an SMB 3.x connection of a server with SMB2_GLOBAL_CAP_MULTI_CHANNEL — which this server
    /// announces, so every SMB 3.x open is checked (the specification's rule; Windows' note &lt;314&gt; differs).
    /// </summary>
    internal static bool VerifiesLockSequence(FileOpen file, Connection.SmbConnection connection) =>
        file.Durable is not null
        || (connection.Dialect.IsSmb3() && (connection.ServerCapabilities & NegotiateHandler.CapMultiChannel) != 0);

    /// <summary>3.3.5.14.1: every element must be exactly UNLOCK; a missing lock is RANGE_NOT_LOCKED; no rollback.</summary>
    internal static NtStatus ProcessUnlocks(FileOpen file, IReadOnlyList<LockElement> elements)
    {
        var node = file.Node;
        bool released = false;
        try
        {
            foreach (var element in elements)
            {
                if (element.Flags != LockFlags.Unlock) return NtStatus.InvalidParameter;
                if (!FileNode.IsValidRange(element.Offset, element.Length)) return NtStatus.InvalidLockRange;
                lock (node.Gate)
                {
                    if (!node.Unlock(file, element.Offset, element.Length)) return NtStatus.RangeNotLocked;
                }
                released = true;
            }
            return NtStatus.Success;
        }
        finally
        {
            if (released) node.NotifyLocksReleased();
        }
    }

    /// <summary>The lock flag combinations of 2.2.26.1: S, X, S|FI, X|FI.</summary>
    internal static bool IsLegalLockFlags(LockFlags flags) =>
        (flags & ~LockFlags.FailImmediately) is LockFlags.Shared or LockFlags.Exclusive;

    /// <summary>3.3.5.14.2: grant the elements in order; on failure undo this request's earlier locks.</summary>
    private static async ValueTask<NtStatus> ProcessLocksAsync(Smb2Request request, FileOpen file, IReadOnlyList<LockElement> elements)
    {
        foreach (var element in elements)
        {
            if (!IsLegalLockFlags(element.Flags)) return NtStatus.InvalidParameter;
            // More than one element: every one must fail immediately (only a single lock may wait).
            if (elements.Count > 1 && (element.Flags & LockFlags.FailImmediately) == 0) return NtStatus.InvalidParameter;
        }

        var node = file.Node;
        // A lock request checks for an oplock break (MS-FSA 2.1.4.12, operation BYTE_RANGE_LOCK): level II oplocks,
        // the locker's own included, break to none (smbtorture smb2.oplock.brl1/brl3).
        Oplocks.BreakLevelII(node, file);
        var granted = new List<ByteRangeLock>(elements.Count);
        foreach (var element in elements)
        {
            NtStatus status;
            var wanted = new ByteRangeLock(file, element.Offset, element.Length, (element.Flags & LockFlags.Exclusive) != 0);
            if (!FileNode.IsValidRange(element.Offset, element.Length)) status = NtStatus.InvalidLockRange;
            else
            {
                bool ok;
                lock (node.Gate) ok = node.TryLock(wanted);
                if (ok) status = NtStatus.Success;
                else if ((element.Flags & LockFlags.FailImmediately) != 0) status = NtStatus.LockNotGranted;
                else status = await WaitForLockAsync(request, file, wanted).ConfigureAwait(false);
            }
            if (status != NtStatus.Success)
            {
                Undo(file, granted);
                return status;
            }
            granted.Add(wanted);
        }
        return NtStatus.Success;
    }

    private static void Undo(FileOpen file, List<ByteRangeLock> granted)
    {
        if (granted.Count == 0) return;
        var node = file.Node;
        lock (node.Gate)
        {
            for (int i = granted.Count - 1; i >= 0; i--) node.Unlock(file, granted[i].Offset, granted[i].Length);
        }
        node.NotifyLocksReleased();
    }

    /// <summary>
    /// A blocking lock (no FAIL_IMMEDIATELY): answer STATUS_PENDING (3.3.4.2) and retry each time locks are
    /// released on the file. Cancellation surfaces as OperationCanceledException → STATUS_CANCELLED; the open
    /// closing (CLOSE, TREE_DISCONNECT, LOGOFF) ends the wait with STATUS_RANGE_NOT_LOCKED as on Windows.
    /// </summary>
    private static async ValueTask<NtStatus> WaitForLockAsync(Smb2Request request, FileOpen file, ByteRangeLock wanted)
    {
        var node = file.Node;
        using var signal = new SemaphoreSlim(0, 1);
        void OnReleased()
        {
            try { if (signal.CurrentCount == 0) signal.Release(); }
            catch (Exception ex) when (ex is SemaphoreFullException or ObjectDisposedException) { /* already signalled or done */ }
        }
        node.LocksReleased += OnReleased;
        try
        {
            await request.GoAsyncAsync().ConfigureAwait(false);
            while (true)
            {
                lock (node.Gate)
                {
                    if (!node.HasOpen(file)) return NtStatus.RangeNotLocked;
                    if (node.TryLock(wanted)) return NtStatus.Success;
                }
                await signal.WaitAsync(request.Cancellation).ConfigureAwait(false);
            }
        }
        finally
        {
            node.LocksReleased -= OnReleased;
        }
    }
}
