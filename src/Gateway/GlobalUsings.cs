// The protocol's FSCC names win over System.IO's and Storage's equally named types in the gateway;
// storage's are written with their namespace where they are meant.
global using FileAttributes = SmbCopy.Protocol.Fscc.FileAttributes;
global using CreateDisposition = SmbCopy.Protocol.Fscc.CreateDisposition;
