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
        using var slots = new SemaphoreSlim(Math.Max(1, parallelism));
        var running = new List<Task<TenantRestoreOutcome>>();
        var order = 0;
        foreach (var job in RestoreSchedule.Order(jobs, j => j.Target.Tenant))
        {
            // Waiting for a slot here, in order, is what makes tenants start in schedule order.
            await slots.WaitAsync(cancellation);
            running.Add(RunOneAsync(++order, job, slots, downSince, cancellation));
        }
        var outcomes = await Task.WhenAll(running);
        var report = new RestoreRunReport(started, clock.GetUtcNow(), outcomes);
        log.Information("Restore finished: {Succeeded} of {Total} tenants restored and verified", outcomes.Count(o => o.Result.Succeeded), outcomes.Length);
        return report;
    }

    private async Task<TenantRestoreOutcome> RunOneAsync(int order, TenantRestoreJob job, SemaphoreSlim slots, DateTimeOffset downSince, CancellationToken cancellation)
    {
        var tenant = job.Target.Tenant;
        try
        {
            var started = clock.GetUtcNow();
            log.Information("Restore {Order} started: {Tenant} (tier {Tier})", order, tenant.Name, tenant.Tier);
            TenantRestoreResult result;
            try { result = await restorer.RestoreAsync(job, cancellation); }
            catch (Exception e) when (e is not OperationCanceledException || !cancellation.IsCancellationRequested)
            {
                result = TenantRestoreResult.Failed(tenant.Name, job.Point.Set.RunId, e.Message);
            }
            var finished = clock.GetUtcNow();
            if (result.Succeeded) log.Information("Restore {Order} finished: {Tenant} is back after {Downtime}", order, tenant.Name, finished - downSince);
            else log.Error("Restore {Order} failed: {Tenant}: {Error}", order, tenant.Name, result.Error ?? string.Join("; ", result.Coherence?.Differences ?? []));
            return new TenantRestoreOutcome(order, tenant.Name, tenant.Tier, started, finished, finished - downSince, result);
        }
        finally { slots.Release(); }
    }
}
