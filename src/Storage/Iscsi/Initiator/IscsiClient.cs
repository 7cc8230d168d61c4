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
        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            current = _connection;
            if (current is { IsUsable: true }) return current;
            if (current != null)
            {
                _logger.LogInformation("iSCSI reconnecting to {Target} after: {Reason}", _options.TargetName, current.Fault?.Message);
                _ = current.DisposeAsync().AsTask();
                Counters.Reconnected();
            }
            var connection = await IscsiConnection.ConnectAsync(_options, _isid, 0, Counters, _logger, cancellationToken).ConfigureAwait(false);
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
