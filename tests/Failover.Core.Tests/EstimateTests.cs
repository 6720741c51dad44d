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

/// <summary>The backup side's own rules: a run that fits its interval, and retention that leaves a clean point.</summary>
public class BackupScheduleTests
{
    [Fact]
    public void A_backup_run_longer_than_its_interval_is_an_error()
    {
        using var s = Scenario.Cloud();
        Assert.DoesNotContain(s.Findings(), f => f.PolicyId == "backup-run-exceeds-interval");
        // 54.4 GB over a 5 MB/s link is about 3 hours: a 30m timer can never start on time.
        s.Edit("prod-fsn1", "    streamMBps: 40", "    streamMBps: 5");
        var f = Assert.Single(s.Findings(), x => x.PolicyId == "backup-run-exceeds-interval");
        Assert.Equal(Severity.Error, f.Severity);
        Assert.Matches(@"at 5 MB/s takes about 3h \d+m.*longer than the 30m schedule", f.Message);
    }

    [Fact]
    public void Retention_below_the_ransomware_floor_is_a_warning_with_its_reason()
    {
        using var s = Scenario.Cloud();
        Assert.DoesNotContain(s.Findings(), f => f.PolicyId == "retention-below-ransomware-floor");
        s.Edit("prod-fsn1", "retention: 30d", "retention: 7d");
        var f = Assert.Single(s.Findings(), x => x.PolicyId == "retention-below-ransomware-floor");
        Assert.Equal(Severity.Warning, f.Severity);
        Assert.Contains("kept 7d, less than the 30d floor", f.Message);
        Assert.Contains("dwell time", f.Explanation);
    }
}
