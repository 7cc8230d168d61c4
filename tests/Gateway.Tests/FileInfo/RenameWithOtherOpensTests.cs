using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text;
using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Gateway.Smb.Files.Info;
using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Gateway.Tests.Kit;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
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
    private const AccessMask All = AccessMask.FileAllAccess;
    private const ShareAccess ShareAll = ShareAccess.Read | ShareAccess.Write | ShareAccess.Delete;

    private readonly LocalShareKit _kit = new("rename-opens-");
    private readonly Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: 0));
    private readonly LocalShareClient _client;

    public RenameWithOtherOpensTests() => _client = _kit.LogOn(output: _pipe.Writer);

    public async ValueTask DisposeAsync()
    {
        await _client.Session.CloseAllAsync();
        await _pipe.Writer.CompleteAsync();
        await _kit.DisposeAsync();
    }

    private async Task<FileOpen> OpenAsync(string name)
    {
        var create = new CreateRequest(0, OplockLevel.None, 2, 0, All, FileAttributes.Normal, ShareAll, Disposition.Open,
            CreateOptions.None, name, []);
        var (status, open, body) = await FileCreate.OpenAsync(_client.Request(Smb2Command.Create), create);
        body?.Dispose();
        Assert.Equal(NtStatus.Success, status);
        return open!;
    }

    private async Task CloseAsync(FileOpen open)
    {
        Assert.True(_client.Session.Opens.TryRemove(open.VolatileId, out _));
        await open.CloseAsync();
    }

    /// <summary>SET_INFO FileRenameInformation (MS-FSCC 2.4.37.2, SMB2 layout) as a client sends it.</summary>
    private Task<NtStatus> RenameAsync(FileOpen open, string target)
    {
        byte[] name = Encoding.Unicode.GetBytes(target);
        var buffer = new byte[FileRenameInformation.MinimumSize + name.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(16), (uint)name.Length);
        name.CopyTo(buffer, 20);
        return FileInfoUpdates.SetAsync(_kit.Server, open, FileInformationClass.Rename, buffer, default).AsTask();
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
        Directory.CreateDirectory(Path.Combine(_kit.Root, "dir"));
        File.WriteAllText(Path.Combine(_kit.Root, "dir", "a.txt"), "data");
        File.WriteAllText(Path.Combine(_kit.Root, "bystander.txt"), "stays");
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
        Assert.Equal(NtStatus.Success, await FileInfoUpdates.SetAsync(_kit.Server, other, FileInformationClass.Disposition, new byte[] { 1 }, default));
        await CloseAsync(renamer);
        Assert.True(File.Exists(Path.Combine(_kit.Root, "moved.txt")));
        await CloseAsync(other);

        Assert.False(File.Exists(Path.Combine(_kit.Root, "moved.txt")));
        Assert.False(File.Exists(Path.Combine(_kit.Root, "dir", "a.txt")));
        Assert.Equal("stays", File.ReadAllText(Path.Combine(_kit.Root, "bystander.txt")));
    }

    [Fact]
    public async Task A_rename_through_another_open_starts_from_the_new_name()
    {
        File.WriteAllText(Path.Combine(_kit.Root, "one.txt"), "data");
        var first = await OpenAsync("one.txt");
        var second = await OpenAsync("one.txt");

        Assert.Equal(NtStatus.Success, await RenameAsync(first, "two.txt"));
        Assert.Equal(NtStatus.Success, await RenameAsync(second, "three.txt"));
        Assert.Equal(@"\three.txt", await QueryNameAsync(first));
        await CloseAsync(first);
        await CloseAsync(second);

        Assert.Equal(["three.txt"], Directory.GetFiles(_kit.Root).Select(f => Path.GetFileName(f)!).ToArray());
        Assert.Equal("data", File.ReadAllText(Path.Combine(_kit.Root, "three.txt")));
    }
}
