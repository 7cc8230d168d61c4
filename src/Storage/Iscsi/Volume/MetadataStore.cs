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
