namespace SmbCopy.Storage;

/// <summary>
/// Windows name matching ([MS-FSA] 2.1.4.4, FsRtlIsNameInExpression): '*' any sequence, '?' one character,
/// DOS_STAR '&lt;' any sequence up to the last '.', DOS_QM '&gt;' one character or nothing before a '.' or the end,
/// DOS_DOT '"' a '.' or the end. Case-insensitive (ordinal ignore case).
/// </summary>
public static class WildcardPattern
{
    /// <summary>True when the pattern matches every name (null, "", "*", "*.*").</summary>
    public static bool MatchesAll(string? pattern) => pattern is null or "" or "*" or "*.*";

    /// <summary>True when the pattern contains a wildcard.</summary>
    public static bool HasWildcards(ReadOnlySpan<char> pattern) => pattern.IndexOfAny("*?<>\"") >= 0;

    public static bool IsMatch(string? pattern, ReadOnlySpan<char> name)
    {
        if (MatchesAll(pattern))
            return true;
        ReadOnlySpan<char> p = pattern;
        if (!HasWildcards(p))
            return p.Equals(name, StringComparison.OrdinalIgnoreCase);

        int n = name.Length;
        int lastDot = name.LastIndexOf('.');
        // cur[j]: the pattern prefix processed so far matches name[..j].
        Span<bool> cur = n < 512 ? stackalloc bool[n + 1] : new bool[n + 1];
        Span<bool> next = n < 512 ? stackalloc bool[n + 1] : new bool[n + 1];
        cur.Clear();
        cur[0] = true;
        foreach (char pc in p)
        {
            next.Clear();
            bool any = false;
            for (int j = 0; j <= n; j++)
            {
                if (!cur[j])
                    continue;
                switch (pc)
                {
                    case '*':
                        for (int k = j; k <= n; k++) next[k] = true;
                        break;
                    case '<':
                        {
                            int limit = lastDot >= j ? lastDot : n;
                            for (int k = j; k <= limit; k++) next[k] = true;
                            break;
                        }
                    case '?':
                        if (j < n) next[j + 1] = true;
                        break;
                    case '>':
                        if (j < n && name[j] != '.') next[j + 1] = true;
                        else next[j] = true;
                        break;
                    case '"':
                        if (j < n && name[j] == '.') next[j + 1] = true;
                        else if (j == n) next[j] = true;
                        break;
                    default:
                        if (j < n && EqualsIgnoreCase(pc, name[j])) next[j + 1] = true;
                        break;
                }
            }
            for (int j = 0; j <= n && !any; j++) any = next[j];
            if (!any)
                return false;
            var t = cur; cur = next; next = t;
        }
        return cur[n];
    }

    private static bool EqualsIgnoreCase(char a, char b) =>
        a == b || MemoryExtensions.Equals([a], [b], StringComparison.OrdinalIgnoreCase);
}
