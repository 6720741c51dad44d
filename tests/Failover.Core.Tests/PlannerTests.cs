using Failover.Core.Planning;
using Failover.Core.Topology;

namespace Failover.Core.Tests;

public class PlannerTests
{
    private static Tenant T(string name, int tier, double gb) => new(name, tier, gb);

    [Fact]
    public void Restore_order_is_tier_first_then_smallest_first()
    {
        var schedule = RestoreSchedule.Plan(
            [T("big-vip", 1, 25), T("small-low", 3, 0.1), T("small-vip", 1, 1), T("mid", 2, 4), T("tiny-mid", 2, 0.5)],
            new RestoreSettings(1, 40, TimeSpan.FromSeconds(10)));
        Assert.Equal(["small-vip", "big-vip", "tiny-mid", "mid", "small-low"], schedule.Items.Select(i => i.Tenant.Name));
        Assert.Equal([1, 2, 3, 4, 5], schedule.Items.Select(i => i.Order));
    }

    [Fact]
    public void Equal_tenants_keep_a_stable_order_by_name()
    {
        var s = RestoreSchedule.Plan([T("b", 1, 1), T("a", 1, 1)], RestoreSettings.Default);
        Assert.Equal(["a", "b"], s.Items.Select(i => i.Tenant.Name));
    }

    [Fact]
    public void Tenant_estimate_is_overhead_plus_data_at_stream_speed()
    {
        // 10 GB at 40 MB/s = 256 s, plus 20 s overhead.
        Assert.Equal(TimeSpan.FromSeconds(276), RestoreSchedule.EstimateFor(T("x", 1, 10), new RestoreSettings(1, 40, TimeSpan.FromSeconds(20))));
    }

    [Fact]
    public void Parallel_workers_take_the_next_tenant_when_they_free_up()
    {
        var s = RestoreSchedule.Plan([T("a", 1, 1), T("b", 1, 2), T("c", 1, 3)], new RestoreSettings(2, 1024, TimeSpan.Zero));
        // a (1 s) and b (2 s) start together; c starts when a finishes.
        Assert.Equal(TimeSpan.Zero, s.Items[1].Start);
        Assert.Equal(TimeSpan.FromSeconds(1), s.Items[2].Start);
        Assert.Equal(s.Items[0].Worker, s.Items[2].Worker);
        Assert.Equal(TimeSpan.FromSeconds(4), s.Makespan);
    }

    [Fact]
    public void More_parallelism_never_lengthens_the_restore()
    {
        var tenants = Enumerable.Range(1, 40).Select(i => T($"t{i:00}", 1 + i % 3, i % 7 == 0 ? 20 : 0.2 * i)).ToList();
        var previous = TimeSpan.MaxValue;
        for (var p = 1; p <= 8; p++)
        {
            var m = RestoreSchedule.Plan(tenants, new RestoreSettings(p, 40, TimeSpan.FromSeconds(10))).Makespan;
            Assert.True(m <= previous, $"parallelism {p}: {m} > {previous}");
            previous = m;
        }
    }

    [Fact]
    public void Smallest_first_brings_tenants_back_sooner_on_average_than_largest_first()
    {
        var tenants = new[] { T("a", 1, 25), T("b", 1, 0.5), T("c", 1, 1), T("d", 1, 3) };
        var settings = new RestoreSettings(1, 40, TimeSpan.FromSeconds(10));
        var smallestFirst = RestoreSchedule.Plan(tenants, settings).MeanTimeToRestore;
        var largestFirst = tenants.OrderByDescending(t => t.DataGb)
            .Aggregate((Sum: TimeSpan.Zero, Total: TimeSpan.Zero), (acc, t) =>
            {
                var done = acc.Sum + RestoreSchedule.EstimateFor(t, settings);
                return (done, acc.Total + done);
            }).Total / tenants.Length;
        Assert.True(smallestFirst < largestFirst);
    }

    [Fact]
    public void Plan_for_standby_hel1_has_every_step_in_engine_order()
    {
        var t = TopologyLoader.Load(Examples.CloudStacks);
        var r = Planner.Plan(t, t.Find("standby-hel1")!);
        Assert.Equal([StepKind.Assess, StepKind.SelectBackup, StepKind.Provision, StepKind.Restore, StepKind.Gate, StepKind.Fence, StepKind.Cutover, StepKind.Report],
            r.Steps.Select(s => s.Kind));
        Assert.Equal(Enumerable.Range(1, r.Steps.Count), r.Steps.Select(s => s.Order));
        Assert.False(r.HasErrors);
    }

    [Fact]
    public void Rto_is_the_sum_of_the_steps_up_to_the_cutover()
    {
        var t = TopologyLoader.Load(Examples.CloudStacks);
        var r = Planner.Plan(t, t.Find("standby-hel1")!);
        var sum = r.Steps.Where(s => s.Kind != StepKind.Report).Aggregate(TimeSpan.Zero, (a, s) => a + s.Estimate);
        Assert.Equal(sum, r.Rto.Value);
        Assert.Equal(TimeSpan.FromHours(4), r.Rto.Target);
        Assert.Equal(r.Restore.Makespan, r.Steps.Single(s => s.Kind == StepKind.Restore).Estimate);
        Assert.Contains("Restore", r.Rto.Explanation);
    }

    [Fact]
    public void Rpo_is_the_schedule_plus_one_backup_run()
    {
        var t = TopologyLoader.Load(Examples.CloudStacks);
        var r = Planner.Plan(t, t.Find("standby-hel1")!);
        var totalGb = t.Tenants.Sum(x => x.DataGb);
        Assert.Equal(TimeSpan.FromMinutes(30) + TimeSpan.FromSeconds(totalGb * 1024 / 40), r.Rpo.Value);
        Assert.True(r.Rpo.WithinTarget);
    }

    [Fact]
    public void A_cold_standby_takes_longer_to_provision_than_a_warm_one()
    {
        using var s = Scenario.Cloud();
        var cold = Planner.Plan(s.Load(), s.Load().Find("standby-hel1")!);
        s.Edit("standby-hel1", "failover:mode: cold", "failover:mode: mvd");
        var t = s.Load();
        var warm = Planner.Plan(t, t.Find("standby-hel1")!);
        Assert.True(warm.Rto.Value < cold.Rto.Value);
        Assert.Contains("already running", warm.Steps.Single(x => x.Kind == StepKind.Provision).Detail);
    }

    [Fact]
    public void Aws_provisioning_is_estimated_slower_than_hetzner()
    {
        var t = TopologyLoader.Load(Examples.CloudStacks);
        TimeSpan Provision(string stack) => Planner.Plan(t, t.Find(stack)!).Steps.Single(s => s.Kind == StepKind.Provision).Estimate;
        Assert.True(Provision("standby-aws-fra") > Provision("standby-hel1"));
    }

    [Fact]
    public void Target_restore_settings_override_production_settings()
    {
        using var s = Scenario.Cloud();
        s.Edit("standby-hel1", "failover:mode: cold", "failover:mode: cold\n  failover:restore: { parallelism: 6 }");
        var t = s.Load();
        Assert.Equal(6, Planner.Plan(t, t.Find("standby-hel1")!).Restore.Settings.Parallelism);
        Assert.Equal(3, Planner.Plan(t, t.Find("standby-aws-fra")!).Restore.Settings.Parallelism);
    }

    [Fact]
    public void Dns_cutover_is_required_across_datacenters_with_the_reason()
    {
        var t = TopologyLoader.Load(Examples.CloudStacks);
        var hel = Planner.DnsCutoverFor(t, t.Find("standby-hel1")!);
        Assert.True(hel.Required);
        Assert.Contains("primary IPs belong to one datacenter", hel.Reason);
        var aws = Planner.DnsCutoverFor(t, t.Find("standby-aws-fra")!);
        Assert.True(aws.Required);
        Assert.Contains("cannot move from Hetzner to Aws", aws.Reason);
        Assert.Equal(60, aws.TtlSeconds);
    }
}
