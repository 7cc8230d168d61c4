using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SmbCopy.Gateway.Configuration;
using SmbCopy.Gateway.Hosting;
using SmbCopy.Gateway.Smb.Connection;
using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Gateway.Smb.Files.Info;
using SmbCopy.Gateway.Smb.Server;
using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Storage.Local;
using Disposition = SmbCopy.Protocol.Fscc.CreateDisposition;
using FileAttributes = SmbCopy.Protocol.Fscc.FileAttributes;

namespace SmbCopy.Gateway.Tests.FileInfo;

/// <summary>
/// A rename through one open is seen by every other open of the file (MS-FSA 2.1.5.14.11: the rename changes the
/// file's name, not the open's): name queries through the others answer the new name, and a delete-pending set
/// through another open deletes the file where it now is at the last close — on a real share through FileCreate,
/// SET_INFO and QUERY_INFO.
/// </summary>
public sealed class RenameWithOtherOpensTests : IAsyncDisposable
{
    private sealed class NoUsers : IUserDirectory
    {
        public byte[]? GetNtHash(string user) => null;
    }

    private const AccessMask All = AccessMask.FileAllAccess;
    private const ShareAccess ShareAll = ShareAccess.Read | ShareAccess.Write | ShareAccess.Delete;

    private readonly string _root = Directory.CreateTempSubdirectory("rename-opens-").FullName;
    private readonly SmbServer _server;
    private readonly Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: 0));
    private readonly SmbConnection _connection;
    private readonly SmbSession _session;
    private readonly TreeConnect _tree;

    public RenameWithOtherOpensTests()
    {
        var options = new SmbCopyOptions();
        options.Shares.Add(new ShareOptions { Name = "data", Path = _root });
        _server = new SmbServer(Options.Create(options),
            new ServerIdentity { ServerGuid = Guid.NewGuid(), ServerName = "SRV", StartTime = DateTimeOffset.UnixEpoch },
            new NoUsers(), Array.Empty<ISmb2Handler>(), [new LocalStorageDriver()], NullLoggerFactory.Instance, TimeProvider.System);
        _connection = new SmbConnection(_server, _pipe.Writer, null, () => { }, NullLogger.Instance);
        _connection.MarkNegotiated(Smb2Dialect.Smb311);
        _connection.ClientGuid = Guid.NewGuid();
        _session = _server.CreateSession(_connection);
        _connection.Sessions[_session.SessionId] = _session;
        _session.UserName = "alice";
        _session.Domain = "WORKGROUP";
        _session.State = SessionState.Valid;
        _tree = new TreeConnect(_session.NextTreeId(), _server.Shares.Find("data")!, (uint)AccessMask.FileAllAccess, _session);
        _session.Trees[_tree.TreeId] = _tree;
    }

    public async ValueTask DisposeAsync()
    {
        await _session.CloseAllAsync();
        await _pipe.Writer.CompleteAsync();
        _server.DurableOpens.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private async Task<FileOpen> OpenAsync(string name)
    {
        var create = new CreateRequest(0, OplockLevel.None, 2, 0, All, FileAttributes.Normal, ShareAll, Disposition.Open,
            CreateOptions.None, name, []);
        var request = new Smb2Request
        {
            Connection = _connection,
            Server = _server,
            Header = new Smb2Header { Command = Smb2Command.Create },
            Message = new byte[Smb2Header.Size],
            Session = _session,
            Tree = _tree,
        };
        var (status, open, body) = await FileCreate.OpenAsync(request, create);
        body?.Dispose();
        Assert.Equal(NtStatus.Success, status);
        return open!;
    }

    private async Task CloseAsync(FileOpen open)
    {
        Assert.True(_session.Opens.TryRemove(open.VolatileId, out _));
        await open.CloseAsync();
    }

    /// <summary>SET_INFO FileRenameInformation (MS-FSCC 2.4.37.2, SMB2 layout) as a client sends it.</summary>
    private Task<NtStatus> RenameAsync(FileOpen open, string target)
    {
        byte[] name = Encoding.Unicode.GetBytes(target);
        var buffer = new byte[FileRenameInformation.MinimumSize + name.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(16), (uint)name.Length);
        name.CopyTo(buffer, 20);
        return FileInfoUpdates.SetAsync(_server, open, FileInformationClass.Rename, buffer, default).AsTask();
    }

    private static async Task<string> QueryNameAsync(FileOpen open)
    {
        var answer = await FileInfoQueries.QueryAsync(open, FileInformationClass.Name, Smb2Dialect.Smb311, default);
        Assert.Equal(NtStatus.Success, answer.Status);
        int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(answer.Data);
        return Encoding.Unicode.GetString(answer.Data, 4, length);
    }

    [Fact]
    public async Task Another_open_reports_the_new_name_and_its_delete_pending_deletes_the_renamed_file()
    {
        Directory.CreateDirectory(Path.Combine(_root, "dir"));
        File.WriteAllText(Path.Combine(_root, "dir", "a.txt"), "data");
        File.WriteAllText(Path.Combine(_root, "bystander.txt"), "stays");
        var renamer = await OpenAsync(@"dir\a.txt");
        var other = await OpenAsync(@"dir\a.txt");

        Assert.Equal(NtStatus.Success, await RenameAsync(renamer, @"moved.txt"));
        Assert.Equal(@"\moved.txt", await QueryNameAsync(renamer));
        Assert.Equal(@"\moved.txt", await QueryNameAsync(other));
        var all = await FileInfoQueries.QueryAsync(other, FileInformationClass.All, Smb2Dialect.Smb311, default);
        Assert.Equal(NtStatus.Success, all.Status);
        Assert.EndsWith(@"\moved.txt", Encoding.Unicode.GetString(all.Data, 100, all.Data.Length - 100), StringComparison.Ordinal);

        // FileDispositionInformation through the other open; the renamer closes first, so the delete happens when
        // the other open (the last one) closes, by its handle.
        Assert.Equal(NtStatus.Success, await FileInfoUpdates.SetAsync(_server, other, FileInformationClass.Disposition, new byte[] { 1 }, default));
        await CloseAsync(renamer);
        Assert.True(File.Exists(Path.Combine(_root, "moved.txt")));
        await CloseAsync(other);

        Assert.False(File.Exists(Path.Combine(_root, "moved.txt")));
        Assert.False(File.Exists(Path.Combine(_root, "dir", "a.txt")));
        Assert.Equal("stays", File.ReadAllText(Path.Combine(_root, "bystander.txt")));
    }

    [Fact]
    public async Task A_rename_through_another_open_starts_from_the_new_name()
    {
        File.WriteAllText(Path.Combine(_root, "one.txt"), "data");
        var first = await OpenAsync("one.txt");
        var second = await OpenAsync("one.txt");

        Assert.Equal(NtStatus.Success, await RenameAsync(first, "two.txt"));
        Assert.Equal(NtStatus.Success, await RenameAsync(second, "three.txt"));
        Assert.Equal(@"\three.txt", await QueryNameAsync(first));
        await CloseAsync(first);
        await CloseAsync(second);

        Assert.Equal(["three.txt"], Directory.GetFiles(_root).Select(f => Path.GetFileName(f)!).ToArray());
        Assert.Equal("data", File.ReadAllText(Path.Combine(_root, "three.txt")));
    }
}
