using Failover.Core.Policies;
using Failover.Core.Topology;

namespace Failover.Core.Planning;

/// <summary>One step of the runbook with its estimated duration and what it does in this topology.</summary>
public sealed record RunbookStep(int Order, StepKind Kind, string Title, TimeSpan Estimate, string Detail);

/// <summary>An estimated figure against its target, with how it was reached.</summary>
public sealed record Estimate(TimeSpan Value, TimeSpan Target, string Explanation)
{
    public bool WithinTarget => Value <= Target;
}

/// <summary>Why the recovery must move the service's address, and how long DNS will take.</summary>
public sealed record DnsCutover(bool Required, string Reason, string? DnsStack, int TtlSeconds, TimeSpan Propagation);

/// <summary>The plan for losing the production site and recovering on a target stack.</summary>
public sealed record Runbook(
    StackSpec Production,
    StackSpec Target,
    IReadOnlyList<RunbookStep> Steps,
    RestoreSchedule Restore,
    Estimate Rto,
    Estimate Rpo,
    DnsCutover Dns,
    IReadOnlyList<Finding> Findings)
{
    public bool HasErrors => Findings.Any(f => f.Severity == Severity.Error);

    /// <summary>Each server's user data at the mode a failover gives the target, against its provider's limit.</summary>
    public IReadOnlyList<Sites.ServerUserData> UserData { get; init; } = [];
}
