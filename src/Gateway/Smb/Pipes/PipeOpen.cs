using SmbCopy.Gateway.Smb.Sessions;
using SmbCopy.Protocol.Rpc;

namespace SmbCopy.Gateway.Smb.Pipes;

/// <summary>An open of a named pipe on IPC$ (MS-SMB2 3.3.5.9 with a pipe share): today only srvsvc.</summary>
public sealed class PipeOpen(ulong persistentId, ulong volatileId, TreeConnect tree, uint grantedAccess, string pipeName, SrvsvcPipe endpoint)
    : SmbOpen(persistentId, volatileId, tree, grantedAccess)
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    public string PipeName { get; } = pipeName;
    public override string DisplayName => @"\PIPE\" + PipeName;

    /// <summary>Runs <paramref name="action"/> with the RPC endpoint, one call at a time (the endpoint is not thread-safe).</summary>
    public async ValueTask<T> UseAsync<T>(Func<SrvsvcPipe, T> action)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try { return action(endpoint); }
        finally { _gate.Release(); }
    }

    public override ValueTask CloseAsync() => ValueTask.CompletedTask;
}
