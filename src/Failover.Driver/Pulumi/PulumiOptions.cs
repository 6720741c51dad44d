namespace Failover.Driver.Pulumi;

/// <summary>How to run the pulumi CLI for one Pulumi project.</summary>
public sealed record PulumiOptions
{
    /// <summary>The folder holding Pulumi.yaml: the CLI's working directory and its --cwd.</summary>
    public required string ProjectDirectory { get; init; }

    /// <summary>A bare name looked up on PATH (the PATH given in <see cref="Environment"/> when there is one), or a path.</summary>
    public string Executable { get; init; } = "pulumi";

    /// <summary>
    /// Variables added to the inherited environment: PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE, PATH, ….
    /// Values of names that look like credentials are treated as secrets.
    /// </summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>Time limit of one `up`; the process tree is killed when it passes.</summary>
    public TimeSpan UpTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Time limit of one `destroy`.</summary>
    public TimeSpan DestroyTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Time limit of the quick commands: stack and config commands, outputs, cancel.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Retries after a concurrent-update conflict, waiting <see cref="RetryDelay"/>, then twice that, and so on.</summary>
    public int ConflictRetries { get; init; } = 4;

    /// <summary>The first wait before retrying a conflict.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(5);
}
