using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using SharpFuzz;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Fuzz;

/// <summary>
/// Modes (docs/fuzzing.md):
///   (no argument) | --afl           SharpFuzz out-of-process AFL fork server (run under afl-fuzz; see run.sh)
///   --libfuzzer                     SharpFuzz libFuzzer driver (run under libfuzzer-dotnet)
///   --write-seeds DIR               write the seed corpus, checking that every seed parses cleanly
///   --random N [--minutes M] [--seed S] [--regressions DIR] [--seeds DIR]
///                                   in-process seeded mutation, no instrumentation needed
///   --replay PATH...                run files (or every file of directories) and print each outcome
///   --name FILE                     print the target an input file selects (used to name crash files)
///   --list                          list the targets and their selector bytes
/// </summary>
public static partial class Program
{
    public static int Main(string[] args)
    {
        string mode = args.Length == 0 ? "--afl" : args[0];
        switch (mode)
        {
            case "--afl":
                Fuzzer.OutOfProcess.Run(stream =>
                {
                    using var buffer = new MemoryStream();
                    stream.CopyTo(buffer);
                    FuzzTarget.Check(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
                });
                return 0;
            case "--libfuzzer":
                Fuzzer.LibFuzzer.Run(span => FuzzTarget.Check(span));
                return 0;
            case "--write-seeds":
                return WriteSeeds(args.Length > 1 ? args[1] : Path.Combine(FuzzDir(), "seeds"));
            case "--random":
                return RandomMode(args);
            case "--replay":
                return Replay(args.Skip(1).ToArray());
            case "--name":
                Console.WriteLine(args.Length > 1 ? FuzzTarget.NameOf(File.ReadAllBytes(args[1])) : "empty");
                return 0;
            case "--list":
                foreach (var (id, name) in FuzzTarget.All) Console.WriteLine($"0x{id:X2}  {name}");
                return 0;
            default:
                Console.Error.WriteLine($"unknown mode {mode}; see docs/fuzzing.md");
                return 2;
        }
    }

    /// <summary>tests/Fuzz of the checkout this binary was built from (or run in).</summary>
    private static string FuzzDir()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "FuzzTarget.cs")) && File.Exists(Path.Combine(dir.FullName, "SmbCopy.Fuzz.csproj")))
                    return dir.FullName;
                var nested = Path.Combine(dir.FullName, "tests", "Fuzz");
                if (File.Exists(Path.Combine(nested, "FuzzTarget.cs"))) return nested;
            }
        }
        throw new InvalidOperationException("cannot find tests/Fuzz; run from inside the repository or pass directories explicitly");
    }

    private static int WriteSeeds(string dir)
    {
        Directory.CreateDirectory(dir);
        int written = 0, bad = 0;
        foreach (var (name, data) in FuzzSeeds.All())
        {
            try
            {
                FuzzTarget.Run(data);   // a seed must parse, not merely not crash: otherwise it reaches nothing
            }
            catch (Exception ex)
            {
                bad++;
                Console.Error.WriteLine($"seed {name} does not parse: {ex.GetType().Name}: {ex.Message}");
            }
            File.WriteAllBytes(Path.Combine(dir, name + ".bin"), data);
            written++;
        }
        Console.WriteLine($"wrote {written} seeds to {dir}" + (bad > 0 ? $", {bad} of them do not parse" : ""));
        return bad == 0 ? 0 : 1;
    }

    private static int Replay(string[] paths)
    {
        if (paths.Length == 0) paths = [Path.Combine(FuzzDir(), "regressions")];
        int failures = 0;
        foreach (var file in paths.SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p).Order(StringComparer.Ordinal) : (IEnumerable<string>)[p]))
        {
            var data = File.ReadAllBytes(file);
            try
            {
                FuzzTarget.Run(data);
                Console.WriteLine($"ok         {Path.GetFileName(file)} ({FuzzTarget.NameOf(data)})");
            }
            catch (MalformedMessageException ex)
            {
                Console.WriteLine($"malformed  {Path.GetFileName(file)} ({FuzzTarget.NameOf(data)}): {ex.Message}");
            }
            catch (Exception ex)
            {
                failures++;
                Console.WriteLine($"CRASH      {Path.GetFileName(file)} ({FuzzTarget.NameOf(data)}):\n{ex}");
            }
        }
        return failures == 0 ? 0 : 1;
    }

    // ---- in-process random mutation ----

    private sealed record Entry(byte[] Data);

    private static int RandomMode(string[] args)
    {
        long iterations = args.Length > 1 ? long.Parse(args[1], CultureInfo.InvariantCulture) : 1_000_000;
        double minutes = Option(args, "--minutes", 0);
        int seed = (int)Option(args, "--seed", 1);
        string regressions = OptionString(args, "--regressions") ?? Path.Combine(FuzzDir(), "regressions");
        string? seedDir = OptionString(args, "--seeds");

        var corpus = FuzzSeeds.All().Select(s => new Entry(s.Data)).ToList();
        if (seedDir is not null && Directory.Exists(seedDir))
            corpus.AddRange(Directory.GetFiles(seedDir).Order(StringComparer.Ordinal).Select(f => new Entry(File.ReadAllBytes(f))));
        var byTarget = corpus.GroupBy(e => e.Data[0] & 0x7F).ToDictionary(g => g.Key, g => g.ToList());
        var selectors = FuzzTarget.All.Select(t => t.Id).ToArray();

        // Crude feedback without instrumentation: an input that reaches an outcome not seen before for its
        // target (a new MalformedMessageException message shape, or a first successful parse) joins the corpus.
        var outcomes = new HashSet<string>(StringComparer.Ordinal);
        var crashes = new Dictionary<string, string>(StringComparer.Ordinal);
        var rng = new Random(seed);
        var deadline = minutes > 0 ? DateTime.UtcNow.AddMinutes(minutes) : DateTime.MaxValue;
        var clock = Stopwatch.StartNew();
        var lastReport = clock.Elapsed;
        long executed = 0;

        Console.WriteLine($"random mode: {iterations} iterations{(minutes > 0 ? $" or {minutes} min" : "")}, seed {seed}, {corpus.Count} seeds, crashes to {regressions}");
        for (long i = 0; i < iterations && DateTime.UtcNow < deadline; i++)
        {
            var parent = corpus[rng.Next(corpus.Count)];
            byte[] input = Mutate(parent.Data, rng, byTarget, selectors);
            var started = clock.Elapsed;
            string outcome;
            try
            {
                outcome = FuzzTarget.Check(input) is { } message ? Shape(message) : "parsed";
            }
            catch (Exception ex)
            {
                executed++;
                string key = CrashKey(input, ex);
                if (crashes.ContainsKey(key)) continue;
                var minimized = Minimize(input, key);
                string file = SaveCrash(regressions, minimized, ex);
                crashes[key] = file;
                Console.WriteLine($"\n=== CRASH #{crashes.Count} after {executed} executions: {FuzzTarget.NameOf(minimized)} -> {Path.GetFileName(file)}");
                Console.WriteLine($"    input ({minimized.Length} bytes): {Convert.ToHexString(minimized.AsSpan(0, Math.Min(minimized.Length, 256)))}");
                Console.WriteLine(Reproduce(minimized));
                continue;
            }
            executed++;
            var took = clock.Elapsed - started;
            if (took > TimeSpan.FromSeconds(1))
                Console.WriteLine($"slow input ({took.TotalMilliseconds:F0} ms, {FuzzTarget.NameOf(input)}): {Convert.ToHexString(input.AsSpan(0, Math.Min(input.Length, 128)))}");
            if (outcomes.Add($"{input[0]:X2}|{outcome}") && corpus.Count < 20_000)
            {
                corpus.Add(new Entry(input));
                int target = input[0] & 0x7F;
                if (!byTarget.TryGetValue(target, out var list)) byTarget[target] = list = [];
                list.Add(corpus[^1]);
            }
            if (clock.Elapsed - lastReport > TimeSpan.FromSeconds(15))
            {
                lastReport = clock.Elapsed;
                Console.WriteLine($"{executed,12} execs  {executed / clock.Elapsed.TotalSeconds,9:F0}/s  corpus {corpus.Count,6}  outcomes {outcomes.Count,6}  crashes {crashes.Count}");
            }
        }
        Console.WriteLine($"done: {executed} executions in {clock.Elapsed.TotalSeconds:F0} s, corpus {corpus.Count}, distinct outcomes {outcomes.Count}, distinct crashes {crashes.Count}");
        foreach (var (key, file) in crashes) Console.WriteLine($"  {Path.GetFileName(file)}  [{key}]");
        return crashes.Count == 0 ? 0 : 1;
    }

    /// <summary>Message with numbers blanked: "need 4 bytes at 80, have 2" → "need # bytes at #, have #".</summary>
    private static string Shape(string message) => Digits().Replace(message, "#");

    [GeneratedRegex("[0-9]+")]
    private static partial Regex Digits();

    private static string CrashKey(byte[] input, Exception ex)
    {
        // One bug reached through several targets (SET_INFO and the set-info class, raw and not) is one
        // crash: the key is the exception type and the innermost frame in SmbCopy.Protocol. Contract
        // violations raised by the harness itself (allocation budget, pipe) also keep the target.
        var inner = ex is FuzzContractViolationException { InnerException: { } cause } ? cause : ex;
        var methods = new StackTrace(inner, false).GetFrames().Select(f => f.GetMethod()).OfType<System.Reflection.MethodBase>().ToList();
        var frame = methods.FirstOrDefault(m => m.DeclaringType?.Namespace?.StartsWith("SmbCopy.Protocol", StringComparison.Ordinal) == true)
            ?? methods.FirstOrDefault(m => m.DeclaringType?.Namespace?.StartsWith("SmbCopy", StringComparison.Ordinal) == true);
        string where = frame is null ? "?" : $"{frame.DeclaringType!.Name}.{frame.Name}";
        if (ex is FuzzContractViolationException)
        {
            string name = FuzzTarget.NameOf(input);
            if (name.EndsWith("-raw", StringComparison.Ordinal)) name = name[..^4];
            return $"contract|{name}|{Shape(ex.Message.Split(':')[^1])}|{inner.GetType().Name}|{where}";
        }
        return $"{inner.GetType().Name}|{where}";
    }

    private static bool SameCrash(byte[] input, string key)
    {
        try
        {
            FuzzTarget.Check(input);
            return false;
        }
        catch (Exception ex)
        {
            return CrashKey(input, ex) == key;
        }
    }

    /// <summary>Delta-debugging lite: drop chunks (never the selector) while the same crash reproduces.</summary>
    private static byte[] Minimize(byte[] input, string key)
    {
        var current = input;
        int budget = 20_000;
        for (int chunk = Math.Max(1, (current.Length - 1) / 2); chunk >= 1 && budget > 0; chunk /= 2)
        {
            bool progress = true;
            while (progress && budget > 0)
            {
                progress = false;
                for (int start = 1; start + chunk <= current.Length && budget > 0; start += chunk)
                {
                    budget--;
                    byte[] candidate = [.. current.AsSpan(0, start), .. current.AsSpan(start + chunk)];
                    if (!SameCrash(candidate, key)) continue;
                    current = candidate;
                    progress = true;
                    start -= chunk;
                }
            }
        }
        // Then zero what can be zeroed, so the remaining non-zero bytes are the ones that matter.
        for (int i = 1; i < current.Length && budget > 0; i++)
        {
            if (current[i] == 0) continue;
            budget--;
            var candidate = (byte[])current.Clone();
            candidate[i] = 0;
            if (SameCrash(candidate, key)) current = candidate;
        }
        return current;
    }

    private static string SaveCrash(string dir, byte[] input, Exception ex)
    {
        Directory.CreateDirectory(dir);
        string hash = Convert.ToHexString(SHA256.HashData(input))[..12].ToLowerInvariant();
        var inner = ex is FuzzContractViolationException { InnerException: { } cause } ? cause : ex;
        string kind = ex is FuzzContractViolationException ? "contract" : inner.GetType().Name.Replace("Exception", "", StringComparison.Ordinal);
        string file = Path.Combine(dir, $"{FuzzTarget.NameOf(input)}-{kind}-{hash}.bin");
        File.WriteAllBytes(file, input);
        return file;
    }

    private static string Reproduce(byte[] input)
    {
        try
        {
            FuzzTarget.Check(input);
            return "    (did not reproduce)";
        }
        catch (Exception ex)
        {
            return ex.ToString();
        }
    }

    // ---- mutation ----

    private static readonly long[] Interesting =
    [
        0, 1, 2, 3, 4, 7, 8, 15, 16, 24, 31, 32, 63, 64, 0x7F, 0x80, 0xFF, 0x100, 0x3FFF, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
        0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, -1, -2, long.MaxValue, long.MinValue,
    ];

    private const int MaxInput = 1 << 16;

    private static byte[] Mutate(byte[] parent, Random rng, Dictionary<int, List<Entry>> byTarget, byte[] selectors)
    {
        var b = new List<byte>(parent);
        int rounds = 1 + (rng.Next(4) == 0 ? rng.Next(16) : rng.Next(4));
        for (int r = 0; r < rounds; r++)
        {
            int at = b.Count <= 1 ? 1 : 1 + rng.Next(b.Count - 1);   // byte 0 is the selector
            switch (rng.Next(13))
            {
                case 0:
                    if (at < b.Count) b[at] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1:
                    if (at < b.Count) b[at] = (byte)rng.Next(256);
                    break;
                case 2:
                case 3:
                    WriteValue(b, at, Interesting[rng.Next(Interesting.Length)], 1 << rng.Next(4), rng.Next(8) == 0);
                    break;
                case 4:
                {
                    int size = 1 << rng.Next(3);
                    long value = ReadValue(b, at, size) + rng.Next(-35, 36);
                    WriteValue(b, at, value, size, false);
                    break;
                }
                case 5:
                    if (b.Count > 1) b.RemoveRange(at, Math.Min(b.Count - at, 1 + rng.Next(rng.Next(2) == 0 ? 8 : 128)));
                    break;
                case 6:
                    if (b.Count > 1) { int len = Math.Min(b.Count - at, 1 + rng.Next(64)); b.InsertRange(at, b.GetRange(at, len)); }
                    break;
                case 7:
                    b.InsertRange(Math.Min(at, b.Count), Enumerable.Range(0, 1 + rng.Next(16)).Select(_ => (byte)rng.Next(256)));
                    break;
                case 8:
                    if (b.Count > 2) b.RemoveRange(at, b.Count - at);   // truncate
                    break;
                case 9:
                {
                    // Splice with another input of the same target.
                    if (!byTarget.TryGetValue(b[0] & 0x7F, out var peers) || peers.Count == 0) break;
                    var other = peers[rng.Next(peers.Count)].Data;
                    if (other.Length < 2) break;
                    int from = 1 + rng.Next(other.Length - 1);
                    int len = Math.Min(other.Length - from, 1 + rng.Next(256));
                    int to = Math.Min(at, b.Count);
                    if (rng.Next(2) == 0) b.RemoveRange(to, Math.Min(len, b.Count - to));
                    b.InsertRange(to, other.AsSpan(from, len).ToArray());
                    break;
                }
                case 10:
                    // Aligned 16/32-bit fields are where offsets and lengths live.
                    WriteValue(b, at & ~1, Interesting[rng.Next(Interesting.Length)], rng.Next(2) == 0 ? 2 : 4, false);
                    break;
                case 11:
                    if (rng.Next(40) == 0) b[0] = selectors[rng.Next(selectors.Length)];
                    else if (rng.Next(20) == 0) b[0] ^= FuzzTarget.RawFlag;
                    break;
                case 12:
                    // Fill a run with one byte: long names, zeroed structures.
                    for (int k = at, n = rng.Next(1, 64), v = rng.Next(2) == 0 ? 0 : 0xFF; k < b.Count && n-- > 0; k++) b[k] = (byte)v;
                    break;
            }
        }
        if (b.Count == 0) b.Add(parent[0]);
        if (b.Count > MaxInput) b.RemoveRange(MaxInput, b.Count - MaxInput);
        return [.. b];
    }

    private static void WriteValue(List<byte> b, int at, long value, int size, bool bigEndian)
    {
        for (int i = 0; i < size; i++)
        {
            int pos = at + (bigEndian ? size - 1 - i : i);
            if (pos >= b.Count) return;
            if (pos >= 1) b[pos] = (byte)(value >> (8 * i));
        }
    }

    private static long ReadValue(List<byte> b, int at, int size)
    {
        long v = 0;
        for (int i = 0; i < size && at + i < b.Count; i++) v |= (long)b[at + i] << (8 * i);
        return v;
    }

    private static double Option(string[] args, string name, double fallback)
    {
        string? s = OptionString(args, name);
        return s is null ? fallback : double.Parse(s, CultureInfo.InvariantCulture);
    }

    private static string? OptionString(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

}
