using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Tests.Messages;
using SmbCopy.Protocol.Wire;
using FileAttributes = SmbCopy.Protocol.Fscc.FileAttributes;

namespace SmbCopy.Protocol.Tests.Fscc;

public class InformationClassTests
{
    private static readonly FileBasicInformation Basic = new(1, 2, 3, 4, FileAttributes.Hidden | FileAttributes.Archive);

    [Fact]
    public void Basic_is_40_bytes_and_parses_back()
    {
        var bytes = Bytes.Write(Basic.WriteTo);
        Assert.Equal(new Bytes().I64(1).I64(2).I64(3).I64(4).U32(0x22).U32(0).ToArray(), bytes);
        Assert.Equal(Basic, FileBasicInformation.Parse(bytes));
        Assert.Equal(Basic, FileBasicInformation.Parse(bytes.AsSpan(0, 36)));
        Assert.Throws<MalformedMessageException>(() => FileBasicInformation.Parse(bytes.AsSpan(0, 35)));
    }

    [Fact]
    public void Small_query_classes()
    {
        Assert.Equal(new Bytes().I64(4096).I64(10).U32(1).U8(1).U8(0).U16(0).ToArray(), Bytes.Write(new FileStandardInformation(4096, 10, 1, true, false).WriteTo));
        Assert.Equal(new Bytes().U64(77).ToArray(), Bytes.Write(new FileInternalInformation(77).WriteTo));
        Assert.Equal(new Bytes().U32(0x1F01FF).ToArray(), Bytes.Write(new FileAccessInformation(AccessMask.FileAllAccess).WriteTo));
        Assert.Equal(new Bytes().I64(5).U16(0).U8(1).U8(2).U8(3).Zeros(3).ToArray(), Bytes.Write(new FileCompressionInformation(5, 0, 1, 2, 3).WriteTo));
        Assert.Equal(new Bytes().I64(1).I64(2).I64(3).I64(4).I64(8192).I64(5000).U32(0x80).U32(0).ToArray(),
            Bytes.Write(new FileNetworkOpenInformation(1, 2, 3, 4, 8192, 5000, FileAttributes.Normal).WriteTo));
        Assert.Equal(new Bytes().U32(0x400).U32(0xA000000C).ToArray(), Bytes.Write(new FileAttributeTagInformation(FileAttributes.ReparsePoint, 0xA000000C).WriteTo));
        Assert.Equal(new Bytes().U64(0xAB).U64(0x11).U64(0x22).ToArray(), Bytes.Write(new FileIdInformation(0xAB, new UInt128(0x22, 0x11)).WriteTo));
        Assert.Equal(new Bytes().U32(6).Utf16("ABC").ToArray(), Bytes.Write(new FileNameInformation("ABC").WriteTo));
        Assert.Equal("x\\y", FileNameInformation.Parse(new Bytes().U32(6).Utf16("x\\y").ToArray()).FileName);
    }

    [Fact]
    public void All_information_places_each_part_at_its_offset()
    {
        var all = new FileAllInformation(Basic, new FileStandardInformation(4096, 10, 1, false, true), new FileInternalInformation(0x99),
            new FileEaInformation(0), new FileAccessInformation((AccessMask)0x12019F), new FilePositionInformation(7), new FileModeInformation(0x20),
            new FileAlignmentInformation(0), "");
        var bytes = Bytes.Write(all.WriteTo);
        Assert.Equal(FileAllInformation.FixedSize, bytes.Length);
        Assert.Equal(4096, BitConverter.ToInt64(bytes, 40));
        Assert.Equal(1, bytes[61]); // Standard.Directory
        Assert.Equal(0x99ul, BitConverter.ToUInt64(bytes, 64));
        Assert.Equal(0x12019Fu, BitConverter.ToUInt32(bytes, 76));
        Assert.Equal(7, BitConverter.ToInt64(bytes, 80));
        Assert.Equal(0x20u, BitConverter.ToUInt32(bytes, 88));
        Assert.Equal(0u, BitConverter.ToUInt32(bytes, 96));
    }

    [Fact]
    public void Stream_entries_are_chained_and_aligned()
    {
        var bytes = Bytes.Write(w => FileStreamInformation.Write(w, [new("::$DATA", 10, 4096), new(":s:$DATA", 3, 8)]));
        var expected = new Bytes().U32(40).U32(14).I64(10).I64(4096).Utf16("::$DATA").Zeros(2)
            .U32(0).U32(16).I64(3).I64(8).Utf16(":s:$DATA").ToArray();
        Assert.Equal(expected, bytes);
    }

    [Fact]
    public void File_system_classes()
    {
        Assert.Equal(new Bytes().I64(9).U32(0xCAFE).U32(4).U8(0).U8(0).Utf16("ab").ToArray(), Bytes.Write(new FileFsVolumeInformation(9, 0xCAFE, false, "ab").WriteTo));
        Assert.Equal(new Bytes().I64(100).I64(50).U32(8).U32(512).ToArray(), Bytes.Write(new FileFsSizeInformation(100, 50, 8, 512).WriteTo));
        Assert.Equal(new Bytes().U32(7).U32(0x20).ToArray(), Bytes.Write(new FileFsDeviceInformation(FileFsDeviceInformation.FileDeviceDisk, FileFsDeviceInformation.FileDeviceIsMounted).WriteTo));
        Assert.Equal(new Bytes().U32(0x0800004E).U32(255).U32(8).Utf16("NTFS").ToArray(),
            Bytes.Write(new FileFsAttributeInformation((FileSystemAttributes)0x4E | FileSystemAttributes.SupportsBlockRefcounting, 255, "NTFS").WriteTo));
        Assert.Equal(new Bytes().I64(100).I64(40).I64(50).U32(8).U32(512).ToArray(), Bytes.Write(new FileFsFullSizeInformation(100, 40, 50, 8, 512).WriteTo));
        Assert.Equal(new Bytes().U32(512).U32(4096).U32(4096).U32(4096).U32(3).U32(0).U32(0).ToArray(),
            Bytes.Write(new FileFsSectorSizeInformation(512, 4096, 4096, 4096, 3, 0, 0).WriteTo));
        var obj = Bytes.Write(new FileFsObjectIdInformation(Guid.Empty, new byte[] { 1 }).WriteTo);
        Assert.Equal(64, obj.Length);
        Assert.Equal(1, obj[16]);
    }

    [Fact]
    public void Set_class_parsers()
    {
        var rename = new Bytes().U8(0).Zeros(7).U64(0).U32(8).Utf16("a\\bc").ToArray();
        var r = FileRenameInformation.Parse(rename);
        Assert.False(r.ReplaceIfExists);
        Assert.Equal("a\\bc", r.FileName);

        var renameEx = new Bytes().U32(3).U32(0).U64(0).U32(2).Utf16("z").ToArray();
        var rx = FileRenameInformation.ParseEx(renameEx);
        Assert.True(rx.ReplaceIfExists);
        Assert.Equal(RenameExFlags.ReplaceIfExists | RenameExFlags.PosixSemantics, rx.Flags);
        // class 10 only looks at byte 0 of the BOOLEAN
        Assert.Equal(RenameExFlags.None, FileRenameInformation.Parse(new Bytes().U8(0).U8(1).Zeros(6).U64(0).U32(0).ToArray()).Flags);

        var link = FileLinkInformation.Parse(new Bytes().U8(1).Zeros(7).U64(5).U32(2).Utf16("l").ToArray());
        Assert.Equal(new FileLinkInformation(true, 5, "l"), link);

        Assert.Throws<MalformedMessageException>(() => FileRenameInformation.Parse(rename.AsSpan(0, 19)));
        Assert.Throws<MalformedMessageException>(() => FileRenameInformation.Parse(rename.AsSpan(0, 27)));
        Assert.Throws<MalformedMessageException>(() => FileRenameInformation.Parse(new Bytes().U8(0).Zeros(7).U64(0).U32(0xFFFFFFFF).ToArray()));
        Assert.Throws<MalformedMessageException>(() => FileRenameInformation.Parse(new Bytes().U8(0).Zeros(7).U64(0).U32(3).Zeros(3).ToArray()));

        Assert.True(FileDispositionInformation.Parse([1]).DeletePending);
        Assert.Throws<MalformedMessageException>(() => FileDispositionInformation.Parse([]));
        Assert.Equal(DispositionExFlags.Delete | DispositionExFlags.PosixSemantics, FileDispositionInformationEx.Parse(new Bytes().U32(3).ToArray()).Flags);
        Assert.Equal(4096, FileAllocationInformation.Parse(new Bytes().I64(4096).ToArray()).AllocationSize);
        Assert.Equal(77, FileEndOfFileInformation.Parse(new Bytes().I64(77).ToArray()).EndOfFile);
        Assert.Equal(9, FilePositionInformation.Parse(new Bytes().I64(9).ToArray()).CurrentByteOffset);
        Assert.Equal(2u, FileModeInformation.Parse(new Bytes().U32(2).ToArray()).Mode);
        Assert.Throws<MalformedMessageException>(() => FileEndOfFileInformation.Parse(new byte[7]));
    }

    [Fact]
    public void Rename_parser_mutations_only_throw_malformed() =>
        Mutation.OnlyMalformed(new Bytes().U8(1).Zeros(7).U64(0).U32(10).Utf16("a\\b.x").ToArray(), m =>
        {
            FileRenameInformation.Parse(m.Span);
            FileRenameInformation.ParseEx(m.Span);
            FileLinkInformation.Parse(m.Span);
        });

    [Fact]
    public void Fixed_set_parsers_mutations_only_throw_malformed() =>
        Mutation.OnlyMalformed(Bytes.Write(Basic.WriteTo), m =>
        {
            FileBasicInformation.Parse(m.Span);
            FileEndOfFileInformation.Parse(m.Span);
            FileDispositionInformationEx.Parse(m.Span);
        });

    [Fact]
    public void Generic_rights_map_to_file_rights()
    {
        Assert.Equal((AccessMask)0x120089, AccessMask.GenericRead.MapGenericToFile());
        Assert.Equal((AccessMask)0x120116, AccessMask.GenericWrite.MapGenericToFile());
        Assert.Equal((AccessMask)0x1200A0, AccessMask.GenericExecute.MapGenericToFile());
        Assert.Equal((AccessMask)0x1F01FF, AccessMask.GenericAll.MapGenericToFile());
        Assert.Equal(AccessMask.FileGenericRead | AccessMask.FileGenericWrite | AccessMask.Delete,
            (AccessMask.GenericRead | AccessMask.GenericWrite | AccessMask.Delete).MapGenericToFile());
        Assert.Equal(AccessMask.MaximumAllowed, AccessMask.MaximumAllowed.MapGenericToFile());
    }

    [Fact]
    public void FileTime_conversions()
    {
        Assert.Equal(0, FileTime.FromDateTime(new DateTime(1601, 1, 1, 0, 0, 0, DateTimeKind.Utc)));
        // 2000-01-01T00:00:00Z = 125911584000000000 (well-known FILETIME)
        Assert.Equal(125911584000000000, FileTime.FromDateTime(new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc)));
        // Unix epoch = 116444736000000000
        Assert.Equal(116444736000000000, FileTime.FromDateTimeOffset(DateTimeOffset.UnixEpoch));
        var t = new DateTime(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc).AddTicks(1234567);
        Assert.Equal(t, FileTime.ToDateTime(FileTime.FromDateTime(t)));
        Assert.Equal(DateTimeKind.Utc, FileTime.ToDateTime(0).Kind);
        Assert.Equal(DateTime.MaxValue.Ticks, FileTime.ToDateTime(long.MaxValue).Ticks);
    }
}
