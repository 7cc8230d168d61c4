using SmbCopy.Gateway.Smb.Pipes;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Storage;

namespace SmbCopy.Gateway.Smb.Files.Info;

/// <summary>
/// QUERY_INFO with InfoType FILE (MS-SMB2 3.3.5.20.1, MS-FSA 2.1.5.11) for files, directories and pipes.
/// </summary>
public static class FileInfoQueries
{
    /// <summary>STATUS_NO_EAS_ON_FILE (MS-ERREF 2.3).</summary>
    internal const NtStatus NoEasOnFile = (NtStatus)0xC0000052;

    // Minimum output lengths are sizeof() of the C structures with one WCHAR of name and padding (as Windows,
    // smbtorture smb2.getinfo.qfile_buffercheck): FILE_NAME_INFORMATION 8, FILE_ALL_INFORMATION 104,
    // FILE_STREAM_INFORMATION 32.
    private const int NameStructSize = 8;
    private const int AllStructSize = 104;
    private const int StreamStructSize = 32;

    /// <summary>The classes MS-SMB2 2.2.37 lists for querying; other FSCC classes are NOT_SUPPORTED.</summary>
    public static ValueTask<InfoAnswer> QueryAsync(FileOpen open, FileInformationClass infoClass, Smb2Dialect dialect, CancellationToken cancel) =>
        QueryAsync(open, infoClass, dialect, 0, ReadOnlyMemory<byte>.Empty, 65536, cancel);

    /// <param name="flags">QUERY_INFO Flags (SL_RESTART_SCAN, SL_RETURN_SINGLE_ENTRY: FileFullEaInformation).</param>
    /// <param name="input">QUERY_INFO input buffer (a FILE_GET_EA_INFORMATION list for FileFullEaInformation).</param>
    /// <param name="outputLength">QUERY_INFO OutputBufferLength (FileFullEaInformation returns whole entries only).</param>
    public static async ValueTask<InfoAnswer> QueryAsync(FileOpen open, FileInformationClass infoClass, Smb2Dialect dialect,
        uint flags, ReadOnlyMemory<byte> input, uint outputLength, CancellationToken cancel)
    {
        if (!Enum.IsDefined(infoClass)) return InfoAnswer.Fail(NtStatus.InvalidInfoClass);

        // Access checks first, as Windows (MS-FSA 2.1.5.11: FILE_READ_ATTRIBUTES / FILE_READ_EA).
        switch (infoClass)
        {
            case FileInformationClass.Basic or FileInformationClass.All or FileInformationClass.NetworkOpen or FileInformationClass.AttributeTag:
                if (!open.Has(AccessMask.FileReadAttributes)) return InfoAnswer.Fail(NtStatus.AccessDenied);
                break;
            case FileInformationClass.FullEa:
                if (!open.Has(AccessMask.FileReadEa)) return InfoAnswer.Fail(NtStatus.AccessDenied);
                break;
        }

        switch (infoClass)
        {
            case FileInformationClass.Access:
                return InfoAnswer.Fixed(FileAccessInformation.Size, new FileAccessInformation(open.Access).WriteTo);
            case FileInformationClass.Position:
                return InfoAnswer.Fixed(FilePositionInformation.Size, new FilePositionInformation(open.Position).WriteTo);
            case FileInformationClass.Mode:
                return InfoAnswer.Fixed(FileModeInformation.Size, new FileModeInformation(open.Mode).WriteTo);
            case FileInformationClass.Alignment:
                return InfoAnswer.Fixed(FileAlignmentInformation.Size, new FileAlignmentInformation(0).WriteTo);
            case FileInformationClass.Ea:
                uint eaSize = await ExtendedAttributes.SizeAsync(open, cancel).ConfigureAwait(false);
                return InfoAnswer.Fixed(FileEaInformation.Size, new FileEaInformation(eaSize).WriteTo);
            case FileInformationClass.FullEa:
                if (!open.Volume.Capabilities.HasFlag(StorageCapabilities.FileEas))
                    return InfoAnswer.Fail(NoEasOnFile); // no EAs on this backend (EXTENDED_ATTRIBUTES not announced)
                return await ExtendedAttributes.QueryAsync(open, flags, input, outputLength, cancel).ConfigureAwait(false);
            case FileInformationClass.Pipe or FileInformationClass.PipeLocal or FileInformationClass.PipeRemote:
                return InfoAnswer.Fail(NtStatus.InvalidParameter); // not a pipe
            case FileInformationClass.NormalizedName when dialect < Smb2Dialect.Smb311:
                return InfoAnswer.Fail(NtStatus.NotSupported); // 3.3.5.20.1: 3.1.1 only
        }

        if (!IsQueryable(infoClass)) return InfoAnswer.Fail(NtStatus.NotSupported);

        // The LastWriteTime clients see may be held in memory (delayed update, frozen time: DelayedWriteTime).
        var m = open.Node.WriteTime.Observe(await open.Handle.GetInfoAsync(cancel).ConfigureAwait(false));
        bool deletePending;
        lock (open.Node.Gate) deletePending = open.Node.DeletePending;
        string path = open.Handle.Path;
        string? stream = open.Handle.StreamName;
        string display = StreamPath.Display(path, stream);
        var attributes = (FileAttributes)(uint)m.Attributes;

        switch (infoClass)
        {
            case FileInformationClass.Basic:
                return InfoAnswer.Fixed(FileBasicInformation.Size, Basic(m).WriteTo);
            case FileInformationClass.Standard:
                return InfoAnswer.Fixed(FileStandardInformation.Size, Standard(m, deletePending).WriteTo);
            case FileInformationClass.Internal:
                return InfoAnswer.Fixed(FileInternalInformation.Size, new FileInternalInformation(m.FileId).WriteTo);
            case FileInformationClass.Name:
                // Windows answers the path from the share root with a leading backslash.
                return InfoAnswer.Of(NameStructSize, new FileNameInformation(@"\" + display).WriteTo);
            case FileInformationClass.NormalizedName:
                return InfoAnswer.Of(NameStructSize, new FileNameInformation(display).WriteTo);
            case FileInformationClass.AlternateName:
                // The 8.3 name (MS-FSCC 2.4.5): the name itself when it is 8.3, else the generated one (ShortNames);
                // the share root has none.
                string leaf = path[(path.LastIndexOf('\\') + 1)..];
                return path.Length > 0
                    ? InfoAnswer.Of(NameStructSize, new FileNameInformation(ShortNames.ShortNameOf(leaf)).WriteTo)
                    : InfoAnswer.Fail(NtStatus.ObjectNameNotFound);
            case FileInformationClass.All:
                uint allEaSize = await ExtendedAttributes.SizeAsync(open, cancel).ConfigureAwait(false);
                return InfoAnswer.Of(AllStructSize, new FileAllInformation(
                    Basic(m), Standard(m, deletePending), new FileInternalInformation(m.FileId), new FileEaInformation(allEaSize),
                    new FileAccessInformation(open.Access), new FilePositionInformation(open.Position),
                    new FileModeInformation(open.Mode), new FileAlignmentInformation(0), @"\" + display).WriteTo, 256);
            case FileInformationClass.Stream:
                // MS-FSA 2.1.5.12.29: "::$DATA" for a file (a directory has no unnamed data stream), then each named
                // stream as ":name:$DATA" with its size and allocation.
                var streams = new List<FileStreamEntry>();
                if (!m.IsDirectory || stream is not null)
                {
                    var unnamed = stream is null ? m : await BaseMetadataAsync(open, cancel).ConfigureAwait(false);
                    if (unnamed is { IsDirectory: false } u) streams.Add(new FileStreamEntry("::$DATA", u.EndOfFile, u.AllocationSize));
                }
                foreach (var s in await open.Handle.GetStreamsAsync(cancel).ConfigureAwait(false))
                    streams.Add(new FileStreamEntry(":" + s.Name + ":$DATA", s.Size, s.AllocationSize));
                return InfoAnswer.Of(StreamStructSize, w => FileStreamInformation.Write(w, streams));
            case FileInformationClass.Compression:
                return InfoAnswer.Fixed(FileCompressionInformation.Size, new FileCompressionInformation(m.EndOfFile, 0, 0, 0, 0).WriteTo);
            case FileInformationClass.NetworkOpen:
                return InfoAnswer.Fixed(FileNetworkOpenInformation.Size, new FileNetworkOpenInformation(
                    m.CreationTime.ToFileTimeUtc(), m.LastAccessTime.ToFileTimeUtc(), m.LastWriteTime.ToFileTimeUtc(),
                    m.ChangeTime.ToFileTimeUtc(), m.AllocationSize, m.EndOfFile, attributes).WriteTo);
            case FileInformationClass.AttributeTag:
                return InfoAnswer.Fixed(FileAttributeTagInformation.Size, new FileAttributeTagInformation(attributes, 0).WriteTo);
            case FileInformationClass.Id:
                var volume = await open.Volume.GetVolumeInfoAsync(cancel).ConfigureAwait(false);
                return InfoAnswer.Fixed(FileIdInformation.Size, new FileIdInformation(volume.SerialNumber, m.FileId).WriteTo);
            default:
                return InfoAnswer.Fail(NtStatus.NotSupported);
        }
    }

    /// <summary>The metadata of the file a stream open belongs to (its unnamed data stream), null when it cannot be read.</summary>
    private static async ValueTask<FileMetadata?> BaseMetadataAsync(FileOpen open, CancellationToken cancel)
    {
        try
        {
            var opened = await open.Volume.OpenAsync(open.Handle.Path,
                new OpenRequest(SmbCopy.Storage.CreateDisposition.Open, StorageAccess.None), cancel).ConfigureAwait(false);
            await using (opened.Handle.ConfigureAwait(false))
                return await opened.Handle.GetInfoAsync(cancel).ConfigureAwait(false);
        }
        catch (StorageException)
        {
            return null;
        }
    }

    private static bool IsQueryable(FileInformationClass c) => c is FileInformationClass.Basic or FileInformationClass.Standard
        or FileInformationClass.Internal or FileInformationClass.Name or FileInformationClass.NormalizedName or FileInformationClass.All
        or FileInformationClass.Stream or FileInformationClass.Compression or FileInformationClass.NetworkOpen
        or FileInformationClass.AttributeTag or FileInformationClass.Id or FileInformationClass.AlternateName;

    public static FileBasicInformation Basic(FileMetadata m) => new(m.CreationTime.ToFileTimeUtc(), m.LastAccessTime.ToFileTimeUtc(),
        m.LastWriteTime.ToFileTimeUtc(), m.ChangeTime.ToFileTimeUtc(), (FileAttributes)(uint)m.Attributes);

    public static FileStandardInformation Standard(FileMetadata m, bool deletePending) =>
        new(m.AllocationSize, m.EndOfFile, m.LinkCount == 0 ? 1 : m.LinkCount, deletePending, m.IsDirectory);

    /// <summary>
    /// A named pipe on IPC$: what Windows and Samba answer for a pipe handle (FileStandardInformation with
    /// DeletePending set and 4096 bytes allocated, the open's access, position and mode); INVALID_PARAMETER otherwise.
    /// </summary>
    public static InfoAnswer QueryPipe(PipeOpen pipe, FileInformationClass infoClass)
    {
        if (!Enum.IsDefined(infoClass)) return InfoAnswer.Fail(NtStatus.InvalidInfoClass);
        return infoClass switch
        {
            FileInformationClass.Standard => InfoAnswer.Fixed(FileStandardInformation.Size,
                new FileStandardInformation(4096, 0, 1, true, false).WriteTo),
            FileInformationClass.Access => InfoAnswer.Fixed(FileAccessInformation.Size,
                new FileAccessInformation((AccessMask)pipe.GrantedAccess).WriteTo),
            FileInformationClass.Position => InfoAnswer.Fixed(FilePositionInformation.Size, new FilePositionInformation(0).WriteTo),
            FileInformationClass.Mode => InfoAnswer.Fixed(FileModeInformation.Size, new FileModeInformation(0).WriteTo),
            FileInformationClass.Alignment => InfoAnswer.Fixed(FileAlignmentInformation.Size, new FileAlignmentInformation(0).WriteTo),
            _ => InfoAnswer.Fail(NtStatus.InvalidParameter),
        };
    }
}
