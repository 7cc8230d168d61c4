namespace SmbCopy.Storage.Local;

/// <summary>
/// An open named stream: the stream's data file in the stream depot (<see cref="Data"/>: I/O, size, copy, clone,
/// delete) and its file (times, attributes, file id, path, other streams, EAs), as Windows shows a stream.
/// </summary>
internal sealed class LocalStreamHandle : IStorageHandle
{
    private readonly LocalHandle _file;

    internal LocalStreamHandle(LocalHandle file, LocalHandle data)
    {
        _file = file;
        Data = data;
    }

    /// <summary>The stream's data file.</summary>
    internal LocalHandle Data { get; }

    public string Path => _file.Path;
    public bool IsDirectory => false;
    public ulong FileId => _file.FileId;
    public string? StreamName => LocalVolume.DiskSplit(Data.DiskPathForStreams).Name;
    public bool DeleteOnClose => Data.DeleteOnClose;

    public ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Data.ReadAsync(offset, buffer, cancellationToken);

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        Data.WriteAsync(offset, data, cancellationToken);

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => Data.FlushAsync(cancellationToken);

    public ValueTask SetEndOfFileAsync(long length, CancellationToken cancellationToken = default) =>
        Data.SetEndOfFileAsync(length, cancellationToken);

    public ValueTask SetAllocationSizeAsync(long allocationSize, CancellationToken cancellationToken = default) =>
        Data.SetAllocationSizeAsync(allocationSize, cancellationToken);

    /// <summary>The file's times and attributes (without Directory: a stream of a directory is data), the stream's sizes.</summary>
    public async ValueTask<FileMetadata> GetInfoAsync(CancellationToken cancellationToken = default)
    {
        var file = await _file.GetInfoAsync(cancellationToken).ConfigureAwait(false);
        var data = await Data.GetInfoAsync(cancellationToken).ConfigureAwait(false);
        var attributes = file.Attributes & ~StorageFileAttributes.Directory;
        if (attributes == StorageFileAttributes.None)
            attributes = StorageFileAttributes.Normal;
        return file with
        {
            Attributes = attributes,
            EndOfFile = data.EndOfFile,
            AllocationSize = data.AllocationSize,
            IsDirectory = false,
            LinkCount = file.IsDirectory ? 1 : file.LinkCount,
        };
    }

    public async ValueTask SetInfoAsync(FileInfoUpdate update, CancellationToken cancellationToken = default)
    {
        if (update.Sparse is not null)
            await Data.SetInfoAsync(new FileInfoUpdate(Sparse: update.Sparse), cancellationToken).ConfigureAwait(false);
        var rest = update with { Sparse = null };
        if (rest != default)
            await _file.SetInfoAsync(rest, cancellationToken).ConfigureAwait(false);
    }

    public IAsyncEnumerable<StorageDirectoryEntry> EnumerateAsync(string? pattern = null, CancellationToken cancellationToken = default) =>
        throw new StorageException(StorageError.NotADirectory, "A stream cannot be enumerated.");

    public ValueTask RenameAsync(string newPath, bool replaceIfExists, CancellationToken cancellationToken = default) =>
        throw new StorageException(StorageError.InvalidParameter, "A stream is renamed only to another stream name.");

    public ValueTask RenameStreamAsync(string newStreamName, bool replaceIfExists, CancellationToken cancellationToken = default)
    {
        Data.Volume.RenameStream(Data, newStreamName, replaceIfExists);
        return ValueTask.CompletedTask;
    }

    public ValueTask SetDeleteOnCloseAsync(bool deleteOnClose, CancellationToken cancellationToken = default)
    {
        if (deleteOnClose && (_file.StoredAttributes() & StorageFileAttributes.ReadOnly) != 0)
            throw new StorageException(StorageError.CannotDelete, "The file is read-only.");
        return Data.SetDeleteOnCloseAsync(deleteOnClose, cancellationToken);
    }

    public ValueTask DeleteAsync(CancellationToken cancellationToken = default) => Data.DeleteAsync(cancellationToken);

    public ValueTask<IReadOnlyList<StorageStreamEntry>> GetStreamsAsync(CancellationToken cancellationToken = default) =>
        _file.GetStreamsAsync(cancellationToken);

    public ValueTask<IReadOnlyList<StorageEa>> GetEasAsync(CancellationToken cancellationToken = default) =>
        _file.GetEasAsync(cancellationToken);

    public ValueTask SetEasAsync(IReadOnlyList<StorageEa> eas, CancellationToken cancellationToken = default) =>
        _file.SetEasAsync(eas, cancellationToken);

    public void Dispose()
    {
        try { Data.Dispose(); }
        finally { _file.Dispose(); }
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
