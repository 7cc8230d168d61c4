using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Protocol.Wire;
using SmbCopy.Storage;

namespace SmbCopy.Gateway.Smb.Files.Info;

/// <summary>
/// Windows extended attributes (MS-FSCC 2.4.15 FileFullEaInformation, 2.4.12 FileEaInformation; MS-FSA 2.1.5.12.x
/// query and 2.1.5.14.x set; the ExtA create context of MS-SMB2 2.2.13.2.1), kept by volumes with
/// <see cref="StorageCapabilities.FileEas"/>.
/// </summary>
public static class ExtendedAttributes
{
    /// <summary>
    /// Checks a FILE_FULL_EA_INFORMATION list for SET_INFO or CREATE: EAS_NOT_SUPPORTED on a volume without EAs,
    /// EA_LIST_INCONSISTENT for a malformed list, INVALID_EA_NAME for a name Windows refuses.
    /// </summary>
    public static (NtStatus Status, List<StorageEa>? Eas) ParseForSet(IStorageVolume volume, ReadOnlySpan<byte> buffer)
    {
        if (!volume.Capabilities.HasFlag(StorageCapabilities.FileEas)) return (NtStatus.EasNotSupported, null);
        var entries = FullEaInformation.Parse(buffer);
        if (entries is null) return (NtStatus.EaListInconsistent, null);
        var eas = new List<StorageEa>(entries.Count);
        foreach (var e in entries)
        {
            if (!FullEaInformation.IsValidName(e.Name)) return (NtStatus.InvalidEaName, null);
            eas.Add(new StorageEa(e.Name.ToUpperInvariant(), (byte)(e.Flags & StorageEa.NeedEa), e.Value));
        }
        return (NtStatus.Success, eas);
    }

    /// <summary>SET_INFO FileFullEaInformation: needs FILE_WRITE_EA.</summary>
    public static async ValueTask<NtStatus> SetAsync(FileOpen open, ReadOnlyMemory<byte> buffer, CancellationToken cancel)
    {
        if (!open.Has(AccessMask.FileWriteEa)) return NtStatus.AccessDenied;
        var (status, eas) = ParseForSet(open.Volume, buffer.Span);
        if (status != NtStatus.Success) return status;
        if (open.Tree.Share.ReadOnly) return NtStatus.MediaWriteProtected;
        await open.Handle.SetEasAsync(eas!, cancel).ConfigureAwait(false);
        open.Tree.Share.Notifications?.Publish(open.Handle.Path, ChangeKind.Modified, open.IsDirectory, CompletionFilter.Ea);
        return NtStatus.Success;
    }

    /// <summary>FileEaInformation.EaSize: the size of the file's EAs as a FILE_FULL_EA_INFORMATION list (0 when none).</summary>
    public static async ValueTask<uint> SizeAsync(FileOpen open, CancellationToken cancel)
    {
        if (!open.Volume.Capabilities.HasFlag(StorageCapabilities.FileEas)) return 0;
        var eas = await open.Handle.GetEasAsync(cancel).ConfigureAwait(false);
        return (uint)FullEaInformation.PackedSize([.. eas.Select(ToEntry)]);
    }

    /// <summary>
    /// QUERY_INFO FileFullEaInformation (MS-FSA 2.1.5.12.x): the EAs named in the input FILE_GET_EA_INFORMATION list
    /// (absent ones with an empty value), or the next ones from the open's EA index (SL_RESTART_SCAN from the first,
    /// SL_RETURN_SINGLE_ENTRY one at a time). NO_EAS_ON_FILE when the file has none, NO_MORE_EAS past the last,
    /// BUFFER_TOO_SMALL when not even one entry fits, BUFFER_OVERFLOW with the whole entries that fit.
    /// </summary>
    public static async ValueTask<InfoAnswer> QueryAsync(FileOpen open, uint flags, ReadOnlyMemory<byte> input, uint outputLength, CancellationToken cancel)
    {
        if (!open.Volume.Capabilities.HasFlag(StorageCapabilities.FileEas)) return InfoAnswer.Fail(NtStatus.EasNotSupported);
        var all = (await open.Handle.GetEasAsync(cancel).ConfigureAwait(false)).Select(ToEntry).ToList();
        int index = open.EaIndex;
        var answer = Page(all, flags, input.Span, outputLength, ref index);
        open.EaIndex = index;
        return answer;
    }

    /// <summary>
    /// The FileFullEaInformation answer for a file's EAs <paramref name="all"/>: the rules of <see cref="QueryAsync"/>,
    /// with <paramref name="index"/> the open's EA index (advanced past the entries returned when no list is given).
    /// </summary>
    public static InfoAnswer Page(List<FullEaEntry> all, uint flags, ReadOnlySpan<byte> input, uint outputLength, ref int index)
    {
        List<FullEaEntry> selected;
        bool single = (flags & QueryInfoRequest.FlagReturnSingleEntry) != 0;
        if (input.Length > 0)
        {
            var names = FullEaInformation.ParseGetList(input);
            if (names is null) return InfoAnswer.Fail(NtStatus.EaListInconsistent);
            selected = [];
            foreach (var n in names)
            {
                if (!FullEaInformation.IsValidName(n)) return InfoAnswer.Fail(NtStatus.InvalidEaName);
                selected.Add(all.FirstOrDefault(e => e.Name.Equals(n, StringComparison.OrdinalIgnoreCase))
                    ?? new FullEaEntry(0, n.ToUpperInvariant(), []));
            }
        }
        else
        {
            if (all.Count == 0) return InfoAnswer.Fail(NtStatus.NoEasOnFile);
            if ((flags & QueryInfoRequest.FlagRestartScan) != 0) index = 0;
            if (index >= all.Count) return InfoAnswer.Fail(NtStatus.NoMoreEas);
            selected = all.GetRange(index, all.Count - index);
        }
        if (single && selected.Count > 1) selected = selected.GetRange(0, 1);

        // Whole entries only: count those that fit in the output buffer.
        int fit = 0, used = 0;
        foreach (var e in selected)
        {
            int size = used + e.Size;
            if (size > outputLength) break;
            fit++;
            used = (size + 3) & ~3;
        }
        if (fit == 0) return new InfoAnswer(NtStatus.BufferTooSmall, [], 0, selected[0].Size);
        if (input.Length == 0) index += fit;
        var status = fit < selected.Count ? NtStatus.BufferOverflow : NtStatus.Success;
        using var w = new WireWriter(used + 8);
        FullEaInformation.Write(w, selected.GetRange(0, fit));
        return new InfoAnswer(status, w.ToArray(), 0);
    }

    private static FullEaEntry ToEntry(StorageEa ea) => new(ea.Flags, ea.Name, ea.Value);
}
