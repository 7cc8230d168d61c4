using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Gateway.Smb.Handlers.Ioctl;
using SmbCopy.Gateway.Smb.Server;
using SmbCopy.Storage;
using SmbCopy.Storage.Local;

namespace SmbCopy.Gateway.Smb;

public static class SmbServiceCollectionExtensions
{
    /// <summary>
    /// Registers the SMB server's services: server state, storage drivers, and every command and FSCTL
    /// handler of this assembly (one class each, found by type so that adding one needs no edit here).
    /// </summary>
    public static IServiceCollection AddSmbServer(this IServiceCollection services)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<SmbServer>();
        // The SMB listener's own Kestrel transport (SmbListenEndPoint); HTTP keeps Kestrel's socket transport.
        services.AddSingleton<Microsoft.AspNetCore.Connections.IConnectionListenerFactory, Transport.SmbSocketTransportFactory>();
        services.AddSingleton<IStorageDriver>(sp => new LocalStorageDriver(sp.GetService<ILoggerFactory>()));
        services.AddSingleton<IStorageDriver>(sp => new SmbCopy.Storage.Nfs.NfsStorageDriver(sp.GetService<ILoggerFactory>()));
        services.AddSingleton<IStorageDriver>(sp => new SmbCopy.Storage.Iscsi.IscsiStorageDriver(sp.GetService<ILoggerFactory>()));
        foreach (var type in typeof(SmbServiceCollectionExtensions).Assembly.GetTypes())
        {
            if (type.IsAbstract || type.IsInterface) continue;
            if (typeof(ISmb2Handler).IsAssignableFrom(type)) services.AddSingleton(typeof(ISmb2Handler), type);
            if (typeof(IFsctlHandler).IsAssignableFrom(type)) services.AddSingleton(typeof(IFsctlHandler), type);
        }
        return services;
    }
}
