using SmbCopy.Storage.Nfs;

namespace SmbCopy.Storage.Tests.Nfs;

/// <summary>The storage contract on the NFS driver, against the kernel NFSv4.2 server of the test VM: each test gets
/// a fresh directory of the btrfs export as its share ("/t-GUID/share", with "/t-GUID/outside" next to it).</summary>
[Collection(NfsServerCollection.Name)]
public sealed class NfsDriverContractTests(NfsServerFixture server) : StorageContractTests
{
    private readonly string _base = "t-" + Guid.NewGuid().ToString("N");

    protected override async Task<IStorageVolume> CreateVolumeAsync()
    {
        await NfsPlanter.MakeDirectoriesAsync(server.Admin, _base + "/share");
        await NfsPlanter.MakeDirectoriesAsync(server.Admin, _base + "/outside");
        return await server.OpenAsync("/" + _base + "/share");
    }

    private string OnServer(string sharePath) => _base + "/share/" + sharePath.Replace('\\', '/');

    protected override Task CreateSymbolicLinkAsync(string linkPath, string target) =>
        NfsPlanter.CreateAsync(server.Admin, OnServer(linkPath), Nfs4.TypeLnk, target);

    protected override Task CreateFifoAsync(string path) => NfsPlanter.CreateAsync(server.Admin, OnServer(path), Nfs4.TypeFifo);

    protected override Task CreateDeviceAsync(string path) => NfsPlanter.CreateAsync(server.Admin, OnServer(path), Nfs4.TypeChr, spec: (1, 3));

    protected override string OutsideDirectory => "/" + _base + "/outside";

    protected override async Task<string[]> ListOutsideAsync()
    {
        var (h, _) = await server.Admin.OpenAsync(_base + "/outside", new OpenRequest(CreateDisposition.Open, StorageAccess.Read, ObjectKind.Directory));
        await using (h)
        {
            var names = new List<string>();
            await foreach (var e in h.EnumerateAsync())
                names.Add(e.Name);
            return [.. names];
        }
    }
}
