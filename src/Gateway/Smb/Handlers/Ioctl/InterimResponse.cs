using SmbCopy.Gateway.Smb.Dispatch;

namespace SmbCopy.Gateway.Smb.Handlers.Ioctl;

/// <summary>
/// Goes async (interim STATUS_PENDING, MS-SMB2 3.3.4.2) only when a copy is still running after a while, rather than
/// for every large request: a 16 MiB copy-chunk that clones or copy_file_range's in a few milliseconds is answered with
/// one message, as Samba does (bench/copy.sh: 64 interim responses per GiB of scopy otherwise).
/// </summary>
internal static class InterimResponse
{
    public static readonly TimeSpan After = TimeSpan.FromMilliseconds(100);

    /// <summary>Awaits <paramref name="work"/>; sends the interim response if it has not finished after <see cref="After"/>.</summary>
    public static async ValueTask<T> AwaitAsync<T>(Smb2Request request, ValueTask<T> work)
    {
        if (work.IsCompleted || request.AsyncId != 0) return await work.ConfigureAwait(false);
        var task = work.AsTask();
        using var timer = new CancellationTokenSource();
        var delay = Task.Delay(After, timer.Token);
        if (await Task.WhenAny(task, delay).ConfigureAwait(false) == delay)
            await request.GoAsyncAsync().ConfigureAwait(false);
        else
            timer.Cancel();
        return await task.ConfigureAwait(false);
    }
}
