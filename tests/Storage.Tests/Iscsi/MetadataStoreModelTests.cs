using SmbCopy.Storage.Iscsi.Volume;

namespace SmbCopy.Storage.Tests.Iscsi;

/// <summary>The extent and reference-count-run store (schema 2) against a plain model (file unit → physical unit,
/// unit → count) over thousands of random operations — maps, clones (also inside one file), releases, single-unit
/// remaps as copy on write does them: after every operation the expanded map and the freed units (every 25th
/// operation: every count) agree with the model, and the consistency check finds nothing. No target needed.</summary>
public sealed class MetadataStoreModelTests : IDisposable
{
    private const int Units = 512, Files = 4, FileUnits = 96;
    private readonly string _dir = Directory.CreateTempSubdirectory("smbcopy-meta-model-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Random_operations_agree_with_a_per_unit_model(int seed)
    {
        var rng = new Random(seed);
        using var store = MetadataStore.Open(Path.Combine(_dir, $"m{seed}.db"));
        store.InTransaction(() => { store.Format(Guid.NewGuid(), 65536, Units, 0); return 0; });
        var nodes = Enumerable.Range(0, Files).Select(i => store.InsertNode(MetadataStore.RootId, $"f{i}", NodeKind.File, 0, 0)).ToArray();
        var map = nodes.ToDictionary(n => n, _ => new SortedDictionary<long, long>());
        var refs = new int[Units];
        var freedModel = new List<long>();

        void ModelRelease(long node, long from, long to)
        {
            foreach (var idx in map[node].Keys.Where(k => k >= from && k < to).ToList())
            {
                long u = map[node][idx];
                map[node].Remove(idx);
                if (--refs[u] == 0) freedModel.Add(u);
            }
        }

        List<long> Allocate(int n)
        {
            var free = Enumerable.Range(0, Units).Where(u => refs[u] == 0).Select(u => (long)u).ToList();
            if (free.Count < n) return [];
            int start = rng.Next(free.Count - n + 1);
            return rng.Next(2) == 0 ? free.GetRange(start, n) : free.OrderBy(_ => rng.Next()).Take(n).ToList();
        }

        for (int step = 0; step < 1500; step++)
        {
            long node = nodes[rng.Next(Files)];
            int op = rng.Next(10);
            freedModel.Clear();
            List<long> freed = [];
            if (op < 3) // map fresh units over a range (a write into holes after a release)
            {
                long i = rng.Next(FileUnits), n = rng.Next(1, 9);
                ModelRelease(node, i, i + n);
                freed = store.InTransaction(() => store.ReleaseRange(node, i, i + n));
                var units = Allocate((int)n);
                if (units.Count == n)
                    store.InTransaction(() =>
                    {
                        for (int k = 0; k < units.Count;)
                        {
                            int m = k + 1;
                            while (m < units.Count && units[m] == units[m - 1] + 1) m++;
                            store.AddRefRange(units[k], m - k);
                            store.SetMapRange(node, i + k, m - k, units[k]);
                            k = m;
                        }
                        return 0;
                    });
                for (int k = 0; k < units.Count; k++) { map[node][i + k] = units[k]; refs[units[k]]++; }
            }
            else if (op < 6) // clone a range (possibly from the same file, not overlapping)
            {
                long s = nodes[rng.Next(Files)], si = rng.Next(FileUnits), di = rng.Next(FileUnits), n = rng.Next(1, 17);
                if (s == node && si < di + n && di < si + n) continue;
                var src = map[s].Where(kv => kv.Key >= si && kv.Key < si + n).ToList();
                ModelRelease(node, di, di + n);
                foreach (var (idx, u) in src) { map[node][di + (idx - si)] = u; refs[u]++; }
                freed = store.InTransaction(() =>
                {
                    var f = store.ReleaseRange(node, di, di + n);
                    store.CloneRange(s, si, node, di, n);
                    return f;
                });
            }
            else if (op < 8) // release a range (truncate, delete)
            {
                long i = rng.Next(FileUnits), n = rng.Next(1, 40);
                ModelRelease(node, i, i + n);
                freed = store.InTransaction(() => store.ReleaseRange(node, i, i + n));
            }
            else // one unit remapped as copy on write does: new unit, remap, release the old one
            {
                var mapped = map[node].Keys.ToList();
                if (mapped.Count == 0) continue;
                long idx = mapped[rng.Next(mapped.Count)], old = map[node][idx];
                var fresh = Allocate(1);
                if (fresh.Count == 0) continue;
                map[node][idx] = fresh[0];
                refs[fresh[0]]++;
                if (--refs[old] == 0) freedModel.Add(old);
                bool released = store.InTransaction(() =>
                {
                    store.AddRef(fresh[0]);
                    store.SetMap(node, idx, fresh[0]);
                    return store.Release(old);
                });
                if (released) freed.Add(old);
            }

            Assert.Equal(freedModel.Order(), freed.Order());
            foreach (var n2 in nodes)
                Assert.Equal(map[n2].Select(kv => (kv.Key, kv.Value)), store.Map(n2));
            if (step % 25 == 0 || step == 1499)
                for (int u = 0; u < Units; u++)
                    Assert.True(refs[u] == store.Refs(u), $"step {step}: unit {u} has {store.Refs(u)} references, the model {refs[u]}");
        }
        var report = store.InTransaction(() => store.CheckAndRepair(Units));
        Assert.True(report.Clean, report.ToString());
        Assert.Equal(refs.Count(r => r > 0), report.UnitsInUse);
    }
}
