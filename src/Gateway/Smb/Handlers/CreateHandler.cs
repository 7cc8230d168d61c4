using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Durable;
using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Gateway.Smb.Pipes;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Gateway.Smb.Handlers;

/// <summary>
/// SMB2 CREATE (MS-SMB2 3.3.5.9): request validation common to pipes and files, then a named-pipe
/// open on IPC$ or a file open through <see cref="FileCreate"/>.
/// </summary>
public sealed class CreateHandler : ISmb2Handler
{
    private const uint MaxImpersonationLevel = 3; // Delegate
    private const NtStatus BadImpersonationLevel = (NtStatus)0xC00000A5;
    private const uint ValidCreateOptions = 0x00FFFFFF;
    private const FileAttributes ValidAttributes = (FileAttributes)0x00007FB7;

    public Smb2Command Command => Smb2Command.Create;
    public HandlerRequirements Requirements => HandlerRequirements.Tree;

    public async ValueTask<Smb2Response> HandleAsync(Smb2Request request)
    {
        var create = CreateRequest.Parse(request.Message, Smb2Header.Size);
        var tree = request.Tree!;
        if (!tree.Share.IsPipe)
        {
            // Durable contexts first: a reconnect ignores every other field of the request (3.3.5.9.7, 3.3.5.9.12).
            var (durableStatus, durable) = DurableRequest.Parse(create, request.Connection.Dialect);
            if (durableStatus != NtStatus.Success) return Smb2Response.Error(durableStatus);
            if (durable.IsReconnect) return await DurableOpens.ReconnectAsync(request, durable).ConfigureAwait(false);
            if (await DurableOpens.TryReplayAsync(request, durable).ConfigureAwait(false) is { } replayed) return replayed;
        }
        var invalid = Validate(create);
        if (invalid != NtStatus.Success) return Smb2Response.Error(invalid);

        if (tree.Share.IsPipe) return CreatePipe(request, create);

        var (status, open, body) = await FileCreate.OpenAsync(request, create).ConfigureAwait(false);
        if (status != NtStatus.Success || open is null) return Smb2Response.Error(status);
        var response = Smb2Response.Ok(body!);
        response.CreatedOpen = open;
        return response;
    }

    /// <summary>Checks of 3.3.5.9 that need no file system, in Windows' order.</summary>
    private static NtStatus Validate(in CreateRequest create)
    {
        if (create.ImpersonationLevel > MaxImpersonationLevel) return BadImpersonationLevel;
        var options = create.CreateOptions;
        if (((uint)options & ~ValidCreateOptions) != 0) return NtStatus.InvalidParameter;
        if ((options & CreateOptions.DirectoryFile) != 0 && (options & CreateOptions.NonDirectoryFile) != 0) return NtStatus.InvalidParameter;
        if ((options & (CreateOptions.OpenByFileId | CreateOptions.ReserveOpfilter)) != 0) return NtStatus.NotSupported;
        if ((uint)create.CreateDisposition > (uint)CreateDisposition.OverwriteIf) return NtStatus.InvalidParameter;
        if ((create.FileAttributes & ~ValidAttributes) != 0) return NtStatus.InvalidParameter;
        if ((options & CreateOptions.DirectoryFile) != 0 &&
            create.CreateDisposition is not (CreateDisposition.Create or CreateDisposition.Open or CreateDisposition.OpenIf))
            return NtStatus.InvalidParameter;
        if (create.DesiredAccess == AccessMask.None) return NtStatus.AccessDenied;
        if (((uint)create.DesiredAccess & 0x0CE0FE00) != 0) return NtStatus.AccessDenied; // reserved bits
        if (create.Name.StartsWith('\\')) return NtStatus.InvalidParameter;
        return NtStatus.Success;
    }

    private static Smb2Response CreatePipe(Smb2Request request, in CreateRequest create)
    {
        var session = request.Session!;
        var endpoint = PipeEndpoints.Open(create.Name, request.Server);
        if (endpoint is null) return Smb2Response.Error(NtStatus.ObjectNameNotFound);
        ulong id = session.NextVolatileId();
        var access = create.DesiredAccess.MapGenericToFile();
        if (access.HasFlag(AccessMask.MaximumAllowed)) access = AccessMask.FileAllAccess;
        var open = new PipeOpen(id, id, request.Tree!, (uint)access, create.Name, endpoint);
        session.Opens[id] = open;
        var w = new WireWriter(128);
        new CreateResponse
        {
            CreateAction = CreateAction.Opened,
            FileAttributes = FileAttributes.Normal,
            FileId = new Smb2FileId(open.PersistentId, open.VolatileId),
        }.WriteTo(w);
        var response = Smb2Response.Ok(w);
        response.CreatedOpen = open;
        return response;
    }
}
