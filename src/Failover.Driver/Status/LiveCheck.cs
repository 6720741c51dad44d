using Failover.Core.Policies;
using Failover.Core.Topology;

namespace Failover.Driver.Status;

/// <summary>A fact observed now rather than read from the stack files: a backup's age, a site's health.</summary>
public sealed record LiveFact(string Stack, string Check, Severity Severity, string Message);

/// <summary>
/// One live check of `failover status` (backup age vs RPO, rehearsal age, DNS answer, site health).
/// Checks are registered by the commands that have the adapters they need.
/// </summary>
public interface ILiveCheck
{
    string Name { get; }
    Task<IReadOnlyList<LiveFact>> CheckAsync(Topology topology, CancellationToken cancellation);
}
