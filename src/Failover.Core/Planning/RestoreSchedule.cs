using Failover.Core.Topology;

namespace Failover.Core.Planning;

/// <summary>One tenant's place in the restore: its turn, and when it starts and is back.</summary>
public sealed record ScheduledRestore(int Order, Tenant Tenant, int Worker, TimeSpan Start, TimeSpan Finish)
{
    public TimeSpan Duration => Finish - Start;
}

/// <summary>
/// The order tenants are restored in: priority tier first (tier 1 before tier 2), then smallest first,
/// on a bounded number of parallel workers. Smallest-first within a tier brings the most customers
/// back soonest (it minimises the mean time-to-restore); tiers let the team put its most important
/// customers ahead regardless of size.
/// </summary>
public sealed record RestoreSchedule(IReadOnlyList<ScheduledRestore> Items, RestoreSettings Settings)
{
    /// <summary>When the last tenant is back: the restore step's length.</summary>
    public TimeSpan Makespan => Items.Count == 0 ? TimeSpan.Zero : Items.Max(i => i.Finish);

    /// <summary>The mean time a tenant waits for its data, counted from the start of the restore.</summary>
    public TimeSpan MeanTimeToRestore =>
        Items.Count == 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(Items.Average(i => i.Finish.TotalSeconds));

    /// <summary>The restore order: tier, then size, then name so equal tenants keep a stable order.</summary>
    public static IEnumerable<T> Order<T>(IEnumerable<T> items, Func<T, Tenant> tenant) =>
        items.OrderBy(x => tenant(x).Tier).ThenBy(x => tenant(x).DataGb).ThenBy(x => tenant(x).Name, StringComparer.Ordinal);

    /// <summary>Estimated time to restore one tenant: fixed overhead plus its data at one stream's speed.</summary>
    public static TimeSpan EstimateFor(Tenant tenant, RestoreSettings settings) =>
        settings.TenantOverhead + TimeSpan.FromSeconds(tenant.DataGb * 1024 / settings.StreamMBps);

    /// <summary>Assigns tenants in restore order to whichever worker frees up first.</summary>
    public static RestoreSchedule Plan(IEnumerable<Tenant> tenants, RestoreSettings settings, Func<Tenant, TimeSpan>? duration = null)
    {
        duration ??= t => EstimateFor(t, settings);
        var free = new TimeSpan[Math.Max(1, settings.Parallelism)];
        var items = new List<ScheduledRestore>();
        var order = 0;
        foreach (var t in Order(tenants, t => t))
        {
            var worker = Array.IndexOf(free, free.Min());
            var start = free[worker];
            var finish = start + duration(t);
            free[worker] = finish;
            items.Add(new ScheduledRestore(++order, t, worker + 1, start, finish));
        }
        return new RestoreSchedule(items, settings);
    }
}
