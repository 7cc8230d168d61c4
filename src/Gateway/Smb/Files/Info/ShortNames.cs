using System.Text;

namespace SmbCopy.Gateway.Smb.Files.Info;

/// <summary>
/// 8.3 (short) names, MS-FSCC 2.1.5.2.1. A name that is itself a valid 8.3 name is its own short name (Windows
/// keeps one name in both namespaces; directory entries then carry no ShortName). Any other name gets a generated one,
/// Windows-style: up to two characters of the name, four hex digits of a hash of the whole name, "~1", and up to three
/// characters of the extension ("TE1A2B~1.DAT") — the form NTFS uses once the plain "NAME~N" forms collide. It is a
/// pure function of the name, so FileAlternateNameInformation and every listing agree without a directory scan.
/// </summary>
public static class ShortNames
{
    private const string Invalid = "\"*+,/:;<=>?[\\]| .";

    /// <summary>True when <paramref name="name"/> is a valid 8.3 name: 1–8 characters, an optional dot and 1–3 more, OEM characters only.</summary>
    public static bool IsValid83(string name)
    {
        if (name.Length is 0 or > 12 || name is "." or "..") return false;
        int dot = name.IndexOf('.');
        string stem = dot < 0 ? name : name[..dot];
        string ext = dot < 0 ? "" : name[(dot + 1)..];
        if (stem.Length is 0 or > 8 || ext.Length > 3 || (dot >= 0 && ext.Length == 0)) return false;
        return Valid(stem) && Valid(ext);
    }

    /// <summary>The short name of <paramref name="name"/> (the name itself when it is valid 8.3).</summary>
    public static string ShortNameOf(string name)
    {
        if (IsValid83(name)) return name;
        int dot = name.LastIndexOf('.');
        string stem = Clean(dot > 0 ? name[..dot] : name, 2);
        string ext = dot > 0 ? Clean(name[(dot + 1)..], 3) : "";
        var sb = new StringBuilder(12);
        sb.Append(stem).Append(Hash(name).ToString("X4", System.Globalization.CultureInfo.InvariantCulture)).Append("~1");
        if (ext.Length > 0) sb.Append('.').Append(ext);
        return sb.ToString();
    }

    /// <summary>The ShortName of a directory entry: empty when the name is itself 8.3 (Windows, Samba), else the generated one.</summary>
    public static string? ForDirectoryEntry(string name) =>
        name is "." or ".." || IsValid83(name) ? null : ShortNameOf(name);

    private static string Clean(string part, int max)
    {
        var sb = new StringBuilder(max);
        foreach (char c in part.ToUpperInvariant())
        {
            if (sb.Length == max) break;
            if (c is > (char)0x20 and < (char)0x7F && !Invalid.Contains(c)) sb.Append(c);
            else if (c >= 0x80) sb.Append('_');
        }
        return sb.ToString();
    }

    /// <summary>16-bit FNV-1a fold of the upper-cased name (case-insensitive names give one short name).</summary>
    private static ushort Hash(string name)
    {
        uint h = 2166136261;
        foreach (char c in name.ToUpperInvariant())
        {
            h = (h ^ (c & 0xFFu)) * 16777619;
            h = (h ^ (uint)(c >> 8)) * 16777619;
        }
        return (ushort)(h ^ (h >> 16));
    }

    private static bool Valid(string part)
    {
        foreach (char c in part)
        {
            if (c < 0x21 || c > 0x7E || Invalid.Contains(c)) return false;
        }
        return true;
    }
}
