using SmbCopy.Gateway.Smb.Files.Info;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Storage;

namespace SmbCopy.Gateway.Tests.FileInfo;

public class VolumeAttributesTests
{
    [Fact]
    public void BlockRefcountingOnlyWhenTheVolumeCanClone()
    {
        Assert.True(FsInfoQueries.Attributes(StorageCapabilities.CloneRange, false).HasFlag(FileSystemAttributes.SupportsBlockRefcounting));
        Assert.False(FsInfoQueries.Attributes(StorageCapabilities.RangeCopy | StorageCapabilities.SparseFiles, false)
            .HasFlag(FileSystemAttributes.SupportsBlockRefcounting));
    }

    [Fact]
    public void SparseFilesAndReadOnlyFollowTheVolume()
    {
        Assert.True(FsInfoQueries.Attributes(StorageCapabilities.SparseFiles, false).HasFlag(FileSystemAttributes.SupportsSparseFiles));
        Assert.False(FsInfoQueries.Attributes(StorageCapabilities.None, false).HasFlag(FileSystemAttributes.SupportsSparseFiles));
        Assert.True(FsInfoQueries.Attributes(StorageCapabilities.None, true).HasFlag(FileSystemAttributes.ReadOnlyVolume));
        Assert.Equal(FileSystemAttributes.CasePreservedNames | FileSystemAttributes.UnicodeOnDisk | FileSystemAttributes.PersistentAcls,
            FsInfoQueries.Attributes(StorageCapabilities.None, false));
    }

    [Theory]
    [InlineData("hello.txt", true)]
    [InlineData("README", true)]
    [InlineData("12345678.abc", true)]
    [InlineData("123456789.txt", false)]
    [InlineData("a.html", false)]
    [InlineData("two.dots.txt", false)]
    [InlineData("with space", false)]
    [InlineData("été.txt", false)]
    [InlineData("trail.", false)]
    public void ShortNameRules(string name, bool valid) => Assert.Equal(valid, ShortNames.IsValid83(name));
}
