using Failover.Core.Backup;
using Failover.Core.Topology;
using Failover.Driver.Backup;

namespace Failover.Driver.Tests.Backup;

/// <summary>
/// The restore order and parallelism of the product's restore step: <see cref="TenantQueue"/> (which the failover's
/// restore step runs every tenant's <see cref="SiteRestorer"/> on) over a restorer that records what it is asked.
/// </summary>
public class RestoreSchedulerTests
{
    private static Task<IReadOnlyList<TenantTurn<TenantRestoreResult>>> RunAsync(ITenantRestorer restorer, int parallelism) =>
        TenantQueue.RunAsync(Tenants.Select(j => j.Target.Tenant), parallelism, TimeProvider.System,
            (tenant, ct) => restorer.RestoreAsync(Tenants.Single(j => j.Target.Tenant == tenant), ct), CancellationToken.None);

    private static TenantRestoreJob Job(string name, int tier, double gb)
    {
        var point = StubRestorePoint.For(name);
        return new TenantRestoreJob(new TenantSite(new Tenant(name, tier, gb), new PostgresDatabase("127.0.0.1", 5432, name, "app", null), "/nowhere"), point, RestoreOptions.Default);
    }

    private static readonly TenantRestoreJob[] Tenants =
    [
        Job("big-tier2", 2, 25), Job("small-tier2", 2, 1), Job("big-tier1", 1, 10), Job("small-tier1", 1, 0.5), Job("mid-tier1", 1, 3),
    ];

    /// <summary>A stand-in restore: records who started when and how many ran at once; can be told to fail a tenant.</summary>
    private sealed class FakeRestorer(int waitForConcurrent = 1, string? failing = null) : ITenantRestorer
    {
        private readonly Lock _gate = new();
        private int _running;
        private readonly TaskCompletionSource _enoughRunning = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public List<string> Started { get; } = [];
        public int MaxConcurrent { get; private set; }

        public async Task<TenantRestoreResult> RestoreAsync(TenantRestoreJob job, CancellationToken cancellation)
        {
            lock (_gate)
            {
                Started.Add(job.Target.Tenant.Name);
                MaxConcurrent = Math.Max(MaxConcurrent, ++_running);
                if (_running >= waitForConcurrent) _enoughRunning.TrySetResult();
            }
            // The first restores hold their slot until enough run at once: proves the parallelism is used.
            // The timeout only guards against a hang if the scheduler ran them one by one.
            await _enoughRunning.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellation);
            await Task.Yield();
            lock (_gate) _running--;
            if (job.Target.Tenant.Name == failing) throw new InvalidOperationException("pg_restore failed: disk full");
            return new TenantRestoreResult(job.Target.Tenant.Name, "run-1", new Coherence([]), [], null);
        }
    }

    [Fact]
    public async Task Tenants_start_by_tier_then_smallest_first()
    {
        var restorer = new FakeRestorer();
        var turns = await RunAsync(restorer, 1);

        Assert.Equal(["small-tier1", "mid-tier1", "big-tier1", "small-tier2", "big-tier2"], restorer.Started);
        Assert.Equal(restorer.Started, turns.Select(t => t.Tenant.Name));
        Assert.Equal([1, 2, 3, 4, 5], turns.Select(t => t.Order));
        Assert.All(turns, t => Assert.True(t.Result!.Succeeded));
    }

    [Fact]
    public async Task No_more_tenants_than_the_parallelism_restore_at_once()
    {
        var restorer = new FakeRestorer(waitForConcurrent: 2);
        var turns = await RunAsync(restorer, 2);

        Assert.Equal(2, restorer.MaxConcurrent);
        Assert.Equal(5, turns.Count);
    }

    [Fact]
    public async Task A_failing_tenant_is_reported_and_the_others_are_still_restored()
    {
        var restorer = new FakeRestorer(failing: "mid-tier1");
        var turns = await RunAsync(restorer, 2);

        var failed = Assert.Single(turns, t => t.Error is not null);
        Assert.Equal("mid-tier1", failed.Tenant.Name);
        Assert.Equal("pg_restore failed: disk full", failed.Error!.Message);
        Assert.Equal(4, turns.Count(t => t.Result is { Succeeded: true }));
        Assert.All(turns, t => Assert.True(t.Finished >= t.Started, "each turn has its window"));
    }
}
