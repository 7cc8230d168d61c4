namespace SmbCopy.Storage.Local;

/// <summary>
/// An open named stream: the stream's data file in the stream depot (<see cref="Data"/>: I/O, size, copy, clone,
/// delete) and its file (times, attributes, file id, path, other streams, EAs), as Windows shows a stream.
/// </summary>
internal sealed class LocalStreamHandle : IStorageHandle
{
    private readonly LocalHandle _file;

    private bool _unnamed;

    internal LocalStreamHandle(LocalHandle file, LocalHandle data)
    {
        _file = file;
        Data = data;
    }

    /// <summary>The stream's data file (the file itself once the stream was renamed to the unnamed stream).</summary>
    internal LocalHandle Data { get; private set; }

    public string Path => _file.Path;
    public bool IsDirectory => false;
    public ulong FileId => _file.FileId;
    public string? StreamName => _unnamed ? null : LocalVolume.DiskSplit(Data.DiskPathForStreams).Name;
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
        ArgumentNullException.ThrowIfNull(newStreamName);
        if (_unnamed)
            throw new StorageException(StorageError.InvalidParameter, "The handle is open on the unnamed stream.");
        if (newStreamName.Length != 0)
        {
            Data.Volume.RenameStream(Data, newStreamName, replaceIfExists);
            return ValueTask.CompletedTask;
        }
        // To the unnamed data stream: the stream's data become the file's, the stream goes away.
        if (_file.IsDirectory)
            throw new StorageException(StorageError.InvalidParameter, "A directory has no unnamed data stream.");
        var target = Data.Volume.ReopenForWrite(_file);
        try
        {
            var info = target.GetInfoAsync(cancellationToken).AsTask().GetAwaiter().GetResult();
            if (info.EndOfFile != 0 && !replaceIfExists)
                throw new StorageException(StorageError.AlreadyExists, "The file's unnamed stream has data.");
            target.SetEndOfFileAsync(0, cancellationToken).AsTask().GetAwaiter().GetResult();
            long size = Data.GetInfoAsync(cancellationToken).AsTask().GetAwaiter().GetResult().EndOfFile;
            long copied = 0;
            if (size > 0)
            {
                try { copied = Data.CopyTo(0, target, 0, size, cancellationToken); }
                catch (StorageException e) when (e.Error is StorageError.NotSupported or StorageError.CrossDevice) { copied = 0; }
            }
            if (copied < size)
                CopyByReading(Data, target, copied, size, cancellationToken);
            Data.DeleteAsync(cancellationToken).AsTask().GetAwaiter().GetResult();
        }
        catch
        {
            target.Dispose();
            throw;
        }
        var old = Data;
        Data = target;
        _unnamed = true;
        old.Dispose();
        return ValueTask.CompletedTask;
    }

    private static void CopyByReading(LocalHandle source, LocalHandle target, long from, long size, CancellationToken cancellationToken)
    {
        var buffer = new byte[1 << 20];
        for (long at = from; at < size;)
        {
            int n = source.ReadAsync(at, buffer.AsMemory(0, (int)Math.Min(buffer.Length, size - at)), cancellationToken).AsTask().GetAwaiter().GetResult();
            if (n == 0) break;
            target.WriteAsync(at, buffer.AsMemory(0, n), cancellationToken).AsTask().GetAwaiter().GetResult();
            at += n;
        }
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
