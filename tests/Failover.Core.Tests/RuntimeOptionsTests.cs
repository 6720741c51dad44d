using Failover.Core.Planning;
using Failover.Core.Policies;
using Failover.Core.Topology;

namespace Failover.Core.Tests;

public sealed class RuntimeOptionsTests
{
    [Fact]
    public void The_defaults_are_the_documented_limits()
    {
        var o = RuntimeOptions.Default;
        Assert.Equal(new Wait(TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(1)), o.LocalGate);
        Assert.Equal(new Wait(TimeSpan.FromMinutes(10), TimeSpan.FromSeconds(5)), o.CloudGate);
        Assert.Equal(TimeSpan.FromMinutes(30), o.MigrateHook);
        Assert.Equal(TimeSpan.FromMinutes(10), o.FirstBackup);
        Assert.Equal((TimeSpan.FromMinutes(30), TimeSpan.FromMinutes(30), TimeSpan.FromMinutes(2)), (o.PulumiUp, o.PulumiDestroy, o.PulumiCommand));
        Assert.Equal(TimeSpan.FromSeconds(15), o.Http);
        Assert.Equal(TimeSpan.FromMinutes(2), o.ReportFiling);
        // A booting data server is offered its restore point for as long as a boot takes, not a whole restore's 2 h.
        Assert.Equal(new Wait(TimeSpan.FromMinutes(30), TimeSpan.FromSeconds(5)), o.RestorePoint);
    }

    [Fact]
    public void A_limit_of_zero_is_refused_naming_the_setting()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new RuntimeOptions(fence: TimeSpan.Zero));
        Assert.Contains("runtime option fence", e.Message);
        var up = Assert.Throws<ArgumentOutOfRangeException>(() => new RuntimeOptions(pulumiUp: TimeSpan.FromMinutes(-1)));
        Assert.StartsWith("runtime option pulumiUp is -00:01:00: a time limit must be longer than zero. Fix: give pulumiUp a positive duration (the defaults are in docs/configuration.md#time-limits)", up.Message);
        Assert.Equal("pulumiUp", up.ParamName);
    }

    [Fact]
    public void A_poll_longer_than_its_timeout_is_refused_naming_the_setting()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new RuntimeOptions(cloudGate: new Wait(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30))));
        Assert.Contains("runtime option cloudGate polls every", e.Message);
    }

    [Fact]
    public void The_planner_reads_the_limits_a_restore_or_dns_estimated_longer_than_its_wait_is_a_warning()
    {
        var t = TopologyLoader.Load(Examples.CloudStacks);
        var target = t.Find("standby-hel1")!;
        var plan = Planner.Plan(t, target);
        Assert.DoesNotContain(plan.Findings, f => f.PolicyId == "wait-shorter-than-estimate");

        var tight = new RuntimeOptions(cloudRestore: new Wait(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(10)), dnsVisible: new Wait(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)));
        var warned = Planner.Plan(t, target, tight).Findings.Where(f => f.PolicyId == "wait-shorter-than-estimate").ToList();
        Assert.Equal(2, warned.Count);
        Assert.All(warned, f => Assert.Equal(Severity.Warning, f.Severity));
        Assert.Contains(warned, f => f.Message.Contains($"the restore is estimated at {Durations.Format(plan.Restore.Makespan)}, but the run waits at most 30s for it (runtime option cloudRestore)"));
        Assert.Contains(warned, f => f.Message.Contains("but the cutover waits at most 1s (runtime option dnsVisible)"));
    }

    [Fact]
    public void The_planner_reads_the_pulumi_up_limit_a_provision_estimated_longer_is_a_warning()
    {
        var t = TopologyLoader.Load(Examples.CloudStacks);
        var target = t.Find("standby-hel1")!;
        var provision = Planner.Plan(t, target).Steps.Single(s => s.Kind == StepKind.Provision).Estimate;

        var warned = Planner.Plan(t, target, new RuntimeOptions(pulumiUp: provision / 2)).Findings.Single(f => f.PolicyId == "wait-shorter-than-estimate");

        Assert.Equal(Severity.Warning, warned.Severity);
        Assert.Contains($"the provision step is estimated at {Durations.Format(provision)}, but the run lets `pulumi up` run at most {Durations.Format(provision / 2)} (runtime option pulumiUp)", warned.Message);
    }
}
