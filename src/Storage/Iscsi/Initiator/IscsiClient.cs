using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.Retry;
using SmbCopy.Storage.Iscsi.Scsi;

namespace SmbCopy.Storage.Iscsi.Initiator;

/// <summary>
/// A resilient initiator for one target: one <see cref="IscsiConnection"/> at a time, replaced after a fault (new
/// login with the same ISID, which reinstates the session on the target). Every command runs through a Polly
/// retry pipeline: connection loss, protocol faults, BUSY, TASK SET FULL and UNIT ATTENTION are retried (on a new
/// connection when the old one is gone) with exponential backoff. The commands issued by this driver (READ, WRITE,
/// EXTENDED COPY, SYNCHRONIZE CACHE, UNMAP, inquiries) are idempotent, so a retry after an unknown outcome is safe.
/// </summary>
public sealed class IscsiClient : IAsyncDisposable
{
    private readonly IscsiInitiatorOptions _options;
    private readonly byte[] _isid;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private readonly ResiliencePipeline _pipeline;
    private IscsiConnection? _connection;
    private bool _disposed;
    // connect attempts made so far, and how the last one failed (null: it worked): see GetConnectionAsync
    private long _connectAttempts;
    private Exception? _lastConnectFailure;

    public IscsiClient(IscsiInitiatorOptions options, ILogger? logger = null)
    {
        _options = options;
        _isid = options.Isid ?? IscsiInitiatorOptions.RandomIsid();
        _logger = logger ?? NullLogger.Instance;
        _pipeline = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<IscsiException>(e => e.IsTransient),
                MaxRetryAttempts = Math.Max(1, options.MaxRetryAttempts),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryDelay,
                MaxDelay = TimeSpan.FromSeconds(5),
                OnRetry = args =>
                {
                    Counters.Retried();
                    _logger.LogInformation("iSCSI retry {Attempt} after: {Message}", args.AttemptNumber + 1, args.Outcome.Exception?.Message);
                    return default;
                },
            })
            .Build();
    }

    /// <summary>Creates a client and logs in once (so that configuration errors show at once).</summary>
    public static async Task<IscsiClient> ConnectAsync(IscsiInitiatorOptions options, ILogger? logger = null,
        CancellationToken cancellationToken = default)
    {
        var client = new IscsiClient(options, logger);
        try
        {
            await client.GetConnectionAsync(cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public IscsiInitiatorOptions Options => _options;

    public IscsiCounters Counters { get; } = new();

    /// <summary>Parameters of the current connection (connects if needed).</summary>
    public async Task<IscsiNegotiatedParameters> GetParametersAsync(CancellationToken cancellationToken = default) =>
        (await GetConnectionAsync(cancellationToken).ConfigureAwait(false)).Parameters;

    /// <summary>The current connection, for diagnostics and tests; null before the first login or after a fault.</summary>
    public IscsiConnection? CurrentConnection => _connection is { IsUsable: true } c ? c : null;

    /// <summary>
    /// Runs one command with retries; returns when the status is GOOD.
    /// </summary>
    /// <exception cref="ScsiCommandException">The command completed with another status (after retries when transient).</exception>
    /// <exception cref="IscsiException">The target could not be reached, or the protocol failed, after retries.</exception>
    public Task<ScsiResult> ExecuteAsync(ScsiCommand command, CancellationToken cancellationToken = default) =>
        _pipeline.ExecuteAsync(async token =>
        {
            var connection = await GetConnectionAsync(token).ConfigureAwait(false);
            var result = await connection.ExecuteAsync(command, token).ConfigureAwait(false);
            if (!result.IsGood) throw new ScsiCommandException(command.Name, result.Status, result.Sense);
            return result;
        }, cancellationToken).AsTask();

    /// <summary>NOP-Out ping on the current connection (connects if needed).</summary>
    public async Task PingAsync(CancellationToken cancellationToken = default) =>
        await (await GetConnectionAsync(cancellationToken).ConfigureAwait(false)).PingAsync(cancellationToken).ConfigureAwait(false);

    private async ValueTask<IscsiConnection> GetConnectionAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var current = _connection;
        if (current is { IsUsable: true }) return current;
        long attemptsSeen = Interlocked.Read(ref _connectAttempts);
        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            current = _connection;
            if (current is { IsUsable: true }) return current;
            // A connect that failed while this caller waited for the lock is its answer too: the commands of a dropped
            // connection all come here at once, and each must not spend its own connect + login timeout, one after the
            // other, on a target that does not answer (4 commands x 6 retries x a 60 s login timeout = 24 minutes).
            // The failure counts as an attempt of each; the retry pipeline backs off and calls again.
            if (Interlocked.Read(ref _connectAttempts) != attemptsSeen && Volatile.Read(ref _lastConnectFailure) is { } failed)
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failed);
            if (current != null)
            {
                _logger.LogInformation("iSCSI reconnecting to {Target} after: {Reason}", _options.TargetName, current.Fault?.Message);
                _ = current.DisposeAsync().AsTask();
                Counters.Reconnected();
            }
            IscsiConnection connection;
            try
            {
                connection = await IscsiConnection.ConnectAsync(_options, _isid, 0, Counters, _logger, cancellationToken).ConfigureAwait(false);
                Volatile.Write(ref _lastConnectFailure, null);
            }
            catch (Exception e)
            {
                // shared with the waiters only when it says something about the target (not a caller's cancellation)
                Volatile.Write(ref _lastConnectFailure, e as IscsiException);
                throw;
            }
            finally
            {
                Interlocked.Increment(ref _connectAttempts);
            }
            _connection = connection;
            return connection;
        }
        finally
        {
            _connectLock.Release();
        }
    }

    /// <summary>Logs out and closes.</summary>
    public async ValueTask DisposeAsync()
    {
        await _connectLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed) return;
            _disposed = true;
            if (_connection != null) await _connection.DisposeAsync().ConfigureAwait(false);
            _connection = null;
        }
        finally
        {
            _connectLock.Release();
        }
    }
}
