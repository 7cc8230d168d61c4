using SmbCopy.Gateway.Smb.Server;
using SmbCopy.Protocol.Rpc;

namespace SmbCopy.Gateway.Smb.Pipes;

/// <summary>The named pipes IPC$ offers and how each is served.</summary>
public static class PipeEndpoints
{
    /// <summary>A new endpoint for <paramref name="name"/>, or null when no such pipe exists (OBJECT_NAME_NOT_FOUND).</summary>
    public static SrvsvcPipe? Open(string name, SmbServer server)
    {
        if (!SrvsvcPipe.IsPipeName(name)) return null;
        return new SrvsvcPipe(
            () => server.Shares.All
                .Select(s => new RpcShareInfo(s.Name, s.IsPipe ? 0x80000003u : 0u, s.Remark))
                .ToList(),
            new RpcServerInfo(server.Identity.ServerName, "SmbCopy server-side copy gateway"));
    }
}
