namespace Failover.Driver.Pulumi;

/// <summary>An engine event of a running `up`/`destroy`, read from the CLI's event log.</summary>
public abstract record PulumiProgress;

/// <summary>The engine began a step (create, update, delete, same, …) on one resource.</summary>
public sealed record ResourceStarted(string Urn, string Type, string Name, string Op) : PulumiProgress;

/// <summary>The step on the resource completed.</summary>
public sealed record ResourceFinished(string Urn, string Type, string Name, string Op) : PulumiProgress;

/// <summary>The step on the resource failed; the reason follows as a <see cref="EngineDiagnostic"/>.</summary>
public sealed record ResourceFailed(string Urn, string Type, string Name, string Op) : PulumiProgress;

/// <summary>A warning or error the engine or a provider reported (secrets redacted).</summary>
public sealed record EngineDiagnostic(string Severity, string Message, string? Urn) : PulumiProgress;

/// <summary>The end of an update: changes per operation, duration and result (`succeeded`, `failed`, `canceled`; null on older CLIs).</summary>
public sealed record UpdateSummary(IReadOnlyDictionary<string, int> ResourceChanges, int DurationSeconds, string? Result) : PulumiProgress;
