using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Protocol.Tests.Fscc;

public class FullEaInformationTests
{
    [Fact]
    public void WrittenListsParseBackWithFourByteAlignedEntries()
    {
        var entries = new List<FullEaEntry> { new(0, "EAONE", "VALUE1"u8.ToArray()), new(FullEaEntry.NeedEa, "SECONDEA", "ValueTwo"u8.ToArray()) };
        using var w = new WireWriter();
        FullEaInformation.Write(w, entries);
        var bytes = w.ToArray();
        // EAONE: 8 + 5 + 1 + 6 = 20 (already aligned); SECONDEA: 8 + 8 + 1 + 8 = 25, the last entry is not padded.
        Assert.Equal(20u, BitConverter.ToUInt32(bytes, 0));
        Assert.Equal(45, bytes.Length);
        Assert.Equal(20 + 28, FullEaInformation.PackedSize(entries));
        var parsed = FullEaInformation.Parse(bytes);
        Assert.NotNull(parsed);
        Assert.Equal(["EAONE", "SECONDEA"], parsed!.Select(e => e.Name).ToArray());
        Assert.Equal("ValueTwo"u8.ToArray(), parsed[1].Value);
        Assert.Equal(FullEaEntry.NeedEa, parsed[1].Flags);
    }

    [Theory]
    [InlineData(new byte[] { 0, 0, 0, 0, 0, 3, 0, 0, (byte)'A', (byte)'B' })]                    // name runs past the end
    [InlineData(new byte[] { 0, 0, 0, 0, 0, 2, 0, 0, (byte)'A', (byte)'B', (byte)'C' })]         // no NUL after the name
    [InlineData(new byte[] { 0, 0, 0, 0, 0, 1, 9, 0, (byte)'A', 0, 1 })]                          // value past the end
    [InlineData(new byte[] { 6, 0, 0, 0, 0, 1, 0, 0, (byte)'A', 0, 0, 0 })]                       // next offset not aligned
    [InlineData(new byte[] { 4, 0, 0, 0, 0, 1, 0, 0, (byte)'A', 0, 0, 0 })]                       // next offset inside the entry
    [InlineData(new byte[] { 64, 0, 0, 0, 0, 1, 0, 0, (byte)'A', 0, 0, 0 })]                      // next offset past the buffer
    [InlineData(new byte[] { 0, 0, 0 })]                                                          // shorter than a header
    public void InconsistentListsAreRefused(byte[] buffer) => Assert.Null(FullEaInformation.Parse(buffer));

    [Fact]
    public void GetEaListsParseAndCheckBounds()
    {
        byte[] list = [8, 0, 0, 0, 1, (byte)'A', 0, 0, 0, 0, 0, 0, 2, (byte)'B', (byte)'C', 0];
        Assert.Equal(["A", "BC"], FullEaInformation.ParseGetList(list));
        Assert.Null(FullEaInformation.ParseGetList([0, 0, 0, 0, 5, (byte)'A', 0]));
    }

    [Fact]
    public void RandomAndMutatedInputNeverThrows()
    {
        var rng = new Random(1234);
        using var w = new WireWriter();
        FullEaInformation.Write(w, [new(0, "A", [1, 2]), new(0, "BB", [3]), new(0, "CCC", [])]);
        byte[] valid = w.ToArray();
        for (int i = 0; i < 20_000; i++)
        {
            byte[] input;
            if (i % 2 == 0)
            {
                input = new byte[rng.Next(0, 64)];
                rng.NextBytes(input);
            }
            else
            {
                input = (byte[])valid.Clone();
                input[rng.Next(input.Length)] = (byte)rng.Next(256);
                if (rng.Next(4) == 0) input = input[..rng.Next(input.Length)];
            }
            var list = FullEaInformation.Parse(input);
            if (list is not null) Assert.All(list, e => Assert.True(e.Size <= input.Length));
            FullEaInformation.ParseGetList(input);
        }
    }

    [Theory]
    [InlineData("EAONE", true)]
    [InlineData("user.name-1", true)]
    [InlineData("", false)]
    [InlineData("A*B", false)]
    [InlineData("A:B", false)]
    [InlineData("TAB\t", false)]
    [InlineData("é", false)]
    public void EaNamesFollowWindowsRules(string name, bool valid) => Assert.Equal(valid, FullEaInformation.IsValidName(name));
}
