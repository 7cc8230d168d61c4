using SmbCopy.Gateway.Smb.Files;
using SmbCopy.Protocol.Fscc;

namespace SmbCopy.Gateway.Tests.Smb;

/// <summary>MS-FSA 2.1.5.1.2: share-access conflicts between two opens of one file.</summary>
public sealed class ShareModeTests
{
    private const AccessMask Read = AccessMask.FileReadData;
    private const AccessMask Write = AccessMask.FileWriteData;
    private const AccessMask Attributes = AccessMask.FileReadAttributes;

    [Theory]
    [InlineData(Read, ShareAccess.Read, Read, ShareAccess.Read, false)]
    [InlineData(Read, ShareAccess.Read, Write, ShareAccess.Read, true)]          // new writer, old shares read only
    [InlineData(Write, ShareAccess.Read | ShareAccess.Write, Read, ShareAccess.Read, true)] // old writer, new shares read only
    [InlineData(Write, ShareAccess.Write, Write, ShareAccess.Write, false)]
    [InlineData(AccessMask.Delete, ShareAccess.None, Read, ShareAccess.Read, true)]
    [InlineData(Read, ShareAccess.None, Attributes, ShareAccess.None, false)]    // attribute-only opens never conflict
    [InlineData(Read, ShareAccess.Read, AccessMask.Delete, ShareAccess.Read, true)] // delete needs FILE_SHARE_DELETE
    public void Conflicts_follow_the_share_access_table(AccessMask oldAccess, ShareAccess oldShare, AccessMask newAccess, ShareAccess newShare, bool expected)
    {
        Assert.Equal(expected, FileNode.Conflicts(newAccess, newShare, oldAccess, oldShare));
    }
}
