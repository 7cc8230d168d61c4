using SmbCopy.Gateway.Smb.Files.Info;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;

namespace SmbCopy.Gateway.Tests.FileInfo;

/// <summary>QUERY_INFO FileFullEaInformation paging: restart, single entry, whole entries only, the open's EA index.</summary>
public class ExtendedAttributesQueryTests
{
    private static readonly List<FullEaEntry> Eas =
    [
        new(0, "EAONE", "VALUE1"u8.ToArray()),          // 20 bytes
        new(FullEaEntry.NeedEa, "SECONDEA", "ValueTwo"u8.ToArray()), // 25 bytes
        new(0, "THIRD", [1, 2, 3]),                     // 17 bytes
    ];

    private static List<string> Names(InfoAnswer a) => FullEaInformation.Parse(a.Data)!.Select(e => e.Name).ToList();

    [Fact]
    public void AllEntriesThatFitAndTheIndexMovesOn()
    {
        int index = 0;
        var all = ExtendedAttributes.Page(Eas, QueryInfoRequest.FlagRestartScan, [], 1024, ref index);
        Assert.Equal(NtStatus.Success, all.Status);
        Assert.Equal(["EAONE", "SECONDEA", "THIRD"], Names(all));
        Assert.Equal(3, index);
        Assert.Equal(NtStatus.NoMoreEas, ExtendedAttributes.Page(Eas, 0, [], 1024, ref index).Status);
        Assert.Equal(NtStatus.Success, ExtendedAttributes.Page(Eas, QueryInfoRequest.FlagRestartScan, [], 1024, ref index).Status);
    }

    [Fact]
    public void ASmallBufferGetsWholeEntriesWithBufferOverflow()
    {
        int index = 0;
        // 20 (EAONE) padded to 20, + 25 (SECONDEA) = 45 fits in 48; THIRD does not.
        var part = ExtendedAttributes.Page(Eas, QueryInfoRequest.FlagRestartScan, [], 48, ref index);
        Assert.Equal(NtStatus.BufferOverflow, part.Status);
        Assert.Equal(["EAONE", "SECONDEA"], Names(part));
        Assert.Equal(2, index);
        var rest = ExtendedAttributes.Page(Eas, 0, [], 48, ref index);
        Assert.Equal(NtStatus.Success, rest.Status);
        Assert.Equal(["THIRD"], Names(rest));

        index = 0;
        var none = ExtendedAttributes.Page(Eas, 0, [], 10, ref index);
        Assert.Equal(NtStatus.BufferTooSmall, none.Status);
        Assert.Equal(20, none.RequiredSize);
        Assert.Equal(0, index);
    }

    [Fact]
    public void SingleEntryAndNamedQueries()
    {
        int index = 1;
        var one = ExtendedAttributes.Page(Eas, QueryInfoRequest.FlagReturnSingleEntry, [], 1024, ref index);
        Assert.Equal(["SECONDEA"], Names(one));
        Assert.Equal(FullEaEntry.NeedEa, FullEaInformation.Parse(one.Data)![0].Flags);
        Assert.Equal(2, index);

        // FILE_GET_EA_INFORMATION: "third" and a missing name (empty value); the index does not move.
        byte[] list = [12, 0, 0, 0, 5, (byte)'t', (byte)'h', (byte)'i', (byte)'r', (byte)'d', 0, 0, 0, 0, 0, 0, 4, (byte)'N', (byte)'O', (byte)'N', (byte)'E', 0];
        var named = ExtendedAttributes.Page(Eas, 0, list, 1024, ref index);
        var entries = FullEaInformation.Parse(named.Data)!;
        Assert.Equal(["THIRD", "NONE"], entries.Select(e => e.Name).ToArray());
        Assert.Empty(entries[1].Value);
        Assert.Equal(2, index);
        Assert.Equal(NtStatus.EaListInconsistent, ExtendedAttributes.Page(Eas, 0, [1, 0, 0], 1024, ref index).Status);
    }

    [Fact]
    public void AFileWithoutEasAnswersNoEasOnFile()
    {
        int index = 0;
        Assert.Equal(NtStatus.NoEasOnFile, ExtendedAttributes.Page([], QueryInfoRequest.FlagRestartScan, [], 1024, ref index).Status);
    }
}
