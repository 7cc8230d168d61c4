using SmbCopy.Protocol.Security;

namespace SmbCopy.Protocol.Tests.Security;

/// <summary>RFC 4493 section 4 test vectors (AES-128 key 2b7e1516…).</summary>
public class AesCmacTests
{
    private static readonly byte[] Key = Hex.Bytes("2b7e151628aed2a6abf7158809cf4f3c");
    private const string M64 =
        "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51 30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710";

    [Theory]
    [InlineData(0, "bb1d6929e95937287fa37d129b756746")]
    [InlineData(16, "070a16b46b4d4144f79bdd9dd04a287c")]
    [InlineData(40, "dfa66747de9ae63030ca32611497c827")]
    [InlineData(64, "51f0bebf7e3b9d92fc49741779363cfe")]
    public void Rfc4493_Example(int length, string expected)
    {
        var message = Hex.Bytes(M64)[..length];
        Assert.Equal(expected.ToUpperInvariant(), Hex.Of(AesCmac.Compute(Key, message)));
    }
}
