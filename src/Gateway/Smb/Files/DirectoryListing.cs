using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Protocol.Wire;
using SmbCopy.Storage;
using StorageDisposition = SmbCopy.Storage.CreateDisposition;

namespace SmbCopy.Gateway.Smb.Files;

/// <summary>
/// The object-store half of QUERY_DIRECTORY (MS-FSA 2.1.5.6.3): the search state of a directory
/// open (pattern fixed by the first query, REOPEN/RESTART_SCANS), "." and ".." synthesized first,
/// and filling the caller's buffer with whole entries, each listed exactly once across calls.
/// </summary>
public static class DirectoryListing
{
    /// <summary>Directory classes of MS-FSCC 2.4 this server does not produce (→ STATUS_NOT_SUPPORTED, not INVALID_INFO_CLASS).</summary>
    public static bool IsKnownUnsupported(FileInformationClass c) => (byte)c is 50 /* IdGlobalTxDirectory */
        or 63 /* IdExtdBothDirectory */ or 78 or 79 or 80 or 81 /* Id64Extd*, IdAllExtd* */;

    /// <summary>The outcome of one query: a status and the number of entries written.</summary>
    public readonly record struct QueryResult(NtStatus Status, int Count);

    /// <summary>
    /// Runs one query against <paramref name="open"/> and appends entries to <paramref name="output"/>
    /// (at most <paramref name="outputBufferLength"/> bytes). The caller has checked the class, the
    /// buffer size against the class's fixed size, the access and that the open is a directory.
    /// </summary>
    public static async ValueTask<QueryResult> QueryAsync(FileOpen open, FileInformationClass infoClass, QueryDirectoryFlags flags,
        string pattern, int outputBufferLength, WireWriter output, CancellationToken cancellation)
    {
        bool reopen = (flags & QueryDirectoryFlags.Reopen) != 0;
        bool restart = reopen || (flags & QueryDirectoryFlags.RestartScans) != 0;
        DirectorySearch? search;
        lock (open) search = open.Search;

        // MS-FSA 2.1.5.6.3: the first query (no pattern yet) fixes the pattern; a restart starts over
        // and takes a new pattern when one is given; REOPEN (MS-SMB2 3.3.5.18) is a fresh first query.
        bool firstQuery = search is null || reopen;
        if (firstQuery || restart)
        {
            string newPattern = pattern.Length == 0 ? (search is not null && !reopen ? search.Pattern : "*") : pattern;
            search = await StartAsync(open.Handle, open.Volume, newPattern, cancellation, open.Tree.Share.Notifications).ConfigureAwait(false);
            lock (open) open.Search = search;
        }
        else if (open.Tree.Share.Notifications is { } notifier && notifier.RemovalGeneration != search!.Generation)
        {
            await RecheckAsync(open.Handle, search, infoClass, outputBufferLength, cancellation).ConfigureAwait(false);
        }
        return Fill(search!, firstQuery, infoClass, (flags & QueryDirectoryFlags.ReturnSingleEntry) != 0, outputBufferLength, output,
            open.Tree.Share.Nodes);
    }

    /// <summary>
    /// Writes the search's next entries that fit wholly in <paramref name="outputBufferLength"/> bytes
    /// and moves past them: NO_SUCH_FILE when a first query matched nothing, NO_MORE_FILES when
    /// exhausted, BUFFER_OVERFLOW (one truncated entry, consumed) when the next entry alone does not fit.
    /// </summary>
    public static QueryResult Fill(DirectorySearch search, bool firstQuery, FileInformationClass infoClass, bool single,
        int outputBufferLength, WireWriter output, FileNodeTable? nodes = null)
    {
        var writer = new DirectoryEntryWriter(output, infoClass, outputBufferLength);
        lock (search)
        {
            if (search.Entries.Count == 0 && firstQuery) return new QueryResult(NtStatus.NoSuchFile, 0);
            while (search.Next < search.Entries.Count)
            {
                var entry = ToDirectoryEntry(search.Entries[search.Next], nodes);
                if (!writer.TryAdd(entry))
                {
                    if (writer.Count > 0) break;
                    // MS-FSA 2.1.5.6.3: a single entry larger than the buffer is returned truncated
                    // with STATUS_BUFFER_OVERFLOW and counts as returned.
                    writer.AddTruncatedFirst(entry);
                    search.Next++;
                    return new QueryResult(NtStatus.BufferOverflow, 1);
                }
                search.Next++;
                if (single) break;
            }
            return writer.Count == 0 ? new QueryResult(NtStatus.NoMoreFiles, 0) : new QueryResult(NtStatus.Success, writer.Count);
        }
    }

    /// <summary>
    /// Lists the directory once for <paramref name="pattern"/>: "." and ".." first when they match,
    /// then the storage's entries (a pattern without wildcards is a single lookup there, not a scan).
    /// </summary>
    public static async ValueTask<DirectorySearch> StartAsync(IStorageHandle directory, IStorageVolume volume, string pattern,
        CancellationToken cancellation, ChangeNotifier? notifier = null)
    {
        long generation = notifier?.RemovalGeneration ?? 0;
        var entries = new List<SearchEntry>();
        bool dot = WildcardPattern.IsMatch(pattern, ".");
        bool dotDot = WildcardPattern.IsMatch(pattern, "..");
        if (dot || dotDot)
        {
            var self = await directory.GetInfoAsync(cancellation).ConfigureAwait(false);
            if (dot) entries.Add(new SearchEntry(".", self));
            if (dotDot) entries.Add(new SearchEntry("..", await ParentInfoAsync(directory, volume, self, cancellation).ConfigureAwait(false)));
        }
        if (pattern is not ("." or ".."))
        {
            await foreach (var e in directory.EnumerateAsync(pattern, cancellation).ConfigureAwait(false))
                entries.Add(new SearchEntry(e.Name, e.Metadata));
        }
        return new DirectorySearch { Pattern = pattern, Entries = entries, Generation = generation };
    }

    /// <summary>
    /// Something was removed or renamed in the share since the snapshot: looks up again the entries
    /// the next response can hold, dropping the ones gone and refreshing the others' metadata, so a
    /// continued listing does not return names deleted in the meantime (as NTFS and Samba do not).
    /// </summary>
    public static async ValueTask RecheckAsync(IStorageHandle directory, DirectorySearch search, FileInformationClass infoClass,
        int outputBufferLength, CancellationToken cancellation)
    {
        int window = outputBufferLength / DirectoryEntryWriter.FixedSize(infoClass) + 1;
        int start, end;
        lock (search) end = start = search.Next;
        var fresh = new List<SearchEntry>(window);
        // Until the next response's worth of live entries is known (deleted names do not count).
        while (fresh.Count < window)
        {
            SearchEntry[] batch;
            lock (search) batch = search.Entries.Skip(end).Take(window - fresh.Count).ToArray();
            if (batch.Length == 0) break;
            end += batch.Length;
            foreach (var e in batch)
            {
                if (e.Name is "." or "..") { fresh.Add(e); continue; }
                await foreach (var found in directory.EnumerateAsync(e.Name, cancellation).ConfigureAwait(false))
                    fresh.Add(new SearchEntry(found.Name, found.Metadata));
            }
        }
        lock (search)
        {
            if (search.Next != start) return; // another query moved on meanwhile; it did its own check
            search.Entries.RemoveRange(start, end - start);
            search.Entries.InsertRange(start, fresh);
        }
    }

    /// <summary>The parent's metadata for ".."; the share root's ".." describes the root itself.</summary>
    private static async ValueTask<FileMetadata> ParentInfoAsync(IStorageHandle directory, IStorageVolume volume, FileMetadata self,
        CancellationToken cancellation)
    {
        string path = directory.Path;
        if (path.Length == 0) return self;
        int slash = path.LastIndexOf('\\');
        string parent = slash < 0 ? "" : path[..slash];
        try
        {
            var opened = await volume.OpenAsync(parent, new OpenRequest(StorageDisposition.Open, StorageAccess.None, ObjectKind.Directory),
                cancellation).ConfigureAwait(false);
            await using (opened.Handle.ConfigureAwait(false))
                return await opened.Handle.GetInfoAsync(cancellation).ConfigureAwait(false);
        }
        catch (StorageException)
        {
            return self; // parent unreadable or gone: describe the directory itself rather than fail the listing
        }
    }

    /// <summary>An entry as clients must see it: a file open through the gateway reports the LastWriteTime its node holds.</summary>
    public static DirectoryEntry ToDirectoryEntry(in SearchEntry e, FileNodeTable? nodes = null)
    {
        var m = e.Metadata;
        if (nodes?.Find(m.FileId) is { } node) m = node.WriteTime.Overlay(m);
        return new DirectoryEntry
        {
            FileName = e.Name,
            ShortName = Info.ShortNames.ForDirectoryEntry(e.Name),
            CreationTime = m.CreationTime.ToFileTimeUtc(),
            LastAccessTime = m.LastAccessTime.ToFileTimeUtc(),
            LastWriteTime = m.LastWriteTime.ToFileTimeUtc(),
            ChangeTime = m.ChangeTime.ToFileTimeUtc(),
            EndOfFile = m.EndOfFile,
            AllocationSize = m.AllocationSize,
            FileAttributes = (FileAttributes)(uint)m.Attributes,
            FileId = m.FileId,
        };
    }
}
