using Failover.Core.Planning;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Engine;
using Failover.Driver.Pulumi;
using Failover.Driver.RunState;
using Serilog;

namespace Failover.Driver.Runbooks;

/// <summary>
/// Which site serves the customers now, and why the driver thinks so: what migrate starts from and status expects to
/// answer. Read from what every operator shares (the DNS stack's deployed <c>activeStack</c> output, the journals in
/// the run-state store), never from one checkout's stack files alone.
/// </summary>
public static class ServingSite
{
    /// <summary>
    /// The site serving now: the stack the deployed DNS stack points at (<paramref name="activeStack"/>, when a Pulumi
    /// DNS stack exists); else production in the stack files, unless the newest failover or migration whose cutover
    /// completed moved service to another stack (a failover does not rewrite the stack files) and its sites are
    /// still there (a drill's clean-up marks its runs <see cref="JournalEvent.SitesRemoved"/>).
    /// </summary>
    public static (StackSpec Site, string Why) Of(Topology topology, RunStore store, string? activeStack = null)
    {
        if (activeStack is not null && topology.Find(activeStack) is { } deployed && deployed.Role is Role.Production or Role.Standby)
            return (deployed, deployed.Name == topology.Production.Name
                ? $"{deployed.Name}, where the deployed DNS stack {topology.DnsStack?.Name} points (activeStack)"
                : $"{deployed.Name}, where the deployed DNS stack {topology.DnsStack?.Name} points (activeStack; the stack files still name {topology.Production.Name} production)");
        foreach (var id in store.Runs())
        {
            var records = store.ReadJournal(id);
            if (records.Count == 0) continue;
            var run = RunEngine.ContextOf(records);
            if (run is null || run.Kind is not (RunKind.Failover or RunKind.Migration) || records.Any(r => r.Event == JournalEvent.SitesRemoved)) continue;
            var cutover = Journal.Live(records).LastOrDefault(r => r.Event == JournalEvent.StepCompleted && r.Step == StepContext.Name(StepKind.Cutover));
            if (cutover is null || topology.Find(run.Target) is not { } site) continue;
            return site.Name == topology.Production.Name
                ? (site, $"{site.Name}, the production stack of the stack files, where {RunKinds.Name(run.Kind)} {id} moved service at {cutover.At:u}")
                : (site, $"{site.Name}, where {RunKinds.Name(run.Kind)} {id} moved service at {cutover.At:u} (the stack files still name {topology.Production.Name} production)");
        }
        return (topology.Production, $"{topology.Production.Name}, the production stack of the stack files (no failover or migration in {store.State.Location} moved service elsewhere)");
    }

    /// <summary>For `status`: as <see cref="Of"/>, but an unreachable run state falls back to the stack files and says so.</summary>
    public static (StackSpec Site, string Why) OrProduction(Topology topology, RunStore store, ILogger log, string? activeStack = null)
    {
        try { return Of(topology, store, activeStack); }
        catch (RunStateUnavailableException e)
        {
            log.Warning("Run state unreadable: {Error}", e.Message);
            return (topology.Production, $"{topology.Production.Name}, the production stack of the stack files (the run state cannot be read: {e.Message})");
        }
    }

    /// <summary>The deployed DNS stack's activeStack output; null for a local DNS stack, or when no such Pulumi stack exists yet.</summary>
    public static async Task<string?> DeployedActiveStackAsync(Topology topology, Func<IPulumi> pulumi, ILogger log, CancellationToken cancellation)
    {
        if (topology.DnsStack is not { } dns || dns.Site.Provider == Provider.Local) return null;
        try
        {
            var outputs = await pulumi().GetOutputsAsync(dns.Name, cancellation);
            return outputs.TryGetValue(StackOutputs.ActiveStack, out var v) && v.Text.Length > 0 ? v.Text : null;
        }
        catch (Exception e) when (e is PulumiCommandException or PulumiNotFoundException or PulumiTimeoutException or InvalidOperationException)
        {
            log.Debug("No deployed activeStack for {Stack}: {Error}", dns.Name, e.Message);
            return null;
        }
    }
}
