namespace SmbCopy.Storage;

/// <summary>
/// Share-relative path rules common to every driver (see <see cref="IStorageVolume"/>): validated and split before
/// any backend is touched.
/// </summary>
public static class StoragePath
{
    /// <summary>Canonical separator of share-relative paths.</summary>
    public const char Separator = '\\';

    /// <summary>Longest component, in UTF-16 code units (Windows' limit).</summary>
    public const int MaxComponentLength = 255;

    /// <summary>Splits and validates a share-relative path; "" (the root) gives no components.</summary>
    /// <exception cref="StorageException">OutsideShare for "..", absolute or drive-qualified names; NameInvalid otherwise.</exception>
    public static string[] Split(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0)
            return [];
        if (path[0] is '\\' or '/')
            throw new StorageException(StorageError.OutsideShare, "Absolute names are not share-relative.");
        if (path.Length >= 2 && path[1] == ':' && char.IsAsciiLetter(path[0]) && (path.Length == 2 || path[2] is '\\' or '/'))
            throw new StorageException(StorageError.OutsideShare, "Drive-qualified names are not share-relative.");

        int count = 1;
        foreach (char c in path)
            if (c is '\\' or '/')
                count++;
        var parts = new string[count];
        int start = 0, n = 0;
        for (int i = 0; i <= path.Length; i++)
        {
            if (i == path.Length || path[i] is '\\' or '/')
            {
                var component = path.AsSpan(start, i - start);
                ValidateComponent(component);
                parts[n++] = component.ToString();
                start = i + 1;
            }
        }
        return parts;
    }

    /// <summary>Validates one name (no separators).</summary>
    public static void ValidateComponent(ReadOnlySpan<char> name)
    {
        if (name.Length == 0)
            throw new StorageException(StorageError.NameInvalid, "Empty path component.");
        if (name is "..")
            throw new StorageException(StorageError.OutsideShare, "'..' is not allowed in a share path.");
        if (name is ".")
            throw new StorageException(StorageError.NameInvalid, "'.' is not allowed in a share path.");
        if (name.Length > MaxComponentLength)
            throw new StorageException(StorageError.NameInvalid, "Name too long.");
        if (!IsValidComponent(name))
            throw new StorageException(StorageError.NameInvalid, "The name contains a character Windows does not allow.");
    }

    /// <summary>True when <paramref name="name"/> is a name Windows can use (and not "." or "..").</summary>
    public static bool IsValidComponent(ReadOnlySpan<char> name)
    {
        if (name.Length == 0 || name.Length > MaxComponentLength || name is "." or "..")
            return false;
        foreach (char c in name)
        {
            if (c < 0x20 || c is '\\' or '/' or ':' or '*' or '?' or '"' or '<' or '>' or '|')
                return false;
        }
        return !name.ContainsAnyInRange('\uD800', '\uDFFF') || IsWellFormedUtf16(name);
    }

    /// <summary>
    /// Validates a stream name (MS-FSCC 2.1.5.3: 1-255 characters, none of NUL '\\' '/' ':'; "." and ".." are refused
    /// too, they cannot name a file of the backend).
    /// </summary>
    /// <exception cref="StorageException">NameInvalid.</exception>
    public static void ValidateStreamName(ReadOnlySpan<char> name)
    {
        if (name.Length == 0 || name.Length > MaxComponentLength || name is "." or "..")
            throw new StorageException(StorageError.NameInvalid, "Invalid stream name length.");
        foreach (char c in name)
        {
            if (c is '\0' or '\\' or '/' or ':')
                throw new StorageException(StorageError.NameInvalid, "The stream name contains a character Windows does not allow.");
        }
        if (name.ContainsAnyInRange('\uD800', '\uDFFF') && !IsWellFormedUtf16(name))
            throw new StorageException(StorageError.NameInvalid, "The stream name is not well-formed UTF-16.");
    }

    /// <summary>Joins components with the canonical separator.</summary>
    public static string Join(ReadOnlySpan<string> components) => string.Join(Separator, components);

    /// <summary>
    /// Where <paramref name="path"/> is after a directory <paramref name="oldPath"/> was renamed to
    /// <paramref name="newPath"/>: the path with that prefix replaced when it lies below <paramref name="oldPath"/>
    /// (case-insensitive), else null. <paramref name="separator"/> is the separator of all three paths. Drivers use it
    /// to make their other open handles follow a rename (see <see cref="IStorageHandle.Path"/>).
    /// </summary>
    public static string? Rebase(string path, string oldPath, string newPath, char separator = Separator)
    {
        if (oldPath.Length == 0 || path.Length <= oldPath.Length + 1 || path[oldPath.Length] != separator
            || !path.StartsWith(oldPath, StringComparison.OrdinalIgnoreCase))
            return null;
        return string.Concat(newPath, path.AsSpan(oldPath.Length));
    }

    private static bool IsWellFormedUtf16(ReadOnlySpan<char> s)
    {
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]))
            {
                if (i + 1 >= s.Length || !char.IsLowSurrogate(s[i + 1]))
                    return false;
                i++;
            }
            else if (char.IsLowSurrogate(s[i]))
                return false;
        }
        return true;
    }
}
