using Failover.Core.Policies;
using Failover.Core.Topology;
using Failover.Driver.Reports;
using Failover.Driver.RunState;

namespace Failover.Driver.Status;

/// <summary>
/// The last successful rehearsal against failover:policy.rehearsalCadence: an unrehearsed failover is a guess. Failures
/// count too: when the newest rehearsal failed, status alarms however recent the last success is.
/// </summary>
public sealed class RehearsalAgeCheck(RehearsalHistory history, TimeProvider time) : ILiveCheck
{
    public string Name => "rehearsal age";

    public Task<IReadOnlyList<LiveFact>> CheckAsync(Topology topology, CancellationToken cancellation)
    {
        var cadence = topology.Policy.RehearsalCadence;
        var stack = topology.Production.Name;
        IReadOnlyList<RehearsalEntry> entries;
        try { entries = history.Read(); }
        catch (RunStateUnavailableException e)
        {
            return Task.FromResult<IReadOnlyList<LiveFact>>([LiveFact.Blind(stack, Name, $"the rehearsal history cannot be read: {e.Message}")]);
        }
        var last = entries.Where(e => e.Outcome == RehearsalHistory.Passed).MaxBy(e => e.Ended);
        var newest = entries.MaxBy(e => e.Ended);
        if (newest is not null && newest.Outcome != RehearsalHistory.Passed)
        {
            var failedInARow = entries.OrderByDescending(e => e.Ended).TakeWhile(e => e.Outcome != RehearsalHistory.Passed).Count();
            var success = last is null ? "no rehearsal has passed yet" : $"last success {last.RunId} on {last.Site} {Durations.Format(time.GetUtcNow() - last.Ended)} ago";
            return Task.FromResult<IReadOnlyList<LiveFact>>([new LiveFact(stack, Name, Severity.Error,
                $"the last {(failedInARow == 1 ? "rehearsal" : $"{failedInARow} rehearsals")} FAILED: last failure {newest.RunId} on {newest.Site} " +
                $"{Durations.Format(time.GetUtcNow() - newest.Ended)} ago ({newest.Outcome}, report {newest.Report}); {success}")]);
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
