using Failover.Core.Planning;
using Failover.Core.Policies;

namespace Failover.Core.Tests;

/// <summary>Estimates that do not fool: each figure comes from the link and the keys it depends on.</summary>
public class EstimateTests
{
    private const string StandbyMode = "  failover:mode: cold\n";

    [Fact]
    public void A_standby_that_sets_one_restore_key_keeps_productions_others()
    {
        using var s = Scenario.Cloud();
        s.Edit("standby-hel1", StandbyMode, StandbyMode + "  failover:restore:\n    streamMBps: 10\n");
        var t = s.Load();
        var on = t.RestoreOn(t.Find("standby-hel1")!);
        Assert.Equal(10, on.StreamMBps);
        Assert.Equal(3, on.Parallelism); // production's, not the default 2
        Assert.Equal(TimeSpan.FromSeconds(20), on.TenantOverhead);
        Assert.Equal(3, t.RestoreOn(t.Find("standby-aws-fra")!).Parallelism);
    }

    [Fact]
    public void The_rpo_estimate_uses_productions_link_whichever_standby_is_planned_for()
    {
        using var s = Scenario.Cloud();
        s.Edit("standby-hel1", StandbyMode, StandbyMode + "  failover:restore:\n    streamMBps: 1\n");
        var t = s.Load();
        var slow = Planner.Estimate(t, t.Find("standby-hel1")!).Rpo;
        var other = Planner.Estimate(t, t.Find("standby-aws-fra")!).Rpo;
        Assert.Equal(other.Value, slow.Value);
        Assert.Contains("prod-fsn1's link at 40 MB/s", slow.Explanation);
        // A slow standby link slows its restore, not production's backups: no RPO finding for it.
        Assert.DoesNotContain(PolicyBook.Evaluate(t, null), f => f.PolicyId == "rpo-estimate-exceeds-target");
    }

    [Fact]
    public void When_the_largest_tenant_alone_misses_the_rto_the_finding_says_parallelism_cannot_help()
    {
        using var s = Scenario.Cloud();
        s.Edit("prod-fsn1", "rto: 4h", "rto: 10m");
        var f = Assert.Single(s.Findings("standby-hel1"), x => x.PolicyId == "restore-exceeds-rto");
        Assert.Contains("northwind (25 GB) alone takes", f.Message);
        Assert.Contains("Parallelism cannot help", f.Fix);
        Assert.DoesNotContain("in parallel", f.Fix);
    }

    [Fact]
    public void When_more_parallelism_would_meet_the_rto_the_finding_says_so()
    {
        using var s = Scenario.Cloud();
        // One stream at a time on hel1: the sum of every tenant's restore misses 50m, northwind alone does not.
        s.Edit("standby-hel1", StandbyMode, StandbyMode + "  failover:restore:\n    parallelism: 1\n    streamMBps: 20\n")
         .Edit("prod-fsn1", "rto: 4h", "rto: 50m");
        var t = s.Load();
        var plan = Planner.Estimate(t, t.Find("standby-hel1")!);
        Assert.False(plan.Rto.WithinTarget, plan.Rto.Explanation);
        var f = Assert.Single(PolicyBook.Evaluate(t, t.Find("standby-hel1")), x => x.PolicyId == "restore-exceeds-rto");
        Assert.DoesNotContain("alone", f.Message);
        Assert.Contains("in parallel", f.Fix);
    }
}
