namespace SmbCopy.Gateway.Smb.Files.Info;

/// <summary>8.3 (short) name rules, MS-FSCC 2.1.5.2.1.</summary>
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

    private static bool Valid(string part)
    {
        foreach (char c in part)
        {
            if (c < 0x21 || c > 0x7E || Invalid.Contains(c)) return false;
        }
        return true;
    }
}
