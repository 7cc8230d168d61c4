using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Macs;
using Org.BouncyCastle.Crypto.Parameters;

namespace SmbCopy.Protocol.Security;

/// <summary>AES-CMAC (RFC 4493) over BouncyCastle; a fresh MAC object per call, so it is safe from any thread.</summary>
internal static class AesCmac
{
    public static CMac Create(ReadOnlySpan<byte> key)
    {
        var cmac = new CMac(new AesEngine());
        cmac.Init(new KeyParameter(key));
        return cmac;
    }

    public static byte[] Compute(ReadOnlySpan<byte> key, ReadOnlySpan<byte> message)
    {
        var cmac = Create(key);
        cmac.BlockUpdate(message);
        var mac = new byte[16];
        cmac.DoFinal(mac);
        return mac;
    }
}
