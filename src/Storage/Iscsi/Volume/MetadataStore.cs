using Microsoft.Data.Sqlite;

namespace SmbCopy.Storage.Iscsi.Volume;

/// <summary>Kinds of node. Links, fifos and devices only exist to be refused (planted by tests, or imported).</summary>
public enum NodeKind
{
    Directory = 1,
    File = 2,
    SymbolicLink = 3,
    Fifo = 4,
    Device = 5,
}

/// <summary>What the mount-time consistency check found. <see cref="Clean"/>: no unit both free and in use, every
/// reference count equal to its map rows, nothing leaked, nothing out of range (reclaimed orphans are not faults).</summary>
public sealed record ConsistencyReport(long Files, long UnitsInUse, long SharedUnits, int OrphansReclaimed, long MissingUnitRows,
    long WrongRefcounts, long LeakedUnits, long OutOfRangeRows)
{
    public bool Clean => MissingUnitRows == 0 && WrongRefcounts == 0 && LeakedUnits == 0 && OutOfRangeRows == 0;

    public override string ToString() =>
        $"{Files} files, {UnitsInUse} units in use ({SharedUnits} shared), {OrphansReclaimed} orphans reclaimed; " +
        (Clean ? "no problems" : $"PROBLEMS: {MissingUnitRows} units in use but free, {WrongRefcounts} wrong reference counts, " +
            $"{LeakedUnits} leaked units, {OutOfRangeRows} units past the volume's end");
}

/// <summary>One row of <c>node</c>. Times are FILETIME values.</summary>
public sealed record Node(long Id, long? Parent, string? Name, NodeKind Kind, uint Attributes, long Created, long Accessed, long Written,
    long Changed, long Size, string? Target)
{
    public bool IsDirectory => Kind == NodeKind.Directory;
}

/// <summary>
/// The volume's metadata in SQLite (WAL): nodes (names, attributes, times, sizes), the unit map of every file
/// (file unit index → physical allocation unit; no row = hole), and reference counts of physical units (above 1
/// when clones share them). Not thread safe: the volume serializes access.
/// </summary>
public sealed class MetadataStore : IDisposable
{
    public const long RootId = 1;
    private readonly SqliteConnection _db;
    private SqliteTransaction? _tx;

    private MetadataStore(SqliteConnection db) => _db = db;

    public static MetadataStore Open(string path)
    {
        var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        db.Open();
        var store = new MetadataStore(db);
        store.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
        return store;
    }

    public void Dispose()
    {
        _tx?.Dispose();
        _db.Dispose();
    }

    /// <summary>The volume row: (uuid, unit size, units), or null when the schema does not exist yet.</summary>
    public (Guid Uuid, int UnitSize, long Units)? ReadVolume()
    {
        using var check = Cmd("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='volume'");
        if (Convert.ToInt64(check.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 0) return null;
        using var c = Cmd("SELECT uuid, unit_size, units FROM volume WHERE id = 1");
        using var r = c.ExecuteReader();
        return r.Read() ? (new Guid((byte[])r[0]), r.GetInt32(1), r.GetInt64(2)) : null;
    }

    /// <summary>Creates an empty volume: schema, volume row, root directory.</summary>
    public void Format(Guid uuid, int unitSize, long units, long now)
    {
        Exec("""
            DROP TABLE IF EXISTS map; DROP TABLE IF EXISTS unit; DROP TABLE IF EXISTS extent; DROP TABLE IF EXISTS refrun;
            DROP TABLE IF EXISTS node; DROP TABLE IF EXISTS volume;
            CREATE TABLE volume(id INTEGER PRIMARY KEY CHECK (id = 1), uuid BLOB NOT NULL, unit_size INTEGER NOT NULL, units INTEGER NOT NULL);
            CREATE TABLE node(id INTEGER PRIMARY KEY AUTOINCREMENT, parent INTEGER, name TEXT, name_key TEXT,
                kind INTEGER NOT NULL, attributes INTEGER NOT NULL, created INTEGER NOT NULL, accessed INTEGER NOT NULL,
                written INTEGER NOT NULL, changed INTEGER NOT NULL, size INTEGER NOT NULL DEFAULT 0, target TEXT);
            CREATE UNIQUE INDEX node_name ON node(parent, name_key) WHERE parent IS NOT NULL;
            """ + ExtentSchema);
        using var v = Cmd("INSERT INTO volume(id, uuid, unit_size, units) VALUES (1, $u, $s, $n)");
        v.Parameters.AddWithValue("$u", uuid.ToByteArray());
        v.Parameters.AddWithValue("$s", unitSize);
        v.Parameters.AddWithValue("$n", units);
        v.ExecuteNonQuery();
        using var root = Cmd("INSERT INTO node(id, parent, name, name_key, kind, attributes, created, accessed, written, changed) " +
                             "VALUES (1, NULL, '', '', 1, 0, $t, $t, $t, $t)");
        root.Parameters.AddWithValue("$t", now);
        root.ExecuteNonQuery();
        SetSchemaVersion(CurrentSchemaVersion);
    }

    // ------------------------------------------------------------------ transactions

    public void Begin() => _tx = _db.BeginTransaction();

    public void Commit()
    {
        _tx?.Commit();
        _tx?.Dispose();
        _tx = null;
    }

    public void Rollback()
    {
        _tx?.Rollback();
        _tx?.Dispose();
        _tx = null;
    }

    /// <summary>Runs <paramref name="action"/> in a transaction (rolled back when it throws).</summary>
    public T InTransaction<T>(Func<T> action)
    {
        Begin();
        try
        {
            var result = action();
            Commit();
            return result;
        }
        catch
        {
            Rollback();
            throw;
        }
    }

    public void Checkpoint() => Exec("PRAGMA wal_checkpoint(PASSIVE);");

    // ------------------------------------------------------------------ nodes

    public static string Key(string name) => name.ToUpperInvariant();

    private const string NodeColumns = "id, parent, name, kind, attributes, created, accessed, written, changed, size, target";

    private static Node ReadNode(SqliteDataReader r) => new(r.GetInt64(0), r.IsDBNull(1) ? null : r.GetInt64(1),
        r.IsDBNull(2) ? null : r.GetString(2), (NodeKind)r.GetInt32(3), (uint)r.GetInt64(4), r.GetInt64(5), r.GetInt64(6), r.GetInt64(7),
        r.GetInt64(8), r.GetInt64(9), r.IsDBNull(10) ? null : r.GetString(10));

    public Node? GetNode(long id)
    {
        using var c = Cmd($"SELECT {NodeColumns} FROM node WHERE id = $id");
        c.Parameters.AddWithValue("$id", id);
        using var r = c.ExecuteReader();
        return r.Read() ? ReadNode(r) : null;
    }

    public Node? Lookup(long parent, string name)
    {
        using var c = Cmd($"SELECT {NodeColumns} FROM node WHERE parent = $p AND name_key = $k");
        c.Parameters.AddWithValue("$p", parent);
        c.Parameters.AddWithValue("$k", Key(name));
        using var r = c.ExecuteReader();
        return r.Read() ? ReadNode(r) : null;
    }

    public List<Node> Children(long parent)
    {
        using var c = Cmd($"SELECT {NodeColumns} FROM node WHERE parent = $p ORDER BY id");
        c.Parameters.AddWithValue("$p", parent);
        using var r = c.ExecuteReader();
        var list = new List<Node>();
        while (r.Read()) list.Add(ReadNode(r));
        return list;
    }

    public bool HasChildren(long parent)
    {
        using var c = Cmd("SELECT EXISTS(SELECT 1 FROM node WHERE parent = $p)");
        c.Parameters.AddWithValue("$p", parent);
        return Convert.ToInt64(c.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) != 0;
    }

    public long InsertNode(long parent, string name, NodeKind kind, uint attributes, long now, string? target = null)
    {
        using var c = Cmd("INSERT INTO node(parent, name, name_key, kind, attributes, created, accessed, written, changed, target) " +
                          "VALUES ($p, $n, $k, $kind, $a, $t, $t, $t, $t, $target) RETURNING id");
        c.Parameters.AddWithValue("$p", parent);
        c.Parameters.AddWithValue("$n", name);
        c.Parameters.AddWithValue("$k", Key(name));
        c.Parameters.AddWithValue("$kind", (int)kind);
        c.Parameters.AddWithValue("$a", (long)attributes);
        c.Parameters.AddWithValue("$t", now);
        c.Parameters.AddWithValue("$target", (object?)target ?? DBNull.Value);
        return Convert.ToInt64(c.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Updates one column (a fixed set of names) of a node.</summary>
    public void Set(long id, string column, long value)
    {
        if (column is not ("attributes" or "created" or "accessed" or "written" or "changed" or "size"))
            throw new ArgumentException("column", nameof(column));
        using var c = Cmd($"UPDATE node SET {column} = $v WHERE id = $id");
        c.Parameters.AddWithValue("$v", value);
        c.Parameters.AddWithValue("$id", id);
        c.ExecuteNonQuery();
    }

    public void Move(long id, long parent, string name)
    {
        using var c = Cmd("UPDATE node SET parent = $p, name = $n, name_key = $k WHERE id = $id");
        c.Parameters.AddWithValue("$p", parent);
        c.Parameters.AddWithValue("$n", name);
        c.Parameters.AddWithValue("$k", Key(name));
        c.Parameters.AddWithValue("$id", id);
        c.ExecuteNonQuery();
    }

    /// <summary>Removes the node's name (it stays, nameless, while handles are open).</summary>
    public void Unlink(long id)
    {
        using var c = Cmd("UPDATE node SET parent = NULL, name_key = NULL WHERE id = $id");
        c.Parameters.AddWithValue("$id", id);
        c.ExecuteNonQuery();
    }

    public void DeleteNode(long id)
    {
        using var c = Cmd("DELETE FROM node WHERE id = $id");
        c.Parameters.AddWithValue("$id", id);
        c.ExecuteNonQuery();
    }

    /// <summary>Nodes without a name (deleted while open when the gateway stopped), except the root.</summary>
    public List<long> Orphans()
    {
        using var c = Cmd("SELECT id FROM node WHERE parent IS NULL AND id <> 1");
        using var r = c.ExecuteReader();
        var list = new List<long>();
        while (r.Read()) list.Add(r.GetInt64(0));
        return list;
    }

    // ------------------------------------------------------------------ extents (file unit runs → physical unit runs)

    /// <summary>The node's extents overlapping file units [<paramref name="from"/>, <paramref name="to"/>), clipped to it,
    /// in order: (first file unit, units, first physical unit).</summary>
    public List<(long Index, long Count, long Unit)> Extents(long node, long from, long to)
    {
        using var c = Cmd("SELECT idx, count, unit FROM extent WHERE node = $n " +
                          "AND idx >= (SELECT coalesce(max(idx), $a) FROM extent WHERE node = $n AND idx <= $a) AND idx < $b ORDER BY idx");
        c.Parameters.AddWithValue("$n", node);
        c.Parameters.AddWithValue("$a", from);
        c.Parameters.AddWithValue("$b", to);
        using var r = c.ExecuteReader();
        var list = new List<(long, long, long)>();
        while (r.Read())
        {
            long idx = r.GetInt64(0), count = r.GetInt64(1), unit = r.GetInt64(2);
            long start = Math.Max(idx, from), end = Math.Min(idx + count, to);
            if (end > start) list.Add((start, end - start, unit + (start - idx)));
        }
        return list;
    }

    /// <summary>(file unit index, physical unit) of a node from <paramref name="fromIndex"/> (inclusive) to
    /// <paramref name="toIndex"/> (exclusive), in order (the extents expanded).</summary>
    public List<(long Index, long Unit)> Map(long node, long fromIndex = 0, long toIndex = long.MaxValue)
    {
        var list = new List<(long, long)>();
        foreach (var (idx, count, unit) in Extents(node, fromIndex, toIndex))
            for (long k = 0; k < count; k++) list.Add((idx + k, unit + k));
        return list;
    }

    public long MappedUnits(long node)
    {
        using var c = Cmd("SELECT coalesce(sum(count), 0) FROM extent WHERE node = $n");
        c.Parameters.AddWithValue("$n", node);
        return Convert.ToInt64(c.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Removes the mapping of file units [<paramref name="from"/>, <paramref name="to"/>) (splitting the extents
    /// at the edges); returns the physical runs that were mapped there (reference counts untouched).</summary>
    private List<(long Unit, long Count)> CutExtents(long node, long from, long to)
    {
        using var c = Cmd("SELECT idx, count, unit FROM extent WHERE node = $n " +
                          "AND idx >= (SELECT coalesce(max(idx), $a) FROM extent WHERE node = $n AND idx <= $a) AND idx < $b ORDER BY idx");
        c.Parameters.AddWithValue("$n", node);
        c.Parameters.AddWithValue("$a", from);
        c.Parameters.AddWithValue("$b", to);
        var rows = new List<(long Idx, long Count, long Unit)>();
        using (var r = c.ExecuteReader())
            while (r.Read()) rows.Add((r.GetInt64(0), r.GetInt64(1), r.GetInt64(2)));
        var cut = new List<(long, long)>();
        foreach (var (idx, count, unit) in rows)
        {
            long end = idx + count;
            if (end <= from) continue;
            DeleteExtent(node, idx);
            long s = Math.Max(idx, from), e = Math.Min(end, to);
            cut.Add((unit + (s - idx), e - s));
            if (idx < from) PutExtent(node, idx, from - idx, unit);
            if (end > to) PutExtent(node, to, end - to, unit + (to - idx));
        }
        return cut;
    }

    private void DeleteExtent(long node, long idx)
    {
        using var d = Cmd("DELETE FROM extent WHERE node = $n AND idx = $i");
        d.Parameters.AddWithValue("$n", node);
        d.Parameters.AddWithValue("$i", idx);
        d.ExecuteNonQuery();
    }

    private void PutExtent(long node, long idx, long count, long unit)
    {
        using var c = Cmd("INSERT INTO extent(node, idx, count, unit) VALUES ($n, $i, $c, $u)");
        c.Parameters.AddWithValue("$n", node);
        c.Parameters.AddWithValue("$i", idx);
        c.Parameters.AddWithValue("$c", count);
        c.Parameters.AddWithValue("$u", unit);
        c.ExecuteNonQuery();
    }

    /// <summary>Maps file units [<paramref name="idx"/>, + <paramref name="count"/>) (which must be unmapped) to
    /// physical units from <paramref name="unit"/>, merged with the extents before and after when both runs continue.</summary>
    private void InsertExtent(long node, long idx, long count, long unit)
    {
        using (var c = Cmd("SELECT idx, count, unit FROM extent WHERE node = $n AND idx < $i ORDER BY idx DESC LIMIT 1"))
        {
            c.Parameters.AddWithValue("$n", node);
            c.Parameters.AddWithValue("$i", idx);
            using var r = c.ExecuteReader();
            if (r.Read() && r.GetInt64(0) + r.GetInt64(1) == idx && r.GetInt64(2) + r.GetInt64(1) == unit)
            {
                long prev = r.GetInt64(0);
                r.Close();
                count += idx - prev;
                unit -= idx - prev;
                idx = prev;
                DeleteExtent(node, prev);
            }
        }
        using (var c = Cmd("SELECT count, unit FROM extent WHERE node = $n AND idx = $i"))
        {
            c.Parameters.AddWithValue("$n", node);
            c.Parameters.AddWithValue("$i", idx + count);
            using var r = c.ExecuteReader();
            if (r.Read() && r.GetInt64(1) == unit + count)
            {
                long more = r.GetInt64(0);
                r.Close();
                DeleteExtent(node, idx + count);
                count += more;
            }
        }
        PutExtent(node, idx, count, unit);
    }

    /// <summary>Points file units [<paramref name="index"/>, + <paramref name="count"/>) at physical units from
    /// <paramref name="unit"/> (replacing what was there; reference counts untouched).</summary>
    public void SetMapRange(long node, long index, long count, long unit)
    {
        CutExtents(node, index, index + count);
        InsertExtent(node, index, count, unit);
    }

    public void SetMap(long node, long index, long unit) => SetMapRange(node, index, 1, unit);

    public void RemoveMap(long node, long index) => CutExtents(node, index, index + 1);

    // ------------------------------------------------------------------ physical units: reference counts per run

    private (long Unit, long Count, long Refs)? RunAt(long unit)
    {
        using var c = Cmd("SELECT unit, count, refs FROM refrun WHERE unit <= $u ORDER BY unit DESC LIMIT 1");
        c.Parameters.AddWithValue("$u", unit);
        using var r = c.ExecuteReader();
        if (!r.Read()) return null;
        var run = (r.GetInt64(0), r.GetInt64(1), r.GetInt64(2));
        return run.Item1 + run.Item2 > unit ? run : null;
    }

    /// <summary>Makes <paramref name="unit"/> the start of a run when a run covers it.</summary>
    private void SplitRunAt(long unit)
    {
        if (RunAt(unit) is not { } run || run.Unit == unit) return;
        using (var u = Cmd("UPDATE refrun SET count = $c WHERE unit = $u"))
        {
            u.Parameters.AddWithValue("$c", unit - run.Unit);
            u.Parameters.AddWithValue("$u", run.Unit);
            u.ExecuteNonQuery();
        }
        PutRun(unit, run.Unit + run.Count - unit, run.Refs);
    }

    private void PutRun(long unit, long count, long refs)
    {
        using var c = Cmd("INSERT INTO refrun(unit, count, refs) VALUES ($u, $c, $r)");
        c.Parameters.AddWithValue("$u", unit);
        c.Parameters.AddWithValue("$c", count);
        c.Parameters.AddWithValue("$r", refs);
        c.ExecuteNonQuery();
    }

    private List<(long Unit, long Count, long Refs)> RunsIn(long from, long to)
    {
        using var c = Cmd("SELECT unit, count, refs FROM refrun WHERE unit >= $a AND unit < $b ORDER BY unit");
        c.Parameters.AddWithValue("$a", from);
        c.Parameters.AddWithValue("$b", to);
        using var r = c.ExecuteReader();
        var list = new List<(long, long, long)>();
        while (r.Read()) list.Add((r.GetInt64(0), r.GetInt64(1), r.GetInt64(2)));
        return list;
    }

    /// <summary>Joins neighbouring runs with the same count around [<paramref name="from"/>, <paramref name="to"/>].</summary>
    private void MergeRuns(long from, long to)
    {
        long start = RunAt(Math.Max(0, from - 1)) is { } before ? before.Unit : from;
        var runs = RunsIn(start, to + 1);
        for (int i = 0; i < runs.Count;)
        {
            int j = i + 1;
            long count = runs[i].Count;
            while (j < runs.Count && runs[j].Unit == runs[i].Unit + count && runs[j].Refs == runs[i].Refs) count += runs[j++].Count;
            if (j > i + 1)
            {
                using (var d = Cmd("DELETE FROM refrun WHERE unit >= $a AND unit <= $b"))
                {
                    d.Parameters.AddWithValue("$a", runs[i].Unit);
                    d.Parameters.AddWithValue("$b", runs[j - 1].Unit);
                    d.ExecuteNonQuery();
                }
                PutRun(runs[i].Unit, count, runs[i].Refs);
            }
            i = j;
        }
    }

    /// <summary>Adds one reference to each of physical units [<paramref name="unit"/>, + <paramref name="count"/>).</summary>
    public void AddRefRange(long unit, long count)
    {
        long end = unit + count;
        SplitRunAt(unit);
        SplitRunAt(end);
        var existing = RunsIn(unit, end);
        using (var u = Cmd("UPDATE refrun SET refs = refs + 1 WHERE unit >= $a AND unit < $b"))
        {
            u.Parameters.AddWithValue("$a", unit);
            u.Parameters.AddWithValue("$b", end);
            u.ExecuteNonQuery();
        }
        long at = unit; // the units no run covered get a run of their own with one reference
        foreach (var run in existing)
        {
            if (run.Unit > at) PutRun(at, run.Unit - at, 1);
            at = run.Unit + run.Count;
        }
        if (at < end) PutRun(at, end - at, 1);
        MergeRuns(unit, end);
    }

    public void AddRef(long unit) => AddRefRange(unit, 1);

    /// <summary>Drops one reference of each of physical units [<paramref name="unit"/>, + <paramref name="count"/>);
    /// returns the units that have none left (free now).</summary>
    public List<long> ReleaseRefRange(long unit, long count)
    {
        long end = unit + count;
        SplitRunAt(unit);
        SplitRunAt(end);
        var freed = new List<long>();
        foreach (var run in RunsIn(unit, end))
            if (run.Refs <= 1)
                for (long k = 0; k < run.Count; k++) freed.Add(run.Unit + k);
        using (var d = Cmd("DELETE FROM refrun WHERE unit >= $a AND unit < $b AND refs <= 1"))
        {
            d.Parameters.AddWithValue("$a", unit);
            d.Parameters.AddWithValue("$b", end);
            d.ExecuteNonQuery();
        }
        using (var u = Cmd("UPDATE refrun SET refs = refs - 1 WHERE unit >= $a AND unit < $b"))
        {
            u.Parameters.AddWithValue("$a", unit);
            u.Parameters.AddWithValue("$b", end);
            u.ExecuteNonQuery();
        }
        MergeRuns(unit, end);
        return freed;
    }

    public long Refs(long unit) => RunAt(unit)?.Refs ?? 0;

    /// <summary>Drops one reference; returns true when the unit is now free.</summary>
    public bool Release(long unit) => ReleaseRefRange(unit, 1).Count > 0;

    public List<long> UsedUnits()
    {
        var list = new List<long>();
        foreach (var (u, count, _) in RunsIn(long.MinValue, long.MaxValue))
            for (long k = 0; k < count; k++) list.Add(u + k);
        return list;
    }

    // ------------------------------------------------------------------ range operations

    /// <summary>Points the destination's file units [<paramref name="dstIndex"/>, + <paramref name="count"/>) at the
    /// units the source maps at [<paramref name="srcIndex"/>, + count) and adds one reference to each: one extent row
    /// and one reference-count update per extent of the source, whatever the length (a 1 GiB file written in one go is
    /// one extent). The destination range must be unmapped (<see cref="ReleaseRange"/> first).</summary>
    public long CloneRange(long srcNode, long srcIndex, long dstNode, long dstIndex, long count)
    {
        long mapped = 0;
        foreach (var (idx, n, unit) in Extents(srcNode, srcIndex, srcIndex + count))
        {
            InsertExtent(dstNode, dstIndex + (idx - srcIndex), n, unit);
            AddRefRange(unit, n);
            mapped += n;
        }
        return mapped;
    }

    /// <summary>Unmaps the node's file units [<paramref name="fromIndex"/>, <paramref name="toIndex"/>) and drops one
    /// reference per unit; returns the units that no longer have any (free now).</summary>
    public List<long> ReleaseRange(long node, long fromIndex, long toIndex = long.MaxValue)
    {
        var freed = new List<long>();
        foreach (var (unit, count) in CutExtents(node, fromIndex, toIndex)) freed.AddRange(ReleaseRefRange(unit, count));
        return freed;
    }

    // ------------------------------------------------------------------ consistency

    /// <summary>Compares the reference counts with the extents and repairs what does not match (run at mount, in one
    /// transaction, before the free-space map is built from the counts): a unit mapped by a file but without a count
    /// would be handed out as free while in use; a count that differs from the number of extents covering the unit is
    /// wrong; a count on a unit no extent covers is leaked space. Any of them: the counts are rebuilt from the extents.
    /// Extents pointing past the volume's last unit are reported (not repaired: the data is not there). Counts are
    /// per unit.</summary>
    public ConsistencyReport CheckAndRepair(long units)
    {
        var actual = new int[units];
        long outOfRange = 0;
        using (var c = Cmd("SELECT count, unit FROM extent"))
        using (var r = c.ExecuteReader())
            while (r.Read())
                for (long k = 0, n = r.GetInt64(0), u = r.GetInt64(1); k < n; k++)
                    if (u + k >= 0 && u + k < units) actual[u + k]++;
                    else outOfRange++;
        var recorded = new long[units];
        long leaked = 0;
        foreach (var (u, count, refs) in RunsIn(long.MinValue, long.MaxValue))
            for (long k = 0; k < count; k++)
                if (u + k >= 0 && u + k < units) recorded[u + k] = refs;
                else leaked++;
        long missing = 0, wrong = 0, used = 0, shared = 0;
        for (long u = 0; u < units; u++)
        {
            if (actual[u] > 0) used++;
            if (actual[u] > 1) shared++;
            if (actual[u] > 0 && recorded[u] == 0) missing++;
            else if (actual[u] > 0 && recorded[u] != actual[u]) wrong++;
            else if (actual[u] == 0 && recorded[u] > 0) leaked++;
        }
        if (missing + wrong + leaked > 0)
        {
            Exec("DELETE FROM refrun;");
            for (long u = 0; u < units;)
            {
                if (actual[u] == 0) { u++; continue; }
                long v = u + 1;
                while (v < units && actual[v] == actual[u]) v++;
                PutRun(u, v - u, actual[u]);
                u = v;
            }
        }
        long files;
        using (var f = Cmd("SELECT count(*) FROM node WHERE kind = 2"))
            files = Convert.ToInt64(f.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        return new ConsistencyReport(files, used, shared, 0, missing, wrong, leaked, outOfRange);
    }

    /// <summary>Schema version in <c>PRAGMA user_version</c>: 2 = extents and reference-count runs; 1 (or 0, the same
    /// tables before the version was recorded) = one <c>map</c> row per unit and one <c>unit</c> row per physical unit,
    /// migrated at mount (<see cref="Migrate"/>).</summary>
    public long SchemaVersion
    {
        get
        {
            using var c = Cmd("PRAGMA user_version");
            return Convert.ToInt64(c.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    public const long CurrentSchemaVersion = 2;

    internal void SetSchemaVersion(long version) => Exec($"PRAGMA user_version = {version.ToString(System.Globalization.CultureInfo.InvariantCulture)}");

    /// <summary>Brings a version 0/1 store (per-unit <c>map</c> and <c>unit</c> rows) to version 2 in one transaction:
    /// consecutive map rows whose units are consecutive become one extent, consecutive units with the same count one run.</summary>
    public void Migrate()
    {
        long version = SchemaVersion;
        if (version >= CurrentSchemaVersion) return;
        InTransaction(() =>
        {
            Exec(ExtentSchema);
            var rows = new List<(long Node, long Idx, long Unit)>();
            using (var c = Cmd("SELECT node, idx, unit FROM map ORDER BY node, idx"))
            using (var r = c.ExecuteReader())
                while (r.Read()) rows.Add((r.GetInt64(0), r.GetInt64(1), r.GetInt64(2)));
            for (int i = 0; i < rows.Count;)
            {
                int j = i + 1;
                while (j < rows.Count && rows[j].Node == rows[i].Node && rows[j].Idx == rows[i].Idx + (j - i) && rows[j].Unit == rows[i].Unit + (j - i)) j++;
                PutExtent(rows[i].Node, rows[i].Idx, j - i, rows[i].Unit);
                i = j;
            }
            var units = new List<(long Unit, long Refs)>();
            using (var c = Cmd("SELECT unit, refs FROM unit ORDER BY unit"))
            using (var r = c.ExecuteReader())
                while (r.Read()) units.Add((r.GetInt64(0), r.GetInt64(1)));
            for (int i = 0; i < units.Count;)
            {
                int j = i + 1;
                while (j < units.Count && units[j].Unit == units[i].Unit + (j - i) && units[j].Refs == units[i].Refs) j++;
                PutRun(units[i].Unit, j - i, units[i].Refs);
                i = j;
            }
            Exec("DROP TABLE map; DROP TABLE unit;");
            SetSchemaVersion(CurrentSchemaVersion);
            return 0;
        });
    }

    private const string ExtentSchema = """
        CREATE TABLE extent(node INTEGER NOT NULL REFERENCES node(id) ON DELETE CASCADE, idx INTEGER NOT NULL,
            count INTEGER NOT NULL CHECK (count > 0), unit INTEGER NOT NULL, PRIMARY KEY (node, idx)) WITHOUT ROWID;
        CREATE TABLE refrun(unit INTEGER PRIMARY KEY, count INTEGER NOT NULL CHECK (count > 0), refs INTEGER NOT NULL CHECK (refs > 0));
        """;

    // ------------------------------------------------------------------ plumbing

    private SqliteCommand Cmd(string sql)
    {
        var c = _db.CreateCommand();
        c.CommandText = sql;
        c.Transaction = _tx;
        return c;
    }

    private void Exec(string sql)
    {
        using var c = Cmd(sql);
        c.ExecuteNonQuery();
    }
}
