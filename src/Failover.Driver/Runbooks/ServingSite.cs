using Failover.Core.Planning;
using Failover.Core.Topology;
using Failover.Driver.Engine;

namespace Failover.Driver.Runbooks;

/// <summary>Which site serves the customers now, and why the driver thinks so: what migrate starts from and status expects to answer.</summary>
public static class ServingSite
{
    /// <summary>
    /// The site serving now: production in the stack files, unless the newest failover or migration whose cutover
    /// completed moved service to another stack (a failover does not rewrite the stack files) and its sites are
    /// still there (a drill's clean-up marks its runs <see cref="JournalEvent.SitesRemoved"/>).
    /// </summary>
    public static (StackSpec Site, string Why) Of(Topology topology, RunStore store)
    {
        foreach (var id in store.Runs())
        {
            var path = store.JournalPath(id);
            if (!File.Exists(path)) continue;
            var records = Journal.Read(path);
            var run = RunEngine.ContextOf(records);
            if (run is null || run.Kind is not ("failover" or MigrationSteps.Kind) || records.Any(r => r.Event == JournalEvent.SitesRemoved)) continue;
            var cutover = Journal.Live(records).LastOrDefault(r => r.Event == JournalEvent.StepCompleted && r.Step == StepContext.Name(StepKind.Cutover));
            if (cutover is null || topology.Find(run.Target) is not { } site) continue;
            return site.Name == topology.Production.Name
                ? (site, $"{site.Name}, the production stack of the stack files, where {run.Kind} {id} moved service at {cutover.At:u}")
                : (site, $"{site.Name}, where {run.Kind} {id} moved service at {cutover.At:u} (the stack files still name {topology.Production.Name} production)");
        }
        return (topology.Production, $"{topology.Production.Name}, the production stack of the stack files (no failover or migration in {store.Root} moved service elsewhere)");
    }

}
