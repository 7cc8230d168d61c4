using System.Diagnostics;

namespace SmbCopy.Storage.Copy;

/// <summary>
/// Spans for the backend calls a copy makes (clone, range copy, the streamed read/write loop), on the activity source
/// "SmbCopy.Storage". They are children of whatever span is current: in the gateway, the span of the copy, itself a
/// child of the SMB request's span. No listener, no span: the call is made as is.
/// </summary>
public static class CopyTracing
{
    public const string ActivitySourceName = "SmbCopy.Storage";

    public static readonly ActivitySource Source = new(ActivitySourceName);

    /// <summary>Runs one backend call inside a span named <paramref name="operation"/> (tags: driver volume, bytes asked).</summary>
    public static async ValueTask<T> TraceAsync<T>(string operation, IStorageVolume volume, long length, Func<ValueTask<T>> call)
    {
        if (!Source.HasListeners()) return await call().ConfigureAwait(false);
        using var activity = Source.StartActivity(operation, ActivityKind.Internal);
        activity?.SetTag("smbcopy.volume", volume.Name);
        activity?.SetTag("smbcopy.backend", volume.GetType().Name);
        activity?.SetTag("smbcopy.length", length);
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (StorageException e)
        {
            activity?.SetStatus(ActivityStatusCode.Error, e.Error.ToString());
            throw;
        }
    }

    /// <summary>As <see cref="TraceAsync{T}"/> for a call without a result.</summary>
    public static ValueTask<bool> TraceAsync(string operation, IStorageVolume volume, long length, Func<ValueTask> call) =>
        TraceAsync(operation, volume, length, async () => { await call().ConfigureAwait(false); return true; });
}
