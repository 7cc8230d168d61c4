using System.IO.Pipelines;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SmbCopy.Gateway.Configuration;
using SmbCopy.Gateway.Hosting;
using SmbCopy.Gateway.Smb.Connection;
using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Handlers.Ioctl;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Gateway.Smb.Server;
using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Storage;
using SmbCopy.Storage.Local;

namespace SmbCopy.Gateway.Tests.Smb;

/// <summary>FSCTL_CREATE_OR_GET_OBJECT_ID (MS-FSCC 2.3.8) and FSCTL_LMR_REQUEST_RESILIENCY (MS-SMB2 3.3.5.15.9).</summary>
public sealed class ObjectIdAndResiliencyFsctlTests
{
    private sealed class NoUsers : IUserDirectory
    {
        public byte[]? GetNtHash(string user) => null;
    }

    private static SmbServer NewServer() => new(Options.Create(new SmbCopyOptions()),
        new ServerIdentity { ServerGuid = Guid.NewGuid(), ServerName = "SRV", StartTime = DateTimeOffset.UnixEpoch },
        new NoUsers(), Array.Empty<ISmb2Handler>(), Array.Empty<SmbCopy.Storage.IStorageDriver>(), NullLoggerFactory.Instance, TimeProvider.System);

    [Fact]
    public async Task The_object_id_buffer_is_stable_per_file()
    {
        // compound.related3 sends it in a CREATE/IOCTL/CLOSE chain and expects success (Windows, Samba).
        string dir = Path.Combine(Path.GetTempPath(), "smbcopy-oid-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(dir);
        try
        {
            await using var volume = await new LocalStorageDriver().OpenVolumeAsync(new StorageVolumeOptions("data", dir, false, new Dictionary<string, string?>()));
            var server = NewServer();
            var connection = new SmbConnection(server, new Pipe().Writer, null, () => { }, NullLogger.Instance);
            connection.MarkNegotiated(Smb2Dialect.Smb311);
            var tree = new TreeConnect(1, SmbShare.Ipc(), 0x1F01FF, server.CreateSession(connection));
            var nodes = new FileNodeTable();
            async Task<byte[]> ObjectIdAsync(string name)
            {
                var (handle, _) = await volume.OpenAsync(name, new OpenRequest(SmbCopy.Storage.CreateDisposition.OpenIf, StorageAccess.ReadWrite, ObjectKind.File));
                var open = new FileOpen(1, 1, tree, AccessMask.GenericAll, ShareAccess.Read, handle, nodes.Acquire(handle.FileId), volume);
                var result = await new CreateOrGetObjectIdFsctl().HandleAsync(new FsctlContext
                {
                    Request = new Smb2Request { Connection = connection, Server = server, Header = new Smb2Header { Command = Smb2Command.Ioctl }, Message = new byte[64] },
                    Ioctl = new IoctlRequest(FsctlCodes.CreateOrGetObjectId, new Smb2FileId(1, 1), 120, default, 0, 0, default, 64, 1),
                    Open = open,
                });
                await handle.DisposeAsync();
                Assert.Equal(NtStatus.Success, result.Status);
                return result.Output.ToArray();
            }

            byte[] first = await ObjectIdAsync("a.txt");
            byte[] again = await ObjectIdAsync("a.txt");
            byte[] other = await ObjectIdAsync("b.txt");

            Assert.Equal(64, first.Length);                                   // FILE_OBJECTID_BUFFER (MS-FSCC 2.1.3.1)
            Assert.Equal(first, again);                                       // "get" returns what "create" made
            Assert.NotEqual(first.AsSpan(0, 16).ToArray(), other.AsSpan(0, 16).ToArray());
            Assert.Equal(first.AsSpan(0, 16).ToArray(), first.AsSpan(32, 16).ToArray()); // BirthObjectId = ObjectId
        }
        finally
        {
            System.IO.Directory.Delete(dir, true);
        }
    }

    [Theory]
    [InlineData(Smb2Dialect.Smb311, NtStatus.NotSupported)]
    [InlineData(Smb2Dialect.Smb210, NtStatus.NotSupported)]
    [InlineData(Smb2Dialect.Smb202, NtStatus.InvalidDeviceRequest)]
    public async Task Resiliency_is_refused_as_a_server_without_resilient_handles_refuses_it(Smb2Dialect dialect, NtStatus expected)
    {
        var server = NewServer();
        var connection = new SmbConnection(server, new Pipe().Writer, null, () => { }, NullLogger.Instance);
        connection.MarkNegotiated(dialect);
        byte[] input = [0xE8, 0x03, 0, 0, 0, 0, 0, 0]; // NETWORK_RESILIENCY_REQUEST: 1000 ms
        var context = new FsctlContext
        {
            Request = new Smb2Request { Connection = connection, Server = server, Header = new Smb2Header { Command = Smb2Command.Ioctl }, Message = new byte[64] },
            Ioctl = new IoctlRequest(FsctlCodes.LmrRequestResiliency, new Smb2FileId(1, 1), 120, input, 0, 0, default, 0, 1),
        };

        var result = await new RequestResiliencyFsctl().HandleAsync(context);

        Assert.Equal(expected, result.Status);
    }
}
