using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Smb.Files;

/// <summary>
/// A CREATE name split into the file's share-relative path and the stream part (MS-FSCC 2.1.5.3 / 2.1.5.1 pathname
/// "file:stream:type"; MS-FSA 2.1.5.1 stream name parsing).
/// </summary>
/// <param name="Path">'\'-separated path of the file or directory ("" for the share root).</param>
/// <param name="Stream">The named data stream, or null for the file itself.</param>
/// <param name="UnnamedData">The name said "::$DATA" explicitly: the unnamed data stream (a directory has none).</param>
/// <param name="Index">The name said "::$INDEX_ALLOCATION" or ":$I30:$INDEX_ALLOCATION": the directory itself.</param>
public readonly record struct StreamPath(string Path, string? Stream, bool UnnamedData, bool Index)
{
    /// <summary>The name as Windows shows it (FileNameInformation, normalized name): "path:stream" for a stream.</summary>
    public static string Display(string path, string? stream) => stream is null ? path : path + ":" + stream;
}

public static class StreamNames
{
    private const string DataType = "$DATA";
    private const string IndexType = "$INDEX_ALLOCATION";
    private const string IndexName = "$I30";

    /// <summary>
    /// Parses a CREATE name. OBJECT_NAME_INVALID for: empty components in the middle, ':' outside the last component,
    /// more than two ':' in it, an empty stream name without a type ("file:"), a type other than $DATA and
    /// $INDEX_ALLOCATION, $INDEX_ALLOCATION with a stream other than $I30, or an invalid stream name.
    /// </summary>
    public static NtStatus Parse(string name, out StreamPath parsed)
    {
        parsed = default;
        name = name.Replace('/', '\\');
        int lastSeparator = name.TrimEnd('\\').LastIndexOf('\\');
        int colon = name.IndexOf(':');
        if (colon >= 0 && colon < lastSeparator) return NtStatus.ObjectNameInvalid; // a stream of a directory in the middle
        string? stream = null;
        bool unnamedData = false, index = false;
        if (colon >= 0)
        {
            string streamPart = name[(colon + 1)..];
            name = name[..colon];
            var parts = streamPart.Split(':');
            if (parts.Length > 2) return NtStatus.ObjectNameInvalid;
            string streamName = parts[0];
            string? type = parts.Length == 2 ? parts[1] : null;
            if (type is null)
            {
                if (streamName.Length == 0) return NtStatus.ObjectNameInvalid; // "file:"
            }
            else if (type.Equals(IndexType, StringComparison.OrdinalIgnoreCase))
            {
                if (streamName.Length != 0 && !streamName.Equals(IndexName, StringComparison.OrdinalIgnoreCase)) return NtStatus.ObjectNameInvalid;
                index = true;
                streamName = "";
            }
            else if (!type.Equals(DataType, StringComparison.OrdinalIgnoreCase))
            {
                return NtStatus.ObjectNameInvalid;
            }
            if (streamName.Length == 0)
            {
                unnamedData = !index;
            }
            else
            {
                if (!IsValidStreamName(streamName)) return NtStatus.ObjectNameInvalid;
                stream = streamName;
            }
        }
        name = name.TrimEnd('\\');
        if (name.Contains("\\\\", StringComparison.Ordinal)) return NtStatus.ObjectNameInvalid;
        parsed = new StreamPath(name, stream, unnamedData, index);
        return NtStatus.Success;
    }

    /// <summary>MS-FSCC 2.1.5.3: 1-255 characters, none of NUL '\' '/' ':'.</summary>
    public static bool IsValidStreamName(string name)
    {
        if (name.Length is 0 or > 255 || name is "." or "..") return false;
        foreach (char c in name)
        {
            if (c is '\0' or '\\' or '/' or ':') return false;
        }
        return true;
    }
}
