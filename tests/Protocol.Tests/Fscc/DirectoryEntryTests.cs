using System.Text;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Tests.Messages;
using SmbCopy.Protocol.Wire;
using FileAttributes = SmbCopy.Protocol.Fscc.FileAttributes;

namespace SmbCopy.Protocol.Tests.Fscc;

public class DirectoryEntryTests
{
    private static DirectoryEntry Entry(string name, string? shortName = null) => new()
    {
        FileName = name,
        ShortName = shortName,
        CreationTime = 0x0101,
        LastAccessTime = 0x0202,
        LastWriteTime = 0x0303,
        ChangeTime = 0x0404,
        EndOfFile = 1000,
        AllocationSize = 4096,
        FileAttributes = FileAttributes.Archive,
        EaSize = 0,
        FileId = 0xF11E,
    };

    private static Bytes Prefix(Bytes b, uint next, string name) => b.U32(next).U32(0).I64(0x0101).I64(0x0202).I64(0x0303).I64(0x0404)
        .I64(1000).I64(4096).U32(0x20).U32((uint)name.Length * 2);

    [Fact]
    public void IdBothDirectory_entries_are_8_aligned_with_patched_next_offset()
    {
        using var w = new WireWriter();
        var dw = new DirectoryEntryWriter(w, FileInformationClass.IdBothDirectory, 65536);
        Assert.True(dw.TryAdd(Entry("a.txt", "A.TXT")));
        Assert.True(dw.TryAdd(Entry("bb")));

        var expected = Prefix(new Bytes(), 120, "a.txt").U32(0).U8(10).U8(0).Utf16("A.TXT").Zeros(14).U16(0).U64(0xF11E).Utf16("a.txt")
            .Zeros(6); // 114 → 120
        expected = Prefix(expected, 0, "bb").U32(0).U8(0).U8(0).Zeros(24).U16(0).U64(0xF11E).Utf16("bb");
        Assert.Equal(Convert.ToHexString(expected.ToArray()), Convert.ToHexString(w.ToArray()));
        Assert.Equal(2, dw.Count);
        Assert.Equal(120 + 108, dw.BytesWritten);
    }

    [Fact]
    public void Entry_that_does_not_fit_is_refused_and_nothing_is_written()
    {
        using var w = new WireWriter();
        // first entry 104+10 = 114, second needs 120 + 104 + 4 = 228
        var dw = new DirectoryEntryWriter(w, FileInformationClass.IdBothDirectory, 227);
        Assert.True(dw.TryAdd(Entry("a.txt")));
        int before = w.Length;
        Assert.False(dw.TryAdd(Entry("bb")));
        Assert.Equal(before, w.Length);
        Assert.Equal(0u, BitConverter.ToUInt32(w.ToArray(), 0)); // the last entry keeps NextEntryOffset 0
        Assert.Equal(1, dw.Count);

        using var w2 = new WireWriter();
        var exact = new DirectoryEntryWriter(w2, FileInformationClass.IdBothDirectory, 228);
        Assert.True(exact.TryAdd(Entry("a.txt")));
        Assert.True(exact.TryAdd(Entry("bb")));
        Assert.Equal(228, w2.Length);
    }

    [Fact]
    public void Writer_offsets_are_relative_to_where_it_started()
    {
        using var w = new WireWriter();
        w.WriteZeros(8); // e.g. the QUERY_DIRECTORY response fixed part
        var dw = new DirectoryEntryWriter(w, FileInformationClass.Names, 100);
        Assert.True(dw.TryAdd(Entry("abc")));   // 12 + 6 = 18
        Assert.True(dw.TryAdd(Entry("d")));     // at 24
        var bytes = w.ToArray();
        Assert.Equal(24u, BitConverter.ToUInt32(bytes, 8));
        Assert.Equal(new Bytes().Zeros(8).U32(24).U32(0).U32(6).Utf16("abc").Zeros(6).U32(0).U32(0).U32(2).Utf16("d").ToArray(), bytes);
    }

    [Theory]
    [InlineData(FileInformationClass.Directory, 64)]
    [InlineData(FileInformationClass.FullDirectory, 68)]
    [InlineData(FileInformationClass.BothDirectory, 94)]
    [InlineData(FileInformationClass.Names, 12)]
    [InlineData(FileInformationClass.IdBothDirectory, 104)]
    [InlineData(FileInformationClass.IdFullDirectory, 80)]
    [InlineData(FileInformationClass.IdExtdDirectory, 88)]
    public void Name_lands_at_the_documented_offset(FileInformationClass c, int nameOffset)
    {
        using var w = new WireWriter();
        var dw = new DirectoryEntryWriter(w, c, 4096);
        Assert.True(dw.TryAdd(Entry("xyz")));
        var bytes = w.ToArray();
        Assert.Equal(nameOffset + 6, bytes.Length);
        Assert.Equal("xyz", Encoding.Unicode.GetString(bytes, nameOffset, 6));
        int lengthAt = c == FileInformationClass.Names ? 8 : 60;
        Assert.Equal(6u, BitConverter.ToUInt32(bytes, lengthAt));
    }

    [Fact]
    public void IdExtdDirectory_layout_has_ea_tag_and_128_bit_id()
    {
        using var w = new WireWriter();
        var e = Entry("f") with { EaSize = 0x10, ReparseTag = 0xA000000C, FileAttributes = FileAttributes.ReparsePoint, FileId128 = new UInt128(0x0102, 0x0304) };
        new DirectoryEntryWriter(w, FileInformationClass.IdExtdDirectory, 200).TryAdd(e);
        var bytes = w.ToArray();
        Assert.Equal(0x10u, BitConverter.ToUInt32(bytes, 64));
        Assert.Equal(0xA000000Cu, BitConverter.ToUInt32(bytes, 68));
        Assert.Equal(0x0304ul, BitConverter.ToUInt64(bytes, 72));
        Assert.Equal(0x0102ul, BitConverter.ToUInt64(bytes, 80));
    }

    [Fact]
    public void IdFull_layout_and_reparse_tag_in_ea_size()
    {
        using var w = new WireWriter();
        var e = Entry("f") with { EaSize = 0x10, ReparseTag = 0xA000000C, FileAttributes = FileAttributes.ReparsePoint };
        new DirectoryEntryWriter(w, FileInformationClass.IdFullDirectory, 200).TryAdd(e);
        var bytes = w.ToArray();
        Assert.Equal(0xA000000Cu, BitConverter.ToUInt32(bytes, 64));
        Assert.Equal(0u, BitConverter.ToUInt32(bytes, 68));
        Assert.Equal(0xF11Eul, BitConverter.ToUInt64(bytes, 72));
    }

    [Fact]
    public void Truncated_first_entry_keeps_full_length_and_cuts_name()
    {
        using var w = new WireWriter();
        var dw = new DirectoryEntryWriter(w, FileInformationClass.Directory, 64 + 5);
        Assert.False(dw.TryAdd(Entry("abcdef")));
        Assert.True(dw.AddTruncatedFirst(Entry("abcdef")));
        var bytes = w.ToArray();
        Assert.Equal(68, bytes.Length); // name cut to 4 bytes (even)
        Assert.Equal(12u, BitConverter.ToUInt32(bytes, 60));
        Assert.False(dw.AddTruncatedFirst(Entry("x")));

        using var w2 = new WireWriter();
        Assert.False(new DirectoryEntryWriter(w2, FileInformationClass.Directory, 63).AddTruncatedFirst(Entry("a")));
        Assert.Equal(0, w2.Length);
    }

    [Fact]
    public void Unsupported_class_is_rejected_up_front()
    {
        using var w = new WireWriter();
        Assert.Throws<ArgumentOutOfRangeException>(() => new DirectoryEntryWriter(w, FileInformationClass.Basic, 100));
        Assert.False(DirectoryEntryWriter.IsSupported(FileInformationClass.IdAllExtdDirectory));
    }

    [Fact]
    public void Notify_entries_are_4_aligned_and_bounded()
    {
        using var w = new WireWriter();
        var nw = new FileNotifyInformationWriter(w, 16 + 12 + 4);
        Assert.True(nw.TryAdd(FileAction.RenamedOldName, "a"));
        Assert.True(nw.TryAdd(FileAction.RenamedNewName, "bc"));
        Assert.False(nw.TryAdd(FileAction.Added, "d"));
        var expected = new Bytes().U32(16).U32(4).U32(2).Utf16("a").Zeros(2).U32(0).U32(5).U32(4).Utf16("bc").ToArray();
        Assert.Equal(expected, w.ToArray());
    }
}
