using Failover.Core.Policies;
using Failover.Core.Topology;
using Failover.Driver.Reports;
using Failover.Driver.RunState;

namespace Failover.Driver.Status;

/// <summary>The last successful rehearsal against failover:policy.rehearsalCadence: an unrehearsed failover is a guess.</summary>
public sealed class RehearsalAgeCheck(RehearsalHistory history, TimeProvider time) : ILiveCheck
{
    public string Name => "rehearsal age";

    public Task<IReadOnlyList<LiveFact>> CheckAsync(Topology topology, CancellationToken cancellation)
    {
        var cadence = topology.Policy.RehearsalCadence;
        var stack = topology.Production.Name;
        RehearsalEntry? last;
        try { last = history.LastPassed; }
        catch (RunStateUnavailableException e)
        {
            return Task.FromResult<IReadOnlyList<LiveFact>>([new LiveFact(stack, Name, Severity.Error, $"the rehearsal history cannot be read: {e.Message}")]);
        }
        // Never rehearsed is a warning, not an alarm: a new project must be able to pass status before its first rehearsal.
        LiveFact fact = last is null
            ? new LiveFact(stack, Name, Severity.Warning, $"no successful rehearsal recorded yet (cadence {Durations.Format(cadence)}): run `failover rehearse --site STANDBY`")
            : time.GetUtcNow() - last.Ended is var age && age > cadence
                ? new LiveFact(stack, Name, Severity.Error, $"last successful rehearsal {last.RunId} on {last.Site} was {Durations.Format(age)} ago: STALE, the cadence is {Durations.Format(cadence)}")
                : new LiveFact(stack, Name, Severity.Info, $"last successful rehearsal {last.RunId} on {last.Site} was {Durations.Format(age)} ago (cadence {Durations.Format(cadence)})");
        return Task.FromResult<IReadOnlyList<LiveFact>>([fact]);
    }
}
