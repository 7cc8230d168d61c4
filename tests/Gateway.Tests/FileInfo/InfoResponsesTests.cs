using System.Buffers.Binary;
using SmbCopy.Gateway.Smb.Files.Info;
using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Tests.FileInfo;

public class InfoResponsesTests
{
    private static readonly byte[] Data = Enumerable.Range(1, 30).Select(i => (byte)i).ToArray();
    private static InfoAnswer Answer => new(NtStatus.Success, Data, 24);

    [Fact]
    public void BelowTheFixedPartIsInfoLengthMismatchWithAnEmptyErrorContextIn311()
    {
        using var r = InfoResponses.Shape(Answer, 23, Smb2Dialect.Smb311);
        Assert.Equal(NtStatus.InfoLengthMismatch, r.Status);
        var body = r.Body!.WrittenSpan;
        Assert.Equal(1, body[2]); // ErrorContextCount
        Assert.Equal(8u, BinaryPrimitives.ReadUInt32LittleEndian(body[4..])); // ByteCount
        Assert.Equal(16, body.Length);
    }

    [Fact]
    public void BelowTheFixedPartBefore311HasNoErrorData()
    {
        using var r = InfoResponses.Shape(Answer, 0, Smb2Dialect.Smb302);
        Assert.Equal(NtStatus.InfoLengthMismatch, r.Status);
        Assert.Equal(0, r.Body!.WrittenSpan[2]);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(r.Body.WrittenSpan[4..]));
    }

    [Fact]
    public void ACutVariablePartIsBufferOverflowWithTheBytesThatFit()
    {
        using var r = InfoResponses.Shape(Answer, 27, Smb2Dialect.Smb311);
        Assert.Equal(NtStatus.BufferOverflow, r.Status);
        var body = r.Body!.WrittenSpan;
        Assert.Equal(27u, BinaryPrimitives.ReadUInt32LittleEndian(body[4..])); // OutputBufferLength
        Assert.True(body[8..].SequenceEqual(Data.AsSpan(0, 27)));
    }

    [Fact]
    public void EnoughRoomIsSuccessWithEverything()
    {
        using var r = InfoResponses.Shape(Answer, 30, Smb2Dialect.Smb311);
        Assert.Equal(NtStatus.Success, r.Status);
        Assert.Equal(9, BinaryPrimitives.ReadUInt16LittleEndian(r.Body!.WrittenSpan));
        Assert.Equal(0x48, BinaryPrimitives.ReadUInt16LittleEndian(r.Body.WrittenSpan[2..]));
        Assert.True(r.Body.WrittenSpan[8..].SequenceEqual(Data));
    }

    [Theory]
    [InlineData(Smb2Dialect.Smb302, 4, 0)]
    [InlineData(Smb2Dialect.Smb311, 12, 8)]
    public void BufferTooSmallCarriesTheSizeNeeded(Smb2Dialect dialect, int byteCount, int sizeAt)
    {
        using var r = InfoResponses.Shape(new InfoAnswer(NtStatus.BufferTooSmall, [], 0, 116), 10, dialect);
        Assert.Equal(NtStatus.BufferTooSmall, r.Status);
        var body = r.Body!.WrittenSpan;
        Assert.Equal((uint)byteCount, BinaryPrimitives.ReadUInt32LittleEndian(body[4..]));
        Assert.Equal(116u, BinaryPrimitives.ReadUInt32LittleEndian(body[(8 + sizeAt)..]));
    }
}
