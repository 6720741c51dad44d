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
        Assert.Equal(new Wait(TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(3)), o.ReportFiling);
        // After Ctrl-C: the longer of a thaw hook and a rehearsal copy's destroy, then the journal and report.
        Assert.Equal(TimeSpan.FromMinutes(45), o.AfterInterrupt);
        Assert.Equal(TimeSpan.FromMinutes(75), new RuntimeOptions(pulumiDestroy: TimeSpan.FromHours(1)).AfterInterrupt);
        // A booting data server is offered its restore point for as long as a boot takes, not a whole restore's 2 h.
        Assert.Equal(new Wait(TimeSpan.FromMinutes(30), TimeSpan.FromSeconds(5)), o.RestorePoint);
        Assert.Equal((TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(2)), (o.Probe, o.TcpProbe, o.DnsQuery));
        Assert.Equal((TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60)),
            (o.ApplicationStop, o.RunState, o.ControlRequest, o.LocalDatabaseStart));
        Assert.Equal(TimeSpan.FromSeconds(60), o.LockLease);
    }

    [Fact]
    public void The_production_stack_file_sets_limits_and_leaves_the_others_and_a_wait_s_other_half_at_their_defaults()
    {
        using var s = Scenario.Cloud();
        s.Edit("prod-fsn1", "  failover:targets:", "  failover:timeLimits:\n    pulumiUp: 45m\n    cloudGate: { poll: 10s }\n    cloudRestore: 4h\n    reportFiling: { poll: 1s }\n    lockLease: 2m\n  failover:targets:");

        var limits = s.Load().TimeLimits;

        Assert.Equal(TimeSpan.FromMinutes(45), limits.PulumiUp);
        Assert.Equal(new Wait(RuntimeOptions.Default.CloudGate.Timeout, TimeSpan.FromSeconds(10)), limits.CloudGate);
        Assert.Equal(new Wait(TimeSpan.FromHours(4), RuntimeOptions.Default.CloudRestore.Poll), limits.CloudRestore);
        Assert.Equal(RuntimeOptions.Default.Http, limits.Http);
        Assert.Equal(new Wait(RuntimeOptions.Default.ReportFiling.Timeout, TimeSpan.FromSeconds(1)), limits.ReportFiling);
        Assert.Equal(TimeSpan.FromMinutes(2), limits.LockLease);
        // reportFiling was one limit: a short one written alone still loads, polled at its timeout.
        var short_ = RuntimeOptions.From(new Dictionary<string, (TimeSpan?, TimeSpan?)> { ["reportFiling"] = (TimeSpan.FromSeconds(2), null) }, new Dictionary<string, TimeSpan>());
        Assert.Equal(new Wait(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2)), short_.ReportFiling);
        using var untouched = Scenario.Cloud();
        Assert.Same(RuntimeOptions.Default, untouched.Load().TimeLimits);
    }

    [Theory]
    [InlineData("    pulumiUp: 0s", "failover:timeLimits.pulumiUp", "a time limit must be longer than zero", "set failover:timeLimits.pulumiUp in the production stack file to a positive duration")]
    [InlineData("    cloudGate: { timeout: 5s, poll: 30s }", "failover:timeLimits.cloudGate", "the poll must not be longer than the timeout", "shorten failover:timeLimits.cloudGate.poll")]
    [InlineData("    cloudGate:\n      timeout: 0s", "failover:timeLimits.cloudGate.timeout", "a time limit must be longer than zero", "failover:timeLimits.cloudGate.timeout in the production stack file")]
    [InlineData("    lockLease: 20s", "failover:timeLimits.lockLease", "a renewal sent a third into the lease and taking runState would land after the lease ended", "set failover:timeLimits.lockLease to at least 1.5 × runState (00:00:30)")]
    [InlineData("    pulumiUp: soon", "failover:timeLimits.pulumiUp", "'soon' is not a duration", "write a duration such as 90s")]
    [InlineData("    pulumiUpp: 45m", "failover:timeLimits.pulumiUpp", "unknown key 'pulumiUpp' (did you mean 'pulumiUp'?)", "the keys allowed under failover:timeLimits are: localGate")]
    public void A_limit_no_run_could_use_is_refused_naming_the_file_key_line_and_fix(string yaml, string key, string message, string fix)
    {
        using var s = Scenario.Cloud();
        s.Edit("prod-fsn1", "  failover:targets:", $"  failover:timeLimits:\n{yaml}\n  failover:targets:");
        var line = File.ReadAllLines(s.PathOf("prod-fsn1")).ToList().FindIndex(l => l.StartsWith("  failover:timeLimits:")) + 2;

        var p = s.Problem();

        Assert.EndsWith("Pulumi.prod-fsn1.yaml", p.File);
        Assert.Equal((key, line), (p.Key, p.Line + (key.EndsWith(".timeout") ? -1 : 0)));
        Assert.Contains(message, p.Message);
        Assert.Contains(fix, p.Fix);
    }

    [Fact]
    public void Time_limits_on_a_standby_are_refused_they_belong_to_production()
    {
        using var s = Scenario.Cloud();
        s.Edit("standby-hel1", "  failover:mode: cold", "  failover:mode: cold\n  failover:timeLimits: { pulumiUp: 45m }");
        var p = s.Problem();
        Assert.Equal("failover:timeLimits", p.Key);
        Assert.Contains("only the production stack declares this", p.Message);
    }

    [Fact]
    public void A_limit_of_zero_is_refused_naming_the_setting()
    {
        var e = Assert.Throws<RuntimeOptionException>(() => new RuntimeOptions(fence: TimeSpan.Zero));
        Assert.Contains("runtime option fence", e.Message);
        var up = Assert.Throws<RuntimeOptionException>(() => new RuntimeOptions(pulumiUp: TimeSpan.FromMinutes(-1)));
        // The fix names the one place an operator sets it.
        Assert.StartsWith("runtime option pulumiUp is -00:01:00: a time limit must be longer than zero. Fix: set failover:timeLimits.pulumiUp in the production stack file " +
                          "to a positive duration, or remove it for the default (docs/configuration.md#time-limits)", up.Message);
        Assert.Equal("pulumiUp", up.ParamName);
    }

    [Fact]
    public void A_poll_longer_than_its_timeout_is_refused_naming_the_setting()
    {
        var e = Assert.Throws<RuntimeOptionException>(() => new RuntimeOptions(cloudGate: new Wait(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30))));
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
