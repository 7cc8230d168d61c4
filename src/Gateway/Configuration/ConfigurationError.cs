namespace SmbCopy.Gateway.Configuration;

/// <summary>One configuration problem: the full key (e.g. <c>SmbCopy:Shares:0:Path</c>) and what is wrong with it.</summary>
public sealed record ConfigurationError(string Key, string Problem)
{
    /// <summary>The single line printed before the process exits with code 2.</summary>
    public override string ToString() => $"configuration error: {Key}: {Problem}";
}

/// <summary>Thrown when start-up cannot continue because of a configuration problem; the host prints it and exits 2.</summary>
public sealed class ConfigurationException(ConfigurationError error, Exception? inner = null)
    : Exception(error.ToString(), inner)
{
    public ConfigurationError Error { get; } = error;
}
