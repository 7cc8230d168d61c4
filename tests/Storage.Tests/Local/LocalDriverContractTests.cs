namespace SmbCopy.Storage.Tests.Local;

/// <summary>The storage contract on the local driver, over a temporary directory.</summary>
public sealed class LocalDriverContractTests : StorageContractTests
{
    private readonly LocalTempShare _share = new();

    protected override Task<IStorageVolume> CreateVolumeAsync() => _share.OpenAsync();

    protected override Task CreateSymbolicLinkAsync(string linkPath, string target)
    {
        File.CreateSymbolicLink(_share.OnDisk(linkPath), target);
        return Task.CompletedTask;
    }

    protected override Task CreateFifoAsync(string path)
    {
        LocalTempShare.MakeFifo(_share.OnDisk(path));
        return Task.CompletedTask;
    }

    protected override Task CreateDeviceAsync(string path)
    {
        LocalTempShare.MakeNullDevice(_share.OnDisk(path));
        return Task.CompletedTask;
    }

    protected override string OutsideDirectory => _share.Outside;

    protected override Task<string[]> ListOutsideAsync() =>
        Task.FromResult(Directory.GetFileSystemEntries(_share.Outside));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _share.Dispose();
    }
}
