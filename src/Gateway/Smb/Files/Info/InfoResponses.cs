using SmbCopy.Gateway.Smb.Dispatch;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Gateway.Smb.Files.Info;

/// <summary>Builds QUERY_INFO / SET_INFO responses, error data included (MS-SMB2 2.2.2, 3.3.5.20).</summary>
public static class InfoResponses
{
    /// <summary>
    /// Applies the output-buffer rules to an answer: below the fixed part INFO_LENGTH_MISMATCH, a cut
    /// variable part BUFFER_OVERFLOW with what fits, a security descriptor that does not fit BUFFER_TOO_SMALL
    /// with the size needed.
    /// </summary>
    public static Smb2Response Shape(InfoAnswer answer, uint outputBufferLength, Smb2Dialect dialect)
    {
        if (answer.Status == NtStatus.BufferTooSmall) return BufferTooSmall(answer.RequiredSize, dialect);
        if (answer.Status == NtStatus.InfoLengthMismatch) return InfoLengthMismatch(dialect);
        if (answer.Status.IsError()) return Smb2Response.Error(answer.Status);
        if (outputBufferLength < answer.FixedSize || (outputBufferLength == 0 && answer.Data.Length > 0))
            return InfoLengthMismatch(dialect);

        // An answer that already holds only what fits (whole EA entries) says BUFFER_OVERFLOW itself.
        var status = answer.Status == NtStatus.BufferOverflow ? NtStatus.BufferOverflow : NtStatus.Success;
        var data = answer.Data.AsSpan();
        if (data.Length > outputBufferLength)
        {
            data = data[..(int)outputBufferLength];
            status = NtStatus.BufferOverflow;
        }
        var w = new WireWriter(8 + data.Length);
        QueryInfoResponse.WriteHeaderPart(w, (uint)data.Length);
        w.WriteBytes(data);
        return Smb2Response.WithStatus(status, w);
    }

    /// <summary>STATUS_INFO_LENGTH_MISMATCH; 3.1.1 carries one empty error context (ByteCount 8).</summary>
    public static Smb2Response InfoLengthMismatch(Smb2Dialect dialect) =>
        dialect == Smb2Dialect.Smb311 ? WithContext(NtStatus.InfoLengthMismatch, []) : Smb2Response.Error(NtStatus.InfoLengthMismatch);

    /// <summary>STATUS_BUFFER_TOO_SMALL with the size needed: 4 bytes, or in 3.1.1 an error context carrying them (3.3.5.20.3).</summary>
    public static Smb2Response BufferTooSmall(int required, Smb2Dialect dialect)
    {
        Span<byte> size = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(size, (uint)required);
        return dialect == Smb2Dialect.Smb311 ? WithContext(NtStatus.BufferTooSmall, size) : Smb2Response.Error(NtStatus.BufferTooSmall, size);
    }

    /// <summary>An ERROR response with one SMB2 ERROR Context (2.2.2.1): ErrorDataLength(4) ErrorId(4)=DEFAULT data.</summary>
    private static Smb2Response WithContext(NtStatus status, ReadOnlySpan<byte> contextData)
    {
        Span<byte> context = stackalloc byte[8 + contextData.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(context, (uint)contextData.Length);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(context[4..], 0);
        contextData.CopyTo(context[8..]);
        var w = new WireWriter(16 + context.Length);
        ErrorResponse.WriteTo(w, context, errorContextCount: 1);
        return Smb2Response.WithStatus(status, w);
    }
}
