using System.Buffers;
using System.Net.Sockets;

namespace SmbCopy.Gateway.Smb.Transport;

/// <summary>
/// Frames straight off the socket. Receives go into a small staging buffer, so many small requests cost one system
/// call; the body of a large frame (an 8 MiB WRITE) is received directly into the frame's own array, which is what
/// the request is verified and written to storage from: no user-space copy of the data.
/// </summary>
internal sealed class SocketFrameReader(Socket socket) : IDisposable
{
    private const int StagingSize = 64 * 1024;
    private byte[]? _staging = ArrayPool<byte>.Shared.Rent(StagingSize);
    private int _start, _end; // unread bytes are _staging[_start.._end)

    /// <summary>
    /// The next frame (MS-SMB2 2.1: a zero byte, a 24-bit big-endian length, the message) in an array from
    /// <see cref="ArrayPool{T}.Shared"/> that the caller returns. <see cref="FrameRead.End"/> when the peer closed; a
    /// null frame with its length when the prefix is malformed or announces more than <paramref name="maxLength"/>.
    /// </summary>
    public async ValueTask<FrameRead> ReadAsync(Func<int> maxLength, CancellationToken cancellationToken)
    {
        var staging = _staging ?? throw new ObjectDisposedException(nameof(SocketFrameReader));
        while (_end - _start < 4)
            if (!await FillAsync(staging, cancellationToken).ConfigureAwait(false)) return FrameRead.Closed;

        int length = staging[_start + 1] << 16 | staging[_start + 2] << 8 | staging[_start + 3];
        if (staging[_start] != 0 || length < 4 || length > maxLength()) return FrameRead.Refused(length);
        _start += 4;

        var frame = ArrayPool<byte>.Shared.Rent(length);
        int have = Math.Min(_end - _start, length);
        staging.AsSpan(_start, have).CopyTo(frame);
        _start += have;
        if (_start == _end) _start = _end = 0;
        try
        {
            while (have < length)
            {
                int n = await socket.ReceiveAsync(frame.AsMemory(have, length - have), SocketFlags.None, cancellationToken)
                    .ConfigureAwait(false);
                if (n == 0)
                {
                    ArrayPool<byte>.Shared.Return(frame);
                    return FrameRead.Closed;
                }
                have += n;
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(frame);
            throw;
        }
        return new FrameRead(frame, length, false);
    }

    /// <summary>Receives what is available after the unread bytes (moved to the front first). False when the peer closed.</summary>
    private async ValueTask<bool> FillAsync(byte[] staging, CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            staging.AsSpan(_start, _end - _start).CopyTo(staging);
            _end -= _start;
            _start = 0;
        }
        int n = await socket.ReceiveAsync(staging.AsMemory(_end, staging.Length - _end), SocketFlags.None, cancellationToken)
            .ConfigureAwait(false);
        _end += n;
        return n > 0;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _staging, null) is { } staging) ArrayPool<byte>.Shared.Return(staging);
    }
}

internal readonly record struct FrameRead(byte[]? Frame, int Length, bool End)
{
    public static FrameRead Closed => new(null, 0, true);
    public static FrameRead Refused(int length) => new(null, length, false);
}
