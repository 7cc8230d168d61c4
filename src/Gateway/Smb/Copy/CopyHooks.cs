using SmbCopy.Gateway.Smb.Files;

namespace SmbCopy.Gateway.Smb.Copy;

/// <summary>
/// The two places outside the copy code that server-side copy needs to hear from: an open closes (its resume key and
/// the ODX tokens made through it die), and a file's data changes (ODX tokens covering the range die).
/// </summary>
public static class CopyHooks
{
    /// <summary>Called by <see cref="FileOpen.CloseAsync"/>.</summary>
    public static void OpenClosed(FileOpen open)
    {
        ResumeKeyTable.Remove(open);
        OffloadTokenTable.RemoveFor(open);
    }

    /// <summary>
    /// Called after bytes [offset, offset + length) of the file of <paramref name="open"/> were written (WRITE, copies),
    /// or with length = long.MaxValue - offset after its end of file was set to <paramref name="offset"/>.
    /// </summary>
    public static void DataChanged(FileOpen open, long offset, long length) =>
        OffloadTokenTable.Invalidate(open.Volume, open.Node.FileId, offset, length);

    /// <summary>The end of file of <paramref name="open"/>'s file was set (SET_INFO EndOfFile / Allocation, overwrite).</summary>
    public static void EndOfFileChanged(FileOpen open, long newEndOfFile) =>
        OffloadTokenTable.Invalidate(open.Volume, open.Node.FileId, Math.Max(0, newEndOfFile), long.MaxValue - Math.Max(0, newEndOfFile));
}
