// The end-to-end tests drive Linux tools (smbclient, smbtorture, dumpcap, the Samba rig) as root.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
