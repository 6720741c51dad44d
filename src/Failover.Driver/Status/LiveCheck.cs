using Failover.Core.Policies;
using Failover.Core.Topology;

namespace Failover.Driver.Status;

/// <summary>A fact observed now rather than read from the stack files: a backup's age, a site's health.</summary>
public sealed record LiveFact(string Stack, string Check, Severity Severity, string Message)
{
    /// <summary>
    /// A check that could not look (pulumi missing or failing, a vault that cannot be opened, a site that cannot be
    /// read). Always an error: a watcher that cannot see must never report green (seed 001's monitoring had been
    /// silently broken for two days).
    /// </summary>
    public static LiveFact Blind(string stack, string check, string why) => new(stack, check, Severity.Error, "COULD NOT CHECK: " + why) { IsBlind = true };

    /// <summary>True when the check could not look at all; `failover status` then exits <c>ExitCodes.Blind</c>.</summary>
    public bool IsBlind { get; init; }
}

/// <summary>
/// One live check of `failover status` (backup age vs RPO, rehearsal age, DNS answer, site health).
/// Checks are registered by the commands that have the adapters they need.
/// </summary>
public interface ILiveCheck
{
    string Name { get; }
    Task<IReadOnlyList<LiveFact>> CheckAsync(Topology topology, CancellationToken cancellation);
}
