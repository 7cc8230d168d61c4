using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Gateway.Smb.Handlers.Ioctl;
using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Gateway.Tests.Kit;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Storage;

namespace SmbCopy.Gateway.Tests.Smb;

/// <summary>FSCTL_CREATE_OR_GET_OBJECT_ID (MS-FSCC 2.3.8) and FSCTL_LMR_REQUEST_RESILIENCY (MS-SMB2 3.3.5.15.9).</summary>
public sealed class ObjectIdAndResiliencyFsctlTests
{
    [Fact]
    public async Task The_object_id_buffer_is_stable_per_file()
    {
        // compound.related3 sends it in a CREATE/IOCTL/CLOSE chain and expects success (Windows, Samba).
        await using var kit = await LocalVolumeKit.CreateAsync("smbcopy-oid-");
        var nodes = new FileNodeTable();
        async Task<byte[]> ObjectIdAsync(string name)
        {
            var handle = await kit.OpenHandleAsync(name);
            var open = new FileOpen(1, 1, kit.Tree, AccessMask.GenericAll, ShareAccess.Read, handle, nodes.Acquire(handle.FileId), kit.Volume);
            var result = await new CreateOrGetObjectIdFsctl().HandleAsync(new FsctlContext
            {
                Request = new Smb2Request { Connection = kit.Connection, Server = kit.Server, Header = new Smb2Header { Command = Smb2Command.Ioctl }, Message = new byte[64] },
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

    [Theory]
    [InlineData(Smb2Dialect.Smb311, NtStatus.NotSupported)]
    [InlineData(Smb2Dialect.Smb210, NtStatus.NotSupported)]
    [InlineData(Smb2Dialect.Smb202, NtStatus.InvalidDeviceRequest)]
    public async Task Resiliency_is_refused_as_a_server_without_resilient_handles_refuses_it(Smb2Dialect dialect, NtStatus expected)
    {
        var server = TestGateway.Server();
        var connection = TestGateway.Connect(server, dialect);
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
