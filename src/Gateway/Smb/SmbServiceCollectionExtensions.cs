using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Handlers;
using SmbCopy.Gateway.Smb.Server;

namespace SmbCopy.Gateway.Smb;

public static class SmbServiceCollectionExtensions
{
    /// <summary>Registers the SMB server's services (server state, handlers). The host wires the listener.</summary>
    public static IServiceCollection AddSmbServer(this IServiceCollection services)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<SmbServer>();
        services.AddSingleton<ISmb2Handler, NegotiateHandler>();
        services.AddSingleton<ISmb2Handler, SessionSetupHandler>();
        services.AddSingleton<ISmb2Handler, LogoffHandler>();
        services.AddSingleton<ISmb2Handler, TreeConnectHandler>();
        services.AddSingleton<ISmb2Handler, TreeDisconnectHandler>();
        services.AddSingleton<ISmb2Handler, EchoHandler>();
        services.AddSingleton<ISmb2Handler, CancelHandler>();
        return services;
    }
}
