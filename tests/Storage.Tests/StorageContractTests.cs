using System.Text;
using SmbCopy.Storage;

namespace SmbCopy.Storage.Tests;

/// <summary>
/// The contract every storage driver passes, written once. A driver's test class derives from this one and says how to
/// make a fresh, empty volume and how to plant what the API cannot make (symbolic links, fifos, devices) — the
/// confinement tests need them. A driver whose backend has no such objects still overrides the hooks (for example
/// to create them on the server through another route); a hook that cannot be implemented fails the test, it is
/// never skipped.
/// </summary>
public abstract partial class StorageContractTests : IAsyncLifetime
{
    private IStorageVolume? _volume;

    /// <summary>The volume under test: fresh and empty for each test.</summary>
    protected IStorageVolume Volume => _volume ?? throw new InvalidOperationException("Not initialized.");

    /// <summary>Makes a fresh, empty volume (called once per test).</summary>
    protected abstract Task<IStorageVolume> CreateVolumeAsync();

    /// <summary>Plants a symbolic link at share path <paramref name="linkPath"/> ('/'-separated) whose target is
    /// <paramref name="target"/>, verbatim (absolute, or relative to the link's directory).</summary>
    protected abstract Task CreateSymbolicLinkAsync(string linkPath, string target);

    /// <summary>Plants a fifo at share path <paramref name="path"/>.</summary>
    protected abstract Task CreateFifoAsync(string path);

    /// <summary>Plants a character device (the null device) at share path <paramref name="path"/>.</summary>
    protected abstract Task CreateDeviceAsync(string path);

    /// <summary>An absolute backend path of an (initially empty) directory outside the share, to aim links at.</summary>
    protected abstract string OutsideDirectory { get; }

    /// <summary>Names of the entries of <see cref="OutsideDirectory"/>, read through the backend directly.</summary>
    protected abstract Task<string[]> ListOutsideAsync();

    /// <summary>An absolute backend path of a directory outside the share that holds files (like /etc), and the
    /// name of one file in it.</summary>
    protected virtual (string Directory, string File) OutsideSystemFile => ("/etc", "passwd");

    public virtual async Task InitializeAsync() => _volume = await CreateVolumeAsync();

    public virtual async Task DisposeAsync()
    {
        if (_volume is not null)
            await _volume.DisposeAsync();
    }

    // ================================================================== helpers

    protected static readonly OpenRequest CreateFile = new(CreateDisposition.Create, StorageAccess.ReadWrite, ObjectKind.File);
    protected static readonly OpenRequest OpenRead = new(CreateDisposition.Open, StorageAccess.Read);
    protected static readonly OpenRequest OpenWrite = new(CreateDisposition.Open, StorageAccess.ReadWrite);
    protected static readonly OpenRequest CreateDir = new(CreateDisposition.Create, StorageAccess.Read, ObjectKind.Directory);
    protected static readonly OpenRequest OpenMeta = new(CreateDisposition.Open, StorageAccess.None);

    protected async Task CreateFileAsync(string path, string content = "")
    {
        var (h, action) = await Volume.OpenAsync(path, CreateFile);
        await using (h)
        {
            Assert.Equal(OpenAction.Created, action);
            if (content.Length > 0)
                await h.WriteAsync(0, Encoding.UTF8.GetBytes(content));
        }
    }

    protected async Task CreateDirectoryAsync(string path)
    {
        var (h, action) = await Volume.OpenAsync(path, CreateDir);
        await h.DisposeAsync();
        Assert.Equal(OpenAction.Created, action);
    }

    protected static async Task<byte[]> ReadAllAsync(IStorageHandle h)
    {
        var info = await h.GetInfoAsync();
        var buffer = new byte[info.EndOfFile];
        int total = 0;
        while (total < buffer.Length)
        {
            int n = await h.ReadAsync(total, buffer.AsMemory(total));
            Assert.True(n > 0, "read returned 0 before the end of file");
            total += n;
        }
        return buffer;
    }

    protected async Task<string> ReadTextAsync(string path)
    {
        var (h, _) = await Volume.OpenAsync(path, OpenRead);
        await using (h)
            return Encoding.UTF8.GetString(await ReadAllAsync(h));
    }

    protected static async Task<List<StorageDirectoryEntry>> ListAsync(IStorageHandle directory, string? pattern = null)
    {
        var list = new List<StorageDirectoryEntry>();
        await foreach (var e in directory.EnumerateAsync(pattern))
            list.Add(e);
        return list;
    }

    protected async Task<List<StorageDirectoryEntry>> ListAsync(string path, string? pattern = null)
    {
        var (h, _) = await Volume.OpenAsync(path, new OpenRequest(CreateDisposition.Open, StorageAccess.Read, ObjectKind.Directory));
        await using (h)
            return await ListAsync(h, pattern);
    }

    protected static async Task<StorageException> AssertErrorAsync(StorageError expected, Func<Task> action)
    {
        var e = await Assert.ThrowsAsync<StorageException>(action);
        Assert.Equal(expected, e.Error);
        return e;
    }

    protected Task<StorageException> AssertOpenErrorAsync(StorageError expected, string path, OpenRequest request) =>
        AssertErrorAsync(expected, async () =>
        {
            var (h, _) = await Volume.OpenAsync(path, request);
            await h.DisposeAsync();
        });

    protected async Task<bool> ExistsAsync(string path)
    {
        try
        {
            var (h, _) = await Volume.OpenAsync(path, OpenMeta);
            await h.DisposeAsync();
            return true;
        }
        catch (StorageException e) when (e.Error is StorageError.NotFound or StorageError.PathNotFound)
        {
            return false;
        }
    }

    // ================================================================== create / open dispositions

    [Fact]
    public async Task Create_MakesFile_ThenOpenOpensIt()
    {
        var (h, action) = await Volume.OpenAsync("a.txt", CreateFile);
        await using (h)
        {
            Assert.Equal(OpenAction.Created, action);
            Assert.False(h.IsDirectory);
            Assert.Equal("a.txt", h.Path);
            var info = await h.GetInfoAsync();
            Assert.Equal(0, info.EndOfFile);
            Assert.False(info.IsDirectory);
            Assert.Equal(1u, info.LinkCount);
        }
        var (h2, action2) = await Volume.OpenAsync("a.txt", OpenRead);
        await using (h2)
            Assert.Equal(OpenAction.Opened, action2);
    }

    [Fact]
    public async Task Create_WhenExists_IsAlreadyExists_EvenWithOtherCase()
    {
        await CreateFileAsync("Report.TXT");
        await AssertOpenErrorAsync(StorageError.AlreadyExists, "Report.TXT", CreateFile);
        await AssertOpenErrorAsync(StorageError.AlreadyExists, "report.txt", CreateFile);
        await AssertOpenErrorAsync(StorageError.AlreadyExists, "REPORT.txt", CreateDir);
        var names = (await ListAsync("")).Select(e => e.Name).ToArray();
        Assert.Equal(["Report.TXT"], names);
    }

    [Fact]
    public async Task Open_Missing_IsNotFound_AndMissingDirectoryIsPathNotFound()
    {
        await AssertOpenErrorAsync(StorageError.NotFound, "missing.txt", OpenRead);
        await AssertOpenErrorAsync(StorageError.PathNotFound, "nodir/missing.txt", OpenRead);
        await AssertOpenErrorAsync(StorageError.PathNotFound, "nodir/x.txt", CreateFile);
        await CreateFileAsync("file");
        await AssertOpenErrorAsync(StorageError.PathNotFound, "file/x.txt", CreateFile);
    }

    [Fact]
    public async Task OpenIf_CreatesThenOpens()
    {
        var req = new OpenRequest(CreateDisposition.OpenIf, StorageAccess.ReadWrite);
        var (h, a1) = await Volume.OpenAsync("x.bin", req);
        await using (h)
        {
            Assert.Equal(OpenAction.Created, a1);
            await h.WriteAsync(0, new byte[] { 1, 2, 3 });
        }
        var (h2, a2) = await Volume.OpenAsync("X.BIN", req);
        await using (h2)
        {
            Assert.Equal(OpenAction.Opened, a2);
            Assert.Equal(3, (await h2.GetInfoAsync()).EndOfFile);
            Assert.Equal("x.bin", h2.Path);
        }
    }

    [Fact]
    public async Task Overwrite_TruncatesExisting_AndMissingIsNotFound()
    {
        await AssertOpenErrorAsync(StorageError.NotFound, "o.txt", new OpenRequest(CreateDisposition.Overwrite, StorageAccess.ReadWrite));
        await CreateFileAsync("o.txt", "hello world");
        var (h, action) = await Volume.OpenAsync("o.txt", new OpenRequest(CreateDisposition.Overwrite, StorageAccess.ReadWrite));
        await using (h)
        {
            Assert.Equal(OpenAction.Overwritten, action);
            Assert.Equal(0, (await h.GetInfoAsync()).EndOfFile);
        }
    }

    [Fact]
    public async Task OverwriteIf_AndSupersede_ReportCreatedThenReplaced()
    {
        var overwriteIf = new OpenRequest(CreateDisposition.OverwriteIf, StorageAccess.ReadWrite);
        var (h1, a1) = await Volume.OpenAsync("w.txt", overwriteIf);
        await using (h1) { Assert.Equal(OpenAction.Created, a1); await h1.WriteAsync(0, "abc"u8.ToArray()); }
        var (h2, a2) = await Volume.OpenAsync("w.txt", overwriteIf);
        await using (h2) { Assert.Equal(OpenAction.Overwritten, a2); Assert.Equal(0, (await h2.GetInfoAsync()).EndOfFile); }

        var supersede = new OpenRequest(CreateDisposition.Supersede, StorageAccess.ReadWrite);
        var (h3, a3) = await Volume.OpenAsync("s.txt", supersede);
        await using (h3) { Assert.Equal(OpenAction.Created, a3); await h3.WriteAsync(0, "abc"u8.ToArray()); }
        var (h4, a4) = await Volume.OpenAsync("S.txt", supersede);
        await using (h4) { Assert.Equal(OpenAction.Superseded, a4); Assert.Equal(0, (await h4.GetInfoAsync()).EndOfFile); }
    }

    [Fact]
    public async Task DirectoryConstraints_AreEnforced()
    {
        await CreateDirectoryAsync("dir");
        await CreateFileAsync("file");
        await AssertOpenErrorAsync(StorageError.NotADirectory, "file", new OpenRequest(CreateDisposition.Open, StorageAccess.Read, ObjectKind.Directory));
        await AssertOpenErrorAsync(StorageError.IsADirectory, "dir", new OpenRequest(CreateDisposition.Open, StorageAccess.Read, ObjectKind.File));
        await AssertOpenErrorAsync(StorageError.InvalidParameter, "newdir", new OpenRequest(CreateDisposition.OverwriteIf, StorageAccess.Read, ObjectKind.Directory));
        await AssertOpenErrorAsync(StorageError.IsADirectory, "dir", new OpenRequest(CreateDisposition.Overwrite, StorageAccess.ReadWrite));

        var (d, action) = await Volume.OpenAsync("DIR", new OpenRequest(CreateDisposition.OpenIf, StorageAccess.Read, ObjectKind.Directory));
        await using (d)
        {
            Assert.Equal(OpenAction.Opened, action);
            Assert.True(d.IsDirectory);
            var info = await d.GetInfoAsync();
            Assert.True(info.IsDirectory);
            Assert.True(info.Attributes.HasFlag(StorageFileAttributes.Directory));
            await AssertErrorAsync(StorageError.IsADirectory, () => d.ReadAsync(0, new byte[1]).AsTask());
        }
        var (f, _) = await Volume.OpenAsync("file", OpenRead);
        await using (f)
            await AssertErrorAsync(StorageError.NotADirectory, async () => await ListAsync(f));
    }

    [Fact]
    public async Task Root_OpensAsDirectory_WithEmptyPath()
    {
        var (root, action) = await Volume.OpenAsync("", new OpenRequest(CreateDisposition.Open, StorageAccess.Read, ObjectKind.Directory));
        await using (root)
        {
            Assert.Equal(OpenAction.Opened, action);
            Assert.True(root.IsDirectory);
            Assert.Equal("", root.Path);
            Assert.Empty(await ListAsync(root));
        }
        await AssertOpenErrorAsync(StorageError.AlreadyExists, "", CreateDir);
    }

    [Fact]
    public async Task NestedPaths_AcceptBothSeparators_AndPathUsesBackslash()
    {
        await CreateDirectoryAsync("Top");
        await CreateDirectoryAsync("Top\\Mid");
        await CreateFileAsync("Top/Mid/Leaf.txt", "leaf");
        var (h, _) = await Volume.OpenAsync("top\\MID/leaf.TXT", OpenRead);
        await using (h)
        {
            Assert.Equal("Top\\Mid\\Leaf.txt", h.Path);
            Assert.Equal("leaf", Encoding.UTF8.GetString(await ReadAllAsync(h)));
        }
    }

    // ================================================================== data

    [Fact]
    public async Task WriteAndRead_AtOffsets_PastEofZeroFills_AndReadAtEofIsZero()
    {
        var (h, _) = await Volume.OpenAsync("data.bin", CreateFile);
        await using (h)
        {
            await h.WriteAsync(0, new byte[] { 1, 2, 3, 4 });
            await h.WriteAsync(10, new byte[] { 9, 9 });
            Assert.Equal(12, (await h.GetInfoAsync()).EndOfFile);

            var buf = new byte[20];
            int n = await h.ReadAsync(0, buf);
            Assert.Equal(12, n);
            Assert.Equal(new byte[] { 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 9, 9 }, buf[..12]);

            Assert.Equal(0, await h.ReadAsync(12, buf));
            Assert.Equal(0, await h.ReadAsync(1000, buf));
            Assert.Equal(2, await h.ReadAsync(10, buf));

            await h.WriteAsync(2, new byte[] { 7 });
            n = await h.ReadAsync(1, buf.AsMemory(0, 3));
            Assert.Equal(3, n);
            Assert.Equal(new byte[] { 2, 7, 4 }, buf[..3]);

            await AssertErrorAsync(StorageError.InvalidParameter, () => h.ReadAsync(-1, buf).AsTask());
            await AssertErrorAsync(StorageError.InvalidParameter, () => h.WriteAsync(-1, buf).AsTask());
        }
    }

    [Fact]
    public async Task LargeWrite_RoundTrips()
    {
        var data = new byte[3 * 1024 * 1024 + 17];
        new Random(42).NextBytes(data);
        var (h, _) = await Volume.OpenAsync("big.bin", CreateFile);
        await using (h)
        {
            await h.WriteAsync(5, data);
            await h.FlushAsync();
        }
        var (r, _) = await Volume.OpenAsync("big.bin", OpenRead);
        await using (r)
        {
            var all = await ReadAllAsync(r);
            Assert.Equal(data.Length + 5, all.Length);
            Assert.True(all.AsSpan(5).SequenceEqual(data));
        }
    }

    [Fact]
    public async Task Write_OnReadOnlyHandle_IsAccessDenied()
    {
        await CreateFileAsync("r.txt", "x");
        var (h, _) = await Volume.OpenAsync("r.txt", OpenRead);
        await using (h)
        {
            await AssertErrorAsync(StorageError.AccessDenied, () => h.WriteAsync(0, new byte[1]).AsTask());
            await AssertErrorAsync(StorageError.AccessDenied, () => h.SetEndOfFileAsync(0).AsTask());
        }
        Assert.Equal("x", await ReadTextAsync("r.txt"));
    }

    [Fact]
    public async Task SetEndOfFile_GrowsWithZeros_AndShrinks()
    {
        var (h, _) = await Volume.OpenAsync("eof.bin", CreateFile);
        await using (h)
        {
            await h.WriteAsync(0, new byte[] { 5, 5, 5, 5 });
            await h.SetEndOfFileAsync(100);
            Assert.Equal(100, (await h.GetInfoAsync()).EndOfFile);
            var buf = new byte[100];
            Assert.Equal(100, await h.ReadAsync(0, buf));
            Assert.Equal(new byte[] { 5, 5, 5, 5, 0, 0 }, buf[..6]);
            Assert.All(buf[4..], b => Assert.Equal(0, b));

            await h.SetEndOfFileAsync(2);
            Assert.Equal(2, (await h.GetInfoAsync()).EndOfFile);
            Assert.Equal(2, await h.ReadAsync(0, buf));
            await AssertErrorAsync(StorageError.InvalidParameter, () => h.SetEndOfFileAsync(-5).AsTask());
        }
    }

    [Fact]
    public async Task AllocationSize_ReservesWithoutChangingEof_AndBelowEofTruncates()
    {
        var (h, _) = await Volume.OpenAsync("alloc.bin", CreateFile);
        await using (h)
        {
            await h.WriteAsync(0, new byte[10_000]);
            var before = await h.GetInfoAsync();
            Assert.True(before.AllocationSize >= 10_000, $"allocation {before.AllocationSize} < end of file");

            await h.SetAllocationSizeAsync(4 * 1024 * 1024);
            var grown = await h.GetInfoAsync();
            Assert.Equal(10_000, grown.EndOfFile);
            if (Volume.Capabilities.HasFlag(StorageCapabilities.Preallocation))
                Assert.True(grown.AllocationSize >= 4 * 1024 * 1024, $"allocation {grown.AllocationSize}");
            else
                Assert.True(grown.AllocationSize >= before.AllocationSize);

            await h.SetAllocationSizeAsync(1000);
            var cut = await h.GetInfoAsync();
            Assert.Equal(1000, cut.EndOfFile);
            Assert.True(cut.AllocationSize >= 1000 && cut.AllocationSize < 4 * 1024 * 1024, $"allocation {cut.AllocationSize}");
        }
    }

    [Fact]
    public async Task SparseFile_WriteFarPastEof_DoesNotAllocateTheGap_AndSparseAttributeIsKept()
    {
        const long far = 256L * 1024 * 1024;
        var (h, _) = await Volume.OpenAsync("sparse.bin", CreateFile);
        await using (h)
        {
            await h.SetInfoAsync(new FileInfoUpdate(Sparse: true));
            await h.WriteAsync(far, new byte[] { 1 });
            var info = await h.GetInfoAsync();
            Assert.Equal(far + 1, info.EndOfFile);
            if (Volume.Capabilities.HasFlag(StorageCapabilities.SparseFiles))
                Assert.True(info.AllocationSize < 16 * 1024 * 1024, $"allocation {info.AllocationSize}");
            if (Volume.Capabilities.HasFlag(StorageCapabilities.PersistentDosAttributes))
                Assert.True(info.Attributes.HasFlag(StorageFileAttributes.SparseFile), info.Attributes.ToString());
            var buf = new byte[4096];
            Assert.Equal(4096, await h.ReadAsync(far - 4096, buf));
            Assert.All(buf, b => Assert.Equal(0, b));
        }
    }

    // ================================================================== metadata

    [Fact]
    public async Task Times_RoundTrip_IncludingCreationTime()
    {
        Assert.True(Volume.Capabilities.HasFlag(StorageCapabilities.PersistentCreationTime),
            "a driver must keep creation time (Windows copies it)");
        var creation = new DateTime(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc).AddTicks(1234567);
        var access = new DateTime(2011, 6, 7, 8, 9, 10, DateTimeKind.Utc).AddTicks(7654321);
        var write = new DateTime(2021, 11, 12, 13, 14, 15, DateTimeKind.Utc).AddTicks(1111111);
        var (h, _) = await Volume.OpenAsync("t.txt", CreateFile);
        var id = h.FileId;
        await using (h)
        {
            var created = await h.GetInfoAsync();
            Assert.InRange(created.CreationTime, DateTime.UtcNow.AddMinutes(-5), DateTime.UtcNow.AddMinutes(5));
            await h.WriteAsync(0, new byte[] { 1 });
            await h.SetInfoAsync(new FileInfoUpdate(CreationTime: creation, LastAccessTime: access, LastWriteTime: write));
        }
        var (r, _) = await Volume.OpenAsync("t.txt", OpenRead);
        await using (r)
        {
            var info = await r.GetInfoAsync();
            Assert.Equal(creation, info.CreationTime);
            Assert.Equal(access, info.LastAccessTime);
            Assert.Equal(write, info.LastWriteTime);
            Assert.Equal(DateTimeKind.Utc, info.CreationTime.Kind);
            Assert.Equal(id, info.FileId);

            // null members are left unchanged
            await r.SetInfoAsync(new FileInfoUpdate(LastAccessTime: access.AddDays(1)));
            var after = await r.GetInfoAsync();
            Assert.Equal(creation, after.CreationTime);
            Assert.Equal(write, after.LastWriteTime);
            Assert.Equal(access.AddDays(1), after.LastAccessTime);
        }
    }

    [Fact]
    public async Task DosAttributes_RoundTrip_AndDefaults()
    {
        Assert.True(Volume.Capabilities.HasFlag(StorageCapabilities.PersistentDosAttributes),
            "a driver must keep DOS attributes");
        await CreateFileAsync("plain.txt");
        await CreateDirectoryAsync("folder");
        var (p, _) = await Volume.OpenAsync("plain.txt", OpenMeta);
        await using (p)
            Assert.Equal(StorageFileAttributes.Archive, (await p.GetInfoAsync()).Attributes);
        var (d, _) = await Volume.OpenAsync("folder", OpenMeta);
        await using (d)
        {
            Assert.Equal(StorageFileAttributes.Directory, (await d.GetInfoAsync()).Attributes);
            await d.SetInfoAsync(new FileInfoUpdate(Attributes: StorageFileAttributes.Hidden | StorageFileAttributes.Directory));
            Assert.Equal(StorageFileAttributes.Hidden | StorageFileAttributes.Directory, (await d.GetInfoAsync()).Attributes);
        }

        var set = StorageFileAttributes.Hidden | StorageFileAttributes.System | StorageFileAttributes.Archive
            | StorageFileAttributes.NotContentIndexed;
        var (h, _) = await Volume.OpenAsync("plain.txt", OpenMeta);
        await using (h)
            await h.SetInfoAsync(new FileInfoUpdate(Attributes: set));
        var (r, _) = await Volume.OpenAsync("PLAIN.TXT", OpenMeta);
        await using (r)
        {
            Assert.Equal(set, (await r.GetInfoAsync()).Attributes);
            await r.SetInfoAsync(new FileInfoUpdate(Attributes: StorageFileAttributes.Normal));
            Assert.Equal(StorageFileAttributes.Normal, (await r.GetInfoAsync()).Attributes);
        }

        var entries = await ListAsync("");
        Assert.Equal(StorageFileAttributes.Normal, entries.Single(e => e.Name == "plain.txt").Metadata.Attributes);
        Assert.Equal(StorageFileAttributes.Hidden | StorageFileAttributes.Directory, entries.Single(e => e.Name == "folder").Metadata.Attributes);
    }

    [Fact]
    public async Task CreateWithAttributes_AreApplied()
    {
        var (h, _) = await Volume.OpenAsync("hid.txt", CreateFile with { Attributes = StorageFileAttributes.Hidden });
        await using (h)
            Assert.Equal(StorageFileAttributes.Hidden | StorageFileAttributes.Archive, (await h.GetInfoAsync()).Attributes);
        // Windows: overwriting a hidden file without asking for hidden is refused
        await AssertOpenErrorAsync(StorageError.AccessDenied, "hid.txt", new OpenRequest(CreateDisposition.OverwriteIf, StorageAccess.ReadWrite));
        var (o, action) = await Volume.OpenAsync("hid.txt", new OpenRequest(CreateDisposition.OverwriteIf, StorageAccess.ReadWrite,
            Attributes: StorageFileAttributes.Hidden | StorageFileAttributes.System));
        await using (o)
        {
            Assert.Equal(OpenAction.Overwritten, action);
            Assert.Equal(StorageFileAttributes.Hidden | StorageFileAttributes.System | StorageFileAttributes.Archive,
                (await o.GetInfoAsync()).Attributes);
        }
    }

    [Fact]
    public async Task ReadOnlyAttribute_RefusesWriteOpenAndDelete()
    {
        await CreateFileAsync("ro.txt", "keep");
        var (h, _) = await Volume.OpenAsync("ro.txt", OpenMeta);
        await using (h)
            await h.SetInfoAsync(new FileInfoUpdate(Attributes: StorageFileAttributes.ReadOnly));
        await AssertOpenErrorAsync(StorageError.AccessDenied, "ro.txt", OpenWrite);
        await AssertOpenErrorAsync(StorageError.AccessDenied, "ro.txt", new OpenRequest(CreateDisposition.Overwrite, StorageAccess.ReadWrite));
        await AssertErrorAsync(StorageError.CannotDelete, () => Volume.DeleteAsync("ro.txt").AsTask());
        var (m, _) = await Volume.OpenAsync("ro.txt", OpenMeta);
        await using (m)
            await AssertErrorAsync(StorageError.CannotDelete, () => m.SetDeleteOnCloseAsync(true).AsTask());
        Assert.Equal("keep", await ReadTextAsync("ro.txt"));

        var (c, _) = await Volume.OpenAsync("ro.txt", OpenMeta);
        await using (c)
            await c.SetInfoAsync(new FileInfoUpdate(Attributes: StorageFileAttributes.Normal));
        await Volume.DeleteAsync("ro.txt");
        Assert.False(await ExistsAsync("ro.txt"));
    }

    [Fact]
    public async Task FileId_IsStableAcrossReopenAndRename_AndDistinct()
    {
        await CreateFileAsync("one.txt");
        await CreateFileAsync("two.txt");
        await CreateDirectoryAsync("d");
        ulong id1, id2;
        var (h1, _) = await Volume.OpenAsync("one.txt", OpenMeta);
        await using (h1) { id1 = h1.FileId; Assert.Equal(id1, (await h1.GetInfoAsync()).FileId); }
        var (h2, _) = await Volume.OpenAsync("two.txt", OpenMeta);
        await using (h2) id2 = h2.FileId;
        Assert.NotEqual(id1, id2);

        var (again, _) = await Volume.OpenAsync("ONE.txt", OpenMeta);
        await using (again) Assert.Equal(id1, again.FileId);

        await Volume.RenameAsync("one.txt", "d\\moved.txt", replaceIfExists: false);
        var (moved, _) = await Volume.OpenAsync("d/moved.txt", OpenMeta);
        await using (moved) Assert.Equal(id1, (await moved.GetInfoAsync()).FileId);
        var listed = await ListAsync("d");
        Assert.Equal(id1, listed.Single().Metadata.FileId);
    }

    [Fact]
    public async Task VolumeInfo_IsPlausible()
    {
        var info = await Volume.GetVolumeInfoAsync();
        Assert.True(info.TotalBytes > 0);
        Assert.InRange(info.FreeBytes, 0, info.TotalBytes);
        Assert.True(info.ClusterSize >= 512);
        Assert.False(string.IsNullOrEmpty(info.FileSystemName));
        Assert.True(info.MaxNameLength >= 255);
        Assert.Equal(info.SerialNumber, (await Volume.GetVolumeInfoAsync()).SerialNumber);
    }

    // ================================================================== names and enumeration

    [Fact]
    public async Task CaseInsensitiveOpen_PreservesCase()
    {
        await CreateFileAsync("Report.TXT", "r");
        var (h, action) = await Volume.OpenAsync("report.txt", OpenRead);
        await using (h)
        {
            Assert.Equal(OpenAction.Opened, action);
            Assert.Equal("Report.TXT", h.Path);
            Assert.Equal("r", Encoding.UTF8.GetString(await ReadAllAsync(h)));
        }
        var entries = await ListAsync("");
        Assert.Equal("Report.TXT", Assert.Single(entries).Name);
        var exact = await ListAsync("", "REPORT.txt");
        Assert.Equal("Report.TXT", Assert.Single(exact).Name);
    }

    [Fact]
    public async Task Enumerate_10000Files_EachExactlyOnce()
    {
        await CreateDirectoryAsync("many");
        const int count = 10_000;
        for (int i = 0; i < count; i++)
        {
            var (h, _) = await Volume.OpenAsync($"many/File{i:D5}.dat", CreateFile);
            h.Dispose();
        }
        var (d, _) = await Volume.OpenAsync("many", new OpenRequest(CreateDisposition.Open, StorageAccess.Read, ObjectKind.Directory));
        await using (d)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            int total = 0;
            await foreach (var e in d.EnumerateAsync())
            {
                total++;
                Assert.True(seen.Add(e.Name), $"{e.Name} listed twice");
                Assert.False(e.Metadata.IsDirectory);
            }
            Assert.Equal(count, total);
            for (int i = 0; i < count; i++)
                Assert.Contains($"File{i:D5}.dat", seen);

            // a second enumeration starts again from the beginning
            int second = 0;
            await foreach (var _ in d.EnumerateAsync("*"))
                second++;
            Assert.Equal(count, second);
        }
        // lookups in the big directory stay case-insensitive
        var (f, _) = await Volume.OpenAsync("MANY/file09999.DAT", OpenMeta);
        await using (f) Assert.Equal("many\\File09999.dat", f.Path);
    }

    [Fact]
    public async Task Enumerate_WithWildcards()
    {
        foreach (var n in new[] { "abc.txt", "abd.TXT", "abc.doc", "readme", "x.tar.gz" })
            await CreateFileAsync(n);
        await CreateDirectoryAsync("Sub");
        static string[] Names(List<StorageDirectoryEntry> l) => l.Select(e => e.Name).Order(StringComparer.Ordinal).ToArray();

        Assert.Equal(["Sub", "abc.doc", "abc.txt", "abd.TXT", "readme", "x.tar.gz"], Names(await ListAsync("")));
        Assert.Equal(["Sub", "abc.doc", "abc.txt", "abd.TXT", "readme", "x.tar.gz"], Names(await ListAsync("", "*.*")));
        Assert.Equal(["abc.txt", "abd.TXT"], Names(await ListAsync("", "*.txt")));
        Assert.Equal(["abc.doc", "abc.txt", "abd.TXT"], Names(await ListAsync("", "ab?.*")));
        Assert.Equal(["x.tar.gz"], Names(await ListAsync("", "*.GZ")));
        Assert.Equal(["abc.txt", "abd.TXT"], Names(await ListAsync("", "<.TXT")));
        Assert.Equal(["abc.txt", "abd.TXT"], Names(await ListAsync("", "ab>.txt")));
        Assert.Equal(["readme"], Names(await ListAsync("", "readme\"")));
        Assert.Equal(["Sub"], Names(await ListAsync("", "sub")));
        Assert.Empty(await ListAsync("", "nothing*"));
        Assert.Empty(await ListAsync("", "missing.txt"));
        var sub = (await ListAsync("")).Single(e => e.Name == "Sub");
        Assert.True(sub.Metadata.IsDirectory);
        Assert.True(sub.Metadata.Attributes.HasFlag(StorageFileAttributes.Directory));
    }

    [Fact]
    public async Task UnicodeNames_AndNamesWithSpaces()
    {
        string[] names = ["Ünïcødé 文件 😀.txt", "name with  spaces .txt", " leading space", "Ελληνικά.doc", "ß-straße"];
        foreach (var n in names)
            await CreateFileAsync(n, n);
        var listed = (await ListAsync("")).Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var n in names)
        {
            Assert.Contains(n, listed);
            Assert.Equal(n, await ReadTextAsync(n));
        }
        Assert.Equal(names[0], await ReadTextAsync("ÜNÏCØDÉ 文件 😀.TXT"));
        Assert.Equal(names[3], await ReadTextAsync("ΕΛΛΗΝΙΚΆ.DOC"));
        await CreateDirectoryAsync("Dossier été");
        await CreateFileAsync("Dossier été/Fichier ñ.txt", "ok");
        Assert.Equal("ok", await ReadTextAsync("DOSSIER ÉTÉ\\fichier Ñ.TXT"));
    }

    [Fact]
    public async Task InvalidNames_AreRefused()
    {
        foreach (var bad in new[] { "a*b", "a?b", "a:b", "a|b", "a<b", "a>b", "a\"b", "a//b", "a\\\\b", "dir\\", ".", "a\u0001b" })
            await AssertOpenErrorAsync(StorageError.NameInvalid, bad, CreateFile);
        await AssertOpenErrorAsync(StorageError.NameInvalid, new string('n', 256), CreateFile);
        Assert.Empty(await ListAsync(""));
    }

    // ================================================================== rename

    [Fact]
    public async Task Rename_WithoutReplace_ToExisting_IsAlreadyExists()
    {
        await CreateFileAsync("a.txt", "A");
        await CreateFileAsync("B.txt", "B");
        await AssertErrorAsync(StorageError.AlreadyExists, () => Volume.RenameAsync("a.txt", "B.txt", false).AsTask());
        await AssertErrorAsync(StorageError.AlreadyExists, () => Volume.RenameAsync("a.txt", "b.TXT", false).AsTask());
        Assert.Equal("A", await ReadTextAsync("a.txt"));
        Assert.Equal("B", await ReadTextAsync("B.txt"));
    }

    [Fact]
    public async Task Rename_WithReplace_ReplacesTarget()
    {
        await CreateFileAsync("a.txt", "A");
        await CreateFileAsync("B.txt", "B");
        await Volume.RenameAsync("a.txt", "b.txt", replaceIfExists: true);
        Assert.False(await ExistsAsync("a.txt"));
        Assert.Equal("A", await ReadTextAsync("B.TXT"));
        var names = (await ListAsync("")).Select(e => e.Name).ToArray();
        Assert.Equal(["b.txt"], names); // the new name's case, the old target is gone
    }

    [Fact]
    public async Task Rename_OverDirectory_IsRefused_AndToMissingDirectoryIsPathNotFound()
    {
        await CreateFileAsync("f.txt", "F");
        await CreateDirectoryAsync("dir");
        await AssertErrorAsync(StorageError.AccessDenied, () => Volume.RenameAsync("f.txt", "dir", true).AsTask());
        await AssertErrorAsync(StorageError.AccessDenied, () => Volume.RenameAsync("dir", "f.txt", true).AsTask());
        await CreateDirectoryAsync("dir/child");
        await AssertErrorAsync(StorageError.InvalidParameter, () => Volume.RenameAsync("dir", "dir/child/dir", false).AsTask());
        await AssertErrorAsync(StorageError.PathNotFound, () => Volume.RenameAsync("f.txt", "nodir/f.txt", false).AsTask());
        await AssertErrorAsync(StorageError.NotFound, () => Volume.RenameAsync("none.txt", "g.txt", false).AsTask());
        Assert.Equal("F", await ReadTextAsync("f.txt"));
    }

    [Fact]
    public async Task Rename_ThroughOpenHandle_MovesAcrossDirectories_AndHandleFollows()
    {
        await CreateDirectoryAsync("src");
        await CreateDirectoryAsync("Dst");
        var (h, _) = await Volume.OpenAsync("src/doc.txt", CreateFile);
        await using (h)
        {
            await h.WriteAsync(0, "first"u8.ToArray());
            await h.RenameAsync("dst\\Doc2.txt", replaceIfExists: false);
            Assert.Equal("Dst\\Doc2.txt", h.Path);
            await h.WriteAsync(5, " second"u8.ToArray());
            await h.RenameAsync("Dst\\DOC2.TXT", replaceIfExists: false); // case-only rename of itself
            Assert.Equal("Dst\\DOC2.TXT", h.Path);
        }
        Assert.False(await ExistsAsync("src/doc.txt"));
        Assert.Equal("first second", await ReadTextAsync("dst/doc2.txt"));
        Assert.Equal(["DOC2.TXT"], (await ListAsync("Dst")).Select(e => e.Name).ToArray());
    }

    [Fact]
    public async Task Rename_Directory_KeepsContents()
    {
        await CreateDirectoryAsync("Old");
        await CreateFileAsync("Old/in.txt", "inside");
        await Volume.RenameAsync("old", "New", false);
        Assert.Equal("inside", await ReadTextAsync("new/IN.txt"));
        Assert.False(await ExistsAsync("Old"));
    }

    [Fact]
    public async Task Rename_ThroughOneHandle_OtherHandleOfTheFile_FollowsAndItsDeleteOnCloseDeletesTheRenamedFile()
    {
        await CreateDirectoryAsync("d");
        await CreateFileAsync("d/a.txt", "data");
        await CreateFileAsync("bystander.txt", "stays");
        var (renamer, _) = await Volume.OpenAsync("d/a.txt", OpenWrite);
        var (other, _) = await Volume.OpenAsync("D/A.TXT", OpenWrite);
        await using (renamer)
        {
            await renamer.RenameAsync("Moved.txt", replaceIfExists: false);
            Assert.Equal("Moved.txt", renamer.Path);
            Assert.Equal("Moved.txt", other.Path);
            Assert.Equal("data", Encoding.UTF8.GetString(await ReadAllAsync(other)));

            // a later rename through the other handle starts from the new name
            await other.RenameAsync("d\\again.txt", replaceIfExists: false);
            Assert.Equal("d\\again.txt", other.Path);
            Assert.Equal("d\\again.txt", renamer.Path);

            await other.SetDeleteOnCloseAsync(true);
            await other.DisposeAsync();
        }
        Assert.False(await ExistsAsync("d/again.txt"));
        Assert.False(await ExistsAsync("Moved.txt"));
        Assert.False(await ExistsAsync("d/a.txt"));
        Assert.Equal("stays", await ReadTextAsync("bystander.txt"));
    }

    [Fact]
    public async Task Rename_ThroughVolume_OpenHandleFollows_AndAnotherFileWithTheOldNameIsNotItsTarget()
    {
        await CreateFileAsync("old.txt", "mine");
        var (h, _) = await Volume.OpenAsync("old.txt", OpenWrite);
        await Volume.RenameAsync("old.txt", "new.txt", false);
        await CreateFileAsync("old.txt", "someone else's");
        var (newcomer, _) = await Volume.OpenAsync("old.txt", OpenRead);
        await using (newcomer)
        {
            Assert.Equal("new.txt", h.Path);
            await h.SetDeleteOnCloseAsync(true);
            await h.DisposeAsync();
            Assert.Equal("old.txt", newcomer.Path);
        }
        Assert.False(await ExistsAsync("new.txt"));
        Assert.Equal("someone else's", await ReadTextAsync("old.txt"));
    }

    [Fact]
    public async Task Rename_OfAFile_MovesItsOpenNamedStreams()
    {
        if (!Volume.Capabilities.HasFlag(StorageCapabilities.NamedStreams)) return;
        await CreateFileAsync("f.txt", "main");
        var (stream, _) = await Volume.OpenAsync("f.txt", new OpenRequest(CreateDisposition.Create, StorageAccess.ReadWrite, ObjectKind.File, Stream: "s"));
        await using (stream)
        {
            await stream.WriteAsync(0, "side"u8.ToArray());
            var (file, _) = await Volume.OpenAsync("f.txt", OpenWrite);
            await using (file)
                await file.RenameAsync("g.txt", false);
            Assert.Equal("g.txt", stream.Path);
            Assert.Equal("s", stream.StreamName);
            await stream.SetDeleteOnCloseAsync(true);
        }
        var (g, _) = await Volume.OpenAsync("g.txt", OpenMeta);
        await using (g)
            Assert.Empty(await g.GetStreamsAsync());
        Assert.Equal("main", await ReadTextAsync("g.txt"));
    }

    [Fact]
    public async Task Rename_Directory_MovesEveryHandleOpenBelowIt()
    {
        await CreateDirectoryAsync("top");
        await CreateDirectoryAsync("top/sub");
        await CreateDirectoryAsync("elsewhere");
        await CreateDirectoryAsync("topper"); // shares the prefix "top" but is not below it
        await CreateFileAsync("top/sub/deep.txt", "deep");
        await CreateFileAsync("top/gone.txt", "gone");
        await CreateFileAsync("topper/x.txt", "x");
        var (deep, _) = await Volume.OpenAsync("top/sub/deep.txt", OpenWrite);
        var (gone, _) = await Volume.OpenAsync("top/gone.txt", OpenWrite);
        var (sub, _) = await Volume.OpenAsync("top/sub", new OpenRequest(CreateDisposition.Open, StorageAccess.Read, ObjectKind.Directory));
        var (topper, _) = await Volume.OpenAsync("topper/x.txt", OpenRead);
        await using (deep)
        await using (sub)
        await using (topper)
        {
            await Volume.RenameAsync("top", "elsewhere\\Top2", false);
            Assert.Equal("elsewhere\\Top2\\sub\\deep.txt", deep.Path);
            Assert.Equal("elsewhere\\Top2\\gone.txt", gone.Path);
            Assert.Equal("elsewhere\\Top2\\sub", sub.Path);
            Assert.Equal("topper\\x.txt", topper.Path);

            // delete-on-close below the moved directory deletes the file where it now is
            await gone.SetDeleteOnCloseAsync(true);
            await gone.DisposeAsync();
            Assert.False(await ExistsAsync("elsewhere/Top2/gone.txt"));

            // a rename below it starts from the new location (the chain of the moved directory is rebased)
            await deep.RenameAsync("elsewhere\\Top2\\deeper.txt", false);
            Assert.Equal("elsewhere\\Top2\\deeper.txt", deep.Path);
            Assert.Equal(["deeper.txt", "sub"], (await ListAsync("elsewhere/top2")).Select(e => e.Name).Order(StringComparer.Ordinal).ToArray());
            Assert.Equal(["deeper.txt", "sub"], (await ListAsync(sub.Path[..sub.Path.LastIndexOf('\\')])).Select(e => e.Name).Order(StringComparer.Ordinal).ToArray());
        }
        Assert.Equal("deep", await ReadTextAsync("elsewhere/Top2/deeper.txt"));
        Assert.Equal("x", await ReadTextAsync("topper/x.txt"));
    }

    // ================================================================== delete

    [Fact]
    public async Task Delete_File_AndEmptyDirectory_ButNotANonEmptyOne()
    {
        await CreateFileAsync("f.txt");
        await Volume.DeleteAsync("F.TXT");
        Assert.False(await ExistsAsync("f.txt"));

        await CreateDirectoryAsync("full");
        await CreateFileAsync("full/x");
        await AssertErrorAsync(StorageError.DirectoryNotEmpty, () => Volume.DeleteAsync("full").AsTask());
        var (d, _) = await Volume.OpenAsync("full", OpenMeta);
        await using (d)
            await AssertErrorAsync(StorageError.DirectoryNotEmpty, () => d.SetDeleteOnCloseAsync(true).AsTask());
        Assert.True(await ExistsAsync("full/x"));

        await Volume.DeleteAsync("full/x");
        await Volume.DeleteAsync("FULL");
        Assert.False(await ExistsAsync("full"));
        await AssertErrorAsync(StorageError.NotFound, () => Volume.DeleteAsync("full").AsTask());
        Assert.Empty(await ListAsync(""));
    }

    [Fact]
    public async Task DeleteOnClose_DeletesWhenClosed_AndCanBeCleared()
    {
        var (h, _) = await Volume.OpenAsync("temp.txt", CreateFile);
        await h.SetDeleteOnCloseAsync(true);
        Assert.True(h.DeleteOnClose);
        Assert.True(await ExistsAsync("temp.txt"));
        await h.DisposeAsync();
        Assert.False(await ExistsAsync("temp.txt"));

        var (k, _) = await Volume.OpenAsync("keep.txt", CreateFile);
        await k.SetDeleteOnCloseAsync(true);
        await k.SetDeleteOnCloseAsync(false);
        await k.DisposeAsync();
        Assert.True(await ExistsAsync("keep.txt"));

        // delete-on-close follows a rename made through the handle
        var (r, _) = await Volume.OpenAsync("moving.txt", CreateFile);
        await r.SetDeleteOnCloseAsync(true);
        await r.RenameAsync("moved.txt", false);
        await r.DisposeAsync();
        Assert.DoesNotContain(await ListAsync(""), e => e.Name.StartsWith("mov", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ClosedHandle_IsHandleClosed()
    {
        var (h, _) = await Volume.OpenAsync("c.txt", CreateFile);
        await h.DisposeAsync();
        await h.DisposeAsync(); // idempotent
        await AssertErrorAsync(StorageError.HandleClosed, () => h.ReadAsync(0, new byte[1]).AsTask());
        await AssertErrorAsync(StorageError.HandleClosed, () => h.GetInfoAsync().AsTask());
    }

    // ================================================================== confinement

    [Theory]
    [InlineData("..")]
    [InlineData("../x")]
    [InlineData("a/../../x")]
    [InlineData("a\\..\\b")]
    [InlineData("/etc/passwd")]
    [InlineData("\\etc\\passwd")]
    [InlineData("C:\\Windows")]
    public async Task Confinement_DotDotAndAbsoluteNames_AreOutsideShare(string path)
    {
        await CreateDirectoryAsync("a");
        await AssertOpenErrorAsync(StorageError.OutsideShare, path, OpenRead);
        await AssertOpenErrorAsync(StorageError.OutsideShare, path, CreateFile);
        await CreateFileAsync("inside.txt");
        await AssertErrorAsync(StorageError.OutsideShare, () => Volume.RenameAsync("inside.txt", path, true).AsTask());
        Assert.True(await ExistsAsync("inside.txt"));
    }

    [Fact]
    public async Task Confinement_SymlinkToSystemDirectory_NeverGivesAccess()
    {
        var (dir, file) = OutsideSystemFile;
        await CreateSymbolicLinkAsync("etc", dir);
        await CreateSymbolicLinkAsync("pw", dir + "/" + file);
        await CreateSymbolicLinkAsync("up", "../../../../../../../../../..");
        await CreateFileAsync("visible.txt", "v");

        foreach (var p in new[] { "etc", "ETC", "etc/" + file, "pw", "up", "up/" + dir.TrimStart('/') + "/" + file })
        {
            await AssertOpenErrorAsync(StorageError.OutsideShare, p, OpenRead);
            await AssertOpenErrorAsync(StorageError.OutsideShare, p, new OpenRequest(CreateDisposition.Open, StorageAccess.Read, ObjectKind.Directory));
        }
        string probe = "smbcopy-probe-" + Guid.NewGuid().ToString("N");
        string escaped = System.IO.Path.Combine(dir, probe);
        try
        {
            await AssertOpenErrorAsync(StorageError.OutsideShare, "etc/" + probe, CreateFile);
            await AssertOpenErrorAsync(StorageError.OutsideShare, "etc/" + probe, CreateDir);
            Assert.False(File.Exists(escaped) || Directory.Exists(escaped), "a file was created outside the share");
        }
        finally
        {
            // a broken driver must not leave litter in a system directory
            if (File.Exists(escaped)) File.Delete(escaped);
            if (Directory.Exists(escaped)) Directory.Delete(escaped);
        }

        // enumerate then open: whatever is listed opens inside the share; links leading out are not listed
        var listed = await ListAsync("");
        Assert.Equal(["visible.txt"], listed.Select(e => e.Name).ToArray());
        Assert.Empty(await ListAsync("", "etc"));
        Assert.Empty(await ListAsync("", "pw"));
        foreach (var e in listed)
        {
            var (h, _) = await Volume.OpenAsync(e.Name, OpenRead);
            await h.DisposeAsync();
        }
    }

    [Fact]
    public async Task Confinement_SymlinkOutside_IsNotARenameOrCreateTarget()
    {
        await CreateSymbolicLinkAsync("out", OutsideDirectory);
        await CreateFileAsync("secret.txt", "s");
        await AssertErrorAsync(StorageError.OutsideShare, () => Volume.RenameAsync("secret.txt", "out/secret.txt", false).AsTask());
        await AssertErrorAsync(StorageError.OutsideShare, () => Volume.RenameAsync("secret.txt", "OUT\\x", true).AsTask());
        var (h, _) = await Volume.OpenAsync("secret.txt", OpenMeta);
        await using (h)
            await AssertErrorAsync(StorageError.OutsideShare, () => h.RenameAsync("out/moved.txt", true).AsTask());
        await AssertOpenErrorAsync(StorageError.OutsideShare, "out/new.txt", CreateFile);
        await AssertOpenErrorAsync(StorageError.OutsideShare, "out/newdir", CreateDir);
        await AssertErrorAsync(StorageError.OutsideShare, () => Volume.DeleteAsync("out/anything").AsTask());
        Assert.Empty(await ListOutsideAsync());
        Assert.Equal("s", await ReadTextAsync("secret.txt"));
    }

    [Fact]
    public async Task Confinement_SymlinkInsideTheShare_IsFollowed()
    {
        await CreateDirectoryAsync("real");
        await CreateFileAsync("real/target.txt", "through link");
        await CreateSymbolicLinkAsync("alias", "real");
        await CreateDirectoryAsync("deep");
        await CreateSymbolicLinkAsync("deep/back", "../real/target.txt");
        Assert.Equal("through link", await ReadTextAsync("alias/target.txt"));
        Assert.Equal("through link", await ReadTextAsync("ALIAS/TARGET.TXT"));
        Assert.Equal("through link", await ReadTextAsync("deep/back"));
        var entry = (await ListAsync("")).Single(e => e.Name == "alias");
        Assert.True(entry.Metadata.IsDirectory);
    }

    [Fact]
    public async Task Confinement_FifoAndDevice_AreRefused_AndNotListed()
    {
        await CreateFifoAsync("fifo");
        await CreateDeviceAsync("null");
        await CreateFileAsync("regular");
        foreach (var p in new[] { "fifo", "null", "NULL" })
        {
            await AssertOpenErrorAsync(StorageError.NotSupported, p, OpenRead);
            await AssertOpenErrorAsync(StorageError.NotSupported, p, OpenWrite);
            await AssertOpenErrorAsync(StorageError.NotSupported, p, new OpenRequest(CreateDisposition.OverwriteIf, StorageAccess.ReadWrite));
        }
        await AssertOpenErrorAsync(StorageError.NotSupported, "fifo", CreateFile);
        Assert.Equal(["regular"], (await ListAsync("")).Select(e => e.Name).ToArray());
    }
}
