// smbcopy: the SMB 2/3 gateway. Everything lives in Hosting/GatewayHost; see `smbcopy --help`.
return await SmbCopy.Gateway.Hosting.GatewayHost.RunAsync(args).ConfigureAwait(false);
