using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Gateway.Smb.Files.Info;

/// <summary>
/// What one QUERY_INFO class produced before the output-buffer rules of MS-SMB2 3.3.5.20 are applied:
/// the whole structure and the size of its fixed part (INFO_LENGTH_MISMATCH below it, BUFFER_OVERFLOW
/// with the data that fits above it). <see cref="RequiredSize"/> is set for BUFFER_TOO_SMALL answers
/// (security descriptors are never cut, 3.3.5.20.3).
/// </summary>
public readonly record struct InfoAnswer(NtStatus Status, byte[] Data, int FixedSize, int RequiredSize = 0)
{
    public static InfoAnswer Fail(NtStatus status) => new(status, [], 0);

    public static InfoAnswer Of(int fixedSize, Action<WireWriter> write, int capacity = 128)
    {
        using var w = new WireWriter(capacity);
        write(w);
        return new InfoAnswer(NtStatus.Success, w.ToArray(), fixedSize);
    }

    /// <summary>A structure that is returned whole or not at all (no variable part).</summary>
    public static InfoAnswer Fixed(int size, Action<WireWriter> write) => Of(size, write, size);
}
