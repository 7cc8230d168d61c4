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
            DROP TABLE IF EXISTS map; DROP TABLE IF EXISTS unit; DROP TABLE IF EXISTS node; DROP TABLE IF EXISTS volume;
            CREATE TABLE volume(id INTEGER PRIMARY KEY CHECK (id = 1), uuid BLOB NOT NULL, unit_size INTEGER NOT NULL, units INTEGER NOT NULL);
            CREATE TABLE node(id INTEGER PRIMARY KEY AUTOINCREMENT, parent INTEGER, name TEXT, name_key TEXT,
                kind INTEGER NOT NULL, attributes INTEGER NOT NULL, created INTEGER NOT NULL, accessed INTEGER NOT NULL,
                written INTEGER NOT NULL, changed INTEGER NOT NULL, size INTEGER NOT NULL DEFAULT 0, target TEXT);
            CREATE UNIQUE INDEX node_name ON node(parent, name_key) WHERE parent IS NOT NULL;
            CREATE TABLE unit(unit INTEGER PRIMARY KEY, refs INTEGER NOT NULL CHECK (refs > 0));
            CREATE TABLE map(node INTEGER NOT NULL REFERENCES node(id) ON DELETE CASCADE, idx INTEGER NOT NULL,
                unit INTEGER NOT NULL REFERENCES unit(unit), PRIMARY KEY (node, idx)) WITHOUT ROWID;
            """);
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

    // ------------------------------------------------------------------ unit map

    /// <summary>(file unit index, physical unit) of a node from <paramref name="fromIndex"/> (inclusive) to
    /// <paramref name="toIndex"/> (exclusive), in order.</summary>
    public List<(long Index, long Unit)> Map(long node, long fromIndex = 0, long toIndex = long.MaxValue)
    {
        using var c = Cmd("SELECT idx, unit FROM map WHERE node = $n AND idx >= $a AND idx < $b ORDER BY idx");
        c.Parameters.AddWithValue("$n", node);
        c.Parameters.AddWithValue("$a", fromIndex);
        c.Parameters.AddWithValue("$b", toIndex);
        using var r = c.ExecuteReader();
        var list = new List<(long, long)>();
        while (r.Read()) list.Add((r.GetInt64(0), r.GetInt64(1)));
        return list;
    }

    public long MappedUnits(long node)
    {
        using var c = Cmd("SELECT count(*) FROM map WHERE node = $n");
        c.Parameters.AddWithValue("$n", node);
        return Convert.ToInt64(c.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public void SetMap(long node, long index, long unit)
    {
        using var c = Cmd("INSERT INTO map(node, idx, unit) VALUES ($n, $i, $u) ON CONFLICT(node, idx) DO UPDATE SET unit = excluded.unit");
        c.Parameters.AddWithValue("$n", node);
        c.Parameters.AddWithValue("$i", index);
        c.Parameters.AddWithValue("$u", unit);
        c.ExecuteNonQuery();
    }

    public void RemoveMap(long node, long index)
    {
        using var c = Cmd("DELETE FROM map WHERE node = $n AND idx = $i");
        c.Parameters.AddWithValue("$n", node);
        c.Parameters.AddWithValue("$i", index);
        c.ExecuteNonQuery();
    }

    // ------------------------------------------------------------------ physical units

    public long Refs(long unit)
    {
        using var c = Cmd("SELECT refs FROM unit WHERE unit = $u");
        c.Parameters.AddWithValue("$u", unit);
        return c.ExecuteScalar() is long n ? n : 0;
    }

    public void AddRef(long unit)
    {
        using var c = Cmd("INSERT INTO unit(unit, refs) VALUES ($u, 1) ON CONFLICT(unit) DO UPDATE SET refs = refs + 1");
        c.Parameters.AddWithValue("$u", unit);
        c.ExecuteNonQuery();
    }

    /// <summary>Drops one reference; returns true when the unit is now free.</summary>
    public bool Release(long unit)
    {
        using var c = Cmd("UPDATE unit SET refs = refs - 1 WHERE unit = $u AND refs > 1");
        c.Parameters.AddWithValue("$u", unit);
        if (c.ExecuteNonQuery() == 1) return false;
        using var d = Cmd("DELETE FROM unit WHERE unit = $u");
        d.Parameters.AddWithValue("$u", unit);
        d.ExecuteNonQuery();
        return true;
    }

    public List<long> UsedUnits()
    {
        using var c = Cmd("SELECT unit FROM unit");
        using var r = c.ExecuteReader();
        var list = new List<long>();
        while (r.Read()) list.Add(r.GetInt64(0));
        return list;
    }

    // ------------------------------------------------------------------ set-based range operations

    /// <summary>Points the destination's file units [<paramref name="dstIndex"/>, + <paramref name="count"/>) at the
    /// units the source maps at [<paramref name="srcIndex"/>, + count) and adds one reference per new row: a few
    /// statements whatever the length (a 1 GiB clone is 16,384 rows in one INSERT … SELECT, no per-row round trip).
    /// The destination range must have no rows (<see cref="ReleaseRange"/> first).</summary>
    public long CloneRange(long srcNode, long srcIndex, long dstNode, long dstIndex, long count)
    {
        using (var r = Cmd("WITH c AS (SELECT unit, count(*) AS n FROM map WHERE node = $s AND idx >= $a AND idx < $b GROUP BY unit) " +
                           "UPDATE unit SET refs = refs + c.n FROM c WHERE unit.unit = c.unit"))
        {
            r.Parameters.AddWithValue("$s", srcNode);
            r.Parameters.AddWithValue("$a", srcIndex);
            r.Parameters.AddWithValue("$b", srcIndex + count);
            r.ExecuteNonQuery();
        }
        using var m = Cmd("INSERT INTO map(node, idx, unit) SELECT $d, idx - $a + $di, unit FROM map WHERE node = $s AND idx >= $a AND idx < $b");
        m.Parameters.AddWithValue("$d", dstNode);
        m.Parameters.AddWithValue("$di", dstIndex);
        m.Parameters.AddWithValue("$s", srcNode);
        m.Parameters.AddWithValue("$a", srcIndex);
        m.Parameters.AddWithValue("$b", srcIndex + count);
        return m.ExecuteNonQuery();
    }

    /// <summary>Removes the node's rows for file units [<paramref name="fromIndex"/>, <paramref name="toIndex"/>) and
    /// drops one reference per row; returns the units that no longer have any (free now).</summary>
    public List<long> ReleaseRange(long node, long fromIndex, long toIndex = long.MaxValue)
    {
        Exec("CREATE TEMP TABLE IF NOT EXISTS rel(unit INTEGER PRIMARY KEY, n INTEGER NOT NULL); DELETE FROM rel;");
        using (var c = Cmd("INSERT INTO rel(unit, n) SELECT unit, count(*) FROM map WHERE node = $n AND idx >= $a AND idx < $b GROUP BY unit"))
        {
            c.Parameters.AddWithValue("$n", node);
            c.Parameters.AddWithValue("$a", fromIndex);
            c.Parameters.AddWithValue("$b", toIndex);
            if (c.ExecuteNonQuery() == 0) return [];
        }
        using (var d = Cmd("DELETE FROM map WHERE node = $n AND idx >= $a AND idx < $b"))
        {
            d.Parameters.AddWithValue("$n", node);
            d.Parameters.AddWithValue("$a", fromIndex);
            d.Parameters.AddWithValue("$b", toIndex);
            d.ExecuteNonQuery();
        }
        var freed = new List<long>();
        using (var f = Cmd("SELECT rel.unit FROM rel JOIN unit ON unit.unit = rel.unit WHERE unit.refs <= rel.n"))
        using (var r = f.ExecuteReader())
            while (r.Read()) freed.Add(r.GetInt64(0));
        Exec("DELETE FROM unit WHERE unit IN (SELECT rel.unit FROM rel JOIN unit u ON u.unit = rel.unit WHERE u.refs <= rel.n);" +
             "UPDATE unit SET refs = refs - rel.n FROM rel WHERE unit.unit = rel.unit;");
        return freed;
    }

    // ------------------------------------------------------------------ consistency

    /// <summary>Compares the reference counts with the map and repairs what does not match (run at mount, in one
    /// transaction, before the free-space map is built from <c>unit</c>): a unit mapped by a file but missing from
    /// <c>unit</c> would be handed out as free while in use (inserted with its real count); a count that differs from
    /// the number of map rows is set to it; a unit with a count but no row is leaked space (deleted: free again).
    /// Rows pointing past the volume's last unit are reported (not repaired: the data is not there).</summary>
    public ConsistencyReport CheckAndRepair(long units)
    {
        long Scalar(string sql)
        {
            using var c = Cmd(sql);
            c.Parameters.AddWithValue("$units", units);
            return Convert.ToInt64(c.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }
        Exec("CREATE TEMP TABLE IF NOT EXISTS actual(unit INTEGER PRIMARY KEY, n INTEGER NOT NULL); DELETE FROM actual;" +
             "INSERT INTO actual(unit, n) SELECT unit, count(*) FROM map GROUP BY unit;");
        long missing = Scalar("SELECT count(*) FROM actual WHERE unit NOT IN (SELECT unit FROM unit)");
        long wrong = Scalar("SELECT count(*) FROM unit JOIN actual ON actual.unit = unit.unit WHERE unit.refs <> actual.n");
        long leaked = Scalar("SELECT count(*) FROM unit WHERE unit NOT IN (SELECT unit FROM actual)");
        long outOfRange = Scalar("SELECT count(*) FROM actual WHERE unit < 0 OR unit >= $units");
        long files = Scalar("SELECT count(*) FROM node WHERE kind = 2");
        long used = Scalar("SELECT count(*) FROM actual");
        long shared = Scalar("SELECT count(*) FROM actual WHERE n > 1");
        if (missing + wrong + leaked > 0)
            Exec("INSERT INTO unit(unit, refs) SELECT unit, n FROM actual WHERE unit NOT IN (SELECT unit FROM unit);" +
                 "UPDATE unit SET refs = actual.n FROM actual WHERE actual.unit = unit.unit AND unit.refs <> actual.n;" +
                 "DELETE FROM unit WHERE unit NOT IN (SELECT unit FROM actual);");
        Exec("DELETE FROM actual;");
        return new ConsistencyReport(files, used, shared, 0, missing, wrong, leaked, outOfRange);
    }

    /// <summary>Schema version in <c>PRAGMA user_version</c>: 0 = written before the version existed (same tables as 1).</summary>
    public long SchemaVersion
    {
        get
        {
            using var c = Cmd("PRAGMA user_version");
            return Convert.ToInt64(c.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    public const long CurrentSchemaVersion = 1;

    internal void SetSchemaVersion(long version) => Exec($"PRAGMA user_version = {version.ToString(System.Globalization.CultureInfo.InvariantCulture)}");

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
