using Failover.Core.Planning;

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

    /// <summary>Time limit of one `up`; the process tree is killed when it passes (runtime option pulumiUp).</summary>
    public TimeSpan UpTimeout { get; init; } = RuntimeOptions.Default.PulumiUp;

    /// <summary>Time limit of one `destroy` (runtime option pulumiDestroy).</summary>
    public TimeSpan DestroyTimeout { get; init; } = RuntimeOptions.Default.PulumiDestroy;

    /// <summary>Time limit of the quick commands: stack and config commands, outputs, cancel (runtime option pulumiCommand).</summary>
    public TimeSpan CommandTimeout { get; init; } = RuntimeOptions.Default.PulumiCommand;

    /// <summary>Options whose time limits are the run's (<paramref name="runtime"/>); the project folder is set by the caller.</summary>
    public static PulumiOptions From(RuntimeOptions runtime) => new()
    {
        ProjectDirectory = "",
        UpTimeout = runtime.PulumiUp,
        DestroyTimeout = runtime.PulumiDestroy,
        CommandTimeout = runtime.PulumiCommand,
    };

    /// <summary>Retries after a concurrent-update conflict, waiting <see cref="RetryDelay"/>, then twice that, and so on.</summary>
    public int ConflictRetries { get; init; } = 4;

    /// <summary>
    /// The first wait before retrying a conflict: a backoff's base, not a time limit (no runtime option): another update of
    /// the stack usually ends within seconds, and the doubling covers the ones that take longer.
    /// </summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(5);
}
