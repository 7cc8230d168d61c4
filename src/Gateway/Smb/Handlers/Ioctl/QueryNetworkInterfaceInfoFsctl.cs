using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Gateway.Smb.Handlers.Ioctl;

/// <summary>
/// FSCTL_QUERY_NETWORK_INTERFACE_INFO (MS-SMB2 3.3.5.15.11): the host's interfaces that the SMB
/// listener is reachable on. Multichannel is not offered, so clients use this only for information.
/// </summary>
public sealed class QueryNetworkInterfaceInfoFsctl : IFsctlHandler
{
    public uint CtlCode => FsctlCodes.QueryNetworkInterfaceInfo;
    public bool TakesNoFileId => true;

    public ValueTask<FsctlResult> HandleAsync(FsctlContext context)
    {
        var list = new List<NetworkInterfaceInfo>();
        var listen = IPAddress.TryParse(context.Request.Server.Options.Smb.Address, out var a) ? a : IPAddress.Any;
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (nic.OperationalStatus != OperationalStatus.Up) continue;
            var props = nic.GetIPProperties();
            int index = nic.Supports(NetworkInterfaceComponent.IPv4) ? props.GetIPv4Properties()?.Index ?? 0 : 0;
            foreach (var unicast in props.UnicastAddresses)
            {
                var address = unicast.Address;
                if (address.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)) continue;
                if (!listen.Equals(IPAddress.Any) && !listen.Equals(IPAddress.IPv6Any) && !listen.Equals(address)) continue;
                ulong speed = nic.Speed > 0 ? (ulong)nic.Speed : 10_000_000_000UL;
                list.Add(new NetworkInterfaceInfo((uint)Math.Max(index, 1), 0, speed, address));
            }
        }
        if (list.Count == 0) return ValueTask.FromResult(FsctlResult.Error(NtStatus.NotSupported));
        var w = new WireWriter(152 * list.Count);
        NetworkInterfaceInfo.WriteList(w, list);
        return ValueTask.FromResult(FsctlResult.Ok(w.ToArray()));
    }
}
