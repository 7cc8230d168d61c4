using SmbCopy.Fuzz;

namespace SmbCopy.Protocol.Tests.FuzzRegression;

/// <summary>
/// Every input the fuzz harness (tests/Fuzz, docs/fuzzing.md) ever crashed on is kept in
/// tests/Fuzz/regressions/ and replayed here through the same entry point, FuzzTarget.Check:
/// the parser must return or throw MalformedMessageException, nothing else, and must not allocate
/// out of proportion to the input. A new file fails here until the parser is fixed, as it should.
/// The committed seed corpus is replayed too: seeds are valid messages and must parse outright.
/// </summary>
public class FuzzRegressionTests
{
    private const string NoFiles = "(none)";

    public static TheoryData<string> Regressions() => Files("regressions");

    public static TheoryData<string> Seeds() => Files("seeds");

    [Theory]
    [MemberData(nameof(Regressions))]
    public void Regression_input_parses_or_is_rejected_as_malformed(string name)
    {
        if (name == NoFiles) return;
        var data = File.ReadAllBytes(Path.Combine(FuzzDir(), "regressions", name));
        FuzzTarget.Check(data);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Seed_parses_cleanly(string name)
    {
        if (name == NoFiles) return;
        var data = File.ReadAllBytes(Path.Combine(FuzzDir(), "seeds", name));
        Assert.Null(FuzzTarget.Check(data));
    }

    [Fact]
    public void Generated_seeds_cover_every_target_and_parse_cleanly()
    {
        var seeds = FuzzSeeds.All().ToList();
        var covered = seeds.Select(s => (byte)(s.Data[0] & 0x7F)).ToHashSet();
        foreach (var (id, name) in FuzzTarget.All)
            Assert.True(covered.Contains(id), $"no seed for target 0x{id:X2} {name}");
        foreach (var (name, data) in seeds)
            Assert.True(FuzzTarget.Check(data) is null, $"seed {name} is rejected as malformed");
    }

    [Fact]
    public void Unknown_selector_and_empty_input_are_no_ops()
    {
        FuzzTarget.Run([]);
        FuzzTarget.Run([0x7F, 1, 2, 3]);
    }

    private static TheoryData<string> Files(string folder)
    {
        var data = new TheoryData<string>();
        var dir = Path.Combine(FuzzDir(), folder);
        var names = Directory.Exists(dir)
            ? Directory.GetFiles(dir, "*.bin").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList()
            : [];
        foreach (var n in names) data.Add(n);
        if (names.Count == 0) data.Add(NoFiles);   // xunit refuses a theory without rows
        return data;
    }

    private static string FuzzDir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "Fuzz");
            if (File.Exists(Path.Combine(candidate, "FuzzTarget.cs"))) return candidate;
        }
        throw new DirectoryNotFoundException($"tests/Fuzz not found above {AppContext.BaseDirectory}");
    }
}
