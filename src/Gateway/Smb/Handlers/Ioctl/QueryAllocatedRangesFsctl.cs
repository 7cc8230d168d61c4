using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Gateway.Smb.Handlers.Ioctl;

/// <summary>
/// FSCTL_QUERY_ALLOCATED_RANGES (MS-FSCC 2.3.47, MS-FSA 2.1.5.10.22): the allocated ranges inside the queried
/// range. The storage contract does not expose holes, so the file is reported as allocated everywhere below its
/// end of file (what Windows answers for a non-sparse file): one range, the query clipped to the file, or none.
/// Output smaller than one entry while a range exists → STATUS_BUFFER_TOO_SMALL; entries that do not fit → STATUS_BUFFER_OVERFLOW
/// with the whole entries that do.
/// </summary>
public sealed class QueryAllocatedRangesFsctl : IFsctlHandler
{
    public uint CtlCode => FsctlCodes.QueryAllocatedRanges;

    public async ValueTask<FsctlResult> HandleAsync(FsctlContext context)
    {
        if (context.Open is not FileOpen file) return FsctlResult.Error(NtStatus.InvalidDeviceRequest);
        var log = context.Request.Connection.Logger;
        if (context.Input.Length < FileAllocatedRangeBuffer.Size) return FsctlResult.Error(NtStatus.InvalidParameter);
        var query = FileAllocatedRangeBuffer.Parse(context.Input);
        if (query.FileOffset < 0 || query.Length < 0 || query.FileOffset > long.MaxValue - query.Length)
        {
            log.LogDebug("QUERY_ALLOCATED_RANGES on {Open}: bad range {Offset}+{Length}", file.DisplayName, query.FileOffset, query.Length);
            return FsctlResult.Error(NtStatus.InvalidParameter);
        }
        if (file.IsDirectory) return FsctlResult.Error(NtStatus.InvalidParameter);
        if (!file.Has(AccessMask.FileReadData))
        {
            log.LogDebug("QUERY_ALLOCATED_RANGES on {Open}: no FILE_READ_DATA", file.DisplayName);
            return FsctlResult.Error(NtStatus.AccessDenied);
        }
        long endOfFile = (await file.Handle.GetInfoAsync(context.Request.Cancellation).ConfigureAwait(false)).EndOfFile;
        var ranges = new List<FileAllocatedRangeBuffer>(1);
        long end = Math.Min(query.FileOffset + query.Length, endOfFile);
        if (query.Length > 0 && query.FileOffset < end) ranges.Add(new FileAllocatedRangeBuffer(query.FileOffset, end - query.FileOffset));
        return Build(ranges, context.MaxOutput);
    }

    /// <summary>Whole entries that fit in <paramref name="maxOutput"/>; BUFFER_OVERFLOW when some do not.</summary>
    internal static FsctlResult Build(IReadOnlyList<FileAllocatedRangeBuffer> ranges, uint maxOutput)
    {
        // Nothing allocated answers an empty success whatever the buffer (smbtorture sparse_qar_malformed).
        if (ranges.Count > 0 && maxOutput < FileAllocatedRangeBuffer.Size) return FsctlResult.Error(NtStatus.BufferTooSmall);
        int fit = (int)Math.Min(ranges.Count, maxOutput / FileAllocatedRangeBuffer.Size);
        using var w = new WireWriter(Math.Max(fit, 1) * FileAllocatedRangeBuffer.Size);
        FileAllocatedRangeBuffer.WriteList(w, ranges.Take(fit));
        var output = w.ToArray();
        return fit < ranges.Count ? new FsctlResult(NtStatus.BufferOverflow, output) : FsctlResult.Ok(output);
    }
}
