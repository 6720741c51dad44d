using Failover.Core.Planning;
using Serilog;

namespace Failover.Driver.Backup;

/// <summary>One tenant's restore as it happened: its turn, when it started and finished, and how long it was down.</summary>
public sealed record TenantRestoreOutcome(int Order, string Tenant, int Tier, DateTimeOffset Started, DateTimeOffset Finished, TimeSpan Downtime, TenantRestoreResult Result);

/// <summary>The whole restore step for the report: every tenant's outcome in restore order.</summary>
public sealed record RestoreRunReport(DateTimeOffset Started, DateTimeOffset Finished, IReadOnlyList<TenantRestoreOutcome> Tenants)
{
    public bool Succeeded => Tenants.All(t => t.Result.Succeeded);
    public IEnumerable<TenantRestoreOutcome> Failed => Tenants.Where(t => !t.Result.Succeeded);
}

/// <summary>
/// Restores tenants in the order of <see cref="RestoreSchedule.Order{T}"/> (tier, then smallest first) with
/// at most <c>parallelism</c> at a time. A tenant that fails is reported and the others carry on: one
/// broken backup must not keep forty customers down.
/// </summary>
public sealed class RestoreScheduler(ITenantRestorer restorer, TimeProvider clock, ILogger log)
{
    /// <param name="outageStart">When the tenants went down; downtime is counted from it (default: the start of this run).</param>
    public async Task<RestoreRunReport> RunAsync(IReadOnlyList<TenantRestoreJob> jobs, int parallelism, DateTimeOffset? outageStart, CancellationToken cancellation)
    {
        var started = clock.GetUtcNow();
        var downSince = outageStart ?? started;
        var byTenant = jobs.ToDictionary(j => j.Target.Tenant.Name);
        var turns = await TenantQueue.RunAsync(jobs.Select(j => j.Target.Tenant), parallelism, clock, async (tenant, ct) =>
        {
            log.Information("Restore started: {Tenant} (tier {Tier})", tenant.Name, tenant.Tier);
            return await restorer.RestoreAsync(byTenant[tenant.Name], ct);
        }, cancellation);
        var outcomes = turns.Select(t =>
        {
            var result = t.Result ?? TenantRestoreResult.Failed(t.Tenant.Name, byTenant[t.Tenant.Name].Point.Set.RunId, t.Error?.Message ?? "no result");
            if (result.Succeeded) log.Information("Restore {Order} finished: {Tenant} is back after {Downtime}", t.Order, t.Tenant.Name, t.Finished - downSince);
            else log.Error("Restore {Order} failed: {Tenant}: {Error}", t.Order, t.Tenant.Name, result.Error ?? string.Join("; ", result.Coherence?.Differences ?? []));
            return new TenantRestoreOutcome(t.Order, t.Tenant.Name, t.Tenant.Tier, t.Started, t.Finished, t.Finished - downSince, result);
        }).ToList();
        log.Information("Restore finished: {Succeeded} of {Total} tenants restored and verified", outcomes.Count(o => o.Result.Succeeded), outcomes.Count);
        return new RestoreRunReport(started, clock.GetUtcNow(), outcomes);
    }
}
