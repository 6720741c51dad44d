using Failover.Core.Planning;

namespace Failover.Core.Tests;

/// <summary>What the runbook tells the person running the failover: command, stops, T+0, when tenants are served, credentials, DNS down.</summary>
public class OperatorGuideTests
{
    private static (Topology.Topology Topology, Runbook Runbook) Plan(string target = "standby-hel1")
    {
        var topology = Topology.TopologyLoader.Load(Examples.CloudStacks);
        return (topology, Planner.Plan(topology, topology.Find(target)!));
    }

    [Fact]
    public void Names_the_command_and_every_place_the_run_stops_and_asks()
    {
        var (topology, runbook) = Plan();
        var guide = OperatorGuide.For(topology, runbook);
        Assert.Equal("failover run --to standby-hel1", guide.Command);
        Assert.Contains("--yes", guide.ScriptCommand);
        var stops = string.Join("\n", guide.Stops.Select(s => s.When + ": " + s.What));
        Assert.Contains("--accept-data-loss", stops);
        Assert.Contains("older than the RPO target (1h)", stops);
        Assert.Contains("--restore-point", stops);
        Assert.Contains("failover resume", stops);
        Assert.Contains("--yes", stops);
        Assert.Contains("not counted in the estimated RTO", guide.TimeZero);
    }

    [Fact]
    public void Tenants_are_served_after_the_gate_and_cutover_not_when_their_restore_ends()
    {
        var (topology, runbook) = Plan();
        var guide = OperatorGuide.For(topology, runbook);
        var cutoverEnds = runbook.Steps.TakeWhile(s => s.Kind != StepKind.Report).Aggregate(TimeSpan.Zero, (a, s) => a + s.Estimate);
        Assert.Equal(cutoverEnds, guide.ServedAt);
        Assert.Equal(runbook.Rto.Value, guide.ServedAt);
        var fabrikam = guide.Tenants.Single(t => t.Tenant == "fabrikam");
        Assert.True(fabrikam.RestoredAt < fabrikam.ServedAt);
        var restoreStart = runbook.Steps.TakeWhile(s => s.Kind != StepKind.Restore).Aggregate(TimeSpan.Zero, (a, s) => a + s.Estimate);
        Assert.Equal(restoreStart + runbook.Restore.Items.Single(i => i.Tenant.Name == "fabrikam").Finish, fabrikam.RestoredAt);
    }

    [Fact]
    public void Lists_the_credentials_of_each_step_and_the_branch_when_the_dns_api_is_down()
    {
        var (topology, runbook) = Plan();
        var guide = OperatorGuide.For(topology, runbook);
        var route53 = Assert.Single(guide.Credentials, c => c.Name == "AWS credentials for Route 53");
        Assert.Equal([StepKind.Cutover], route53.Steps);
        var standby = Assert.Single(guide.Credentials, c => c.Name == "Hetzner Cloud API token (standby-hel1)");
        Assert.Equal([StepKind.Provision], standby.Steps);
        Assert.Equal([StepKind.Fence], guide.Credentials.Single(c => c.Name == "Hetzner Cloud API token (prod-fsn1)").Steps);
        var dns = string.Join("\n", guide.DnsApiDown.Select(d => d.When + ": " + d.What));
        Assert.Contains("failover resume", dns);
        Assert.Contains("secondary zone", dns);
        Assert.Contains("registrar", dns);
        Assert.Contains("2d", dns); // the parent zone's NS TTL: the delay of a registrar change
    }
    [Fact]
    public void Each_figure_says_whether_it_is_an_assumed_default_and_shows_the_last_rehearsal_s_measured_time_beside_it()
    {
        var (topology, runbook) = Plan();
        var none = OperatorGuide.For(topology, runbook);
        Assert.Null(none.Rehearsal);
        Assert.All(none.Figures, f => Assert.Null(f.Measured));
        Assert.Equal(runbook.Steps.Select(s => s.Kind), none.Figures.Select(f => f.Step));
        Assert.Equal("assumed default", none.Figures.Single(f => f.Step == StepKind.Gate).Basis);
        Assert.StartsWith("assumed default for hetzner", none.Figures.Single(f => f.Step == StepKind.Provision).Basis);
        Assert.Contains("tenant sizes (dataGb)", none.Figures.Single(f => f.Step == StepKind.Restore).Basis);

        var rehearsal = new RehearsalTimes("20261120-020000-abcdef", new DateTimeOffset(2026, 11, 20, 2, 0, 0, TimeSpan.Zero),
            new Dictionary<StepKind, TimeSpan> { [StepKind.Restore] = TimeSpan.FromMinutes(42), [StepKind.Provision] = TimeSpan.FromMinutes(7) });
        var measured = OperatorGuide.For(topology, runbook, rehearsal);
        Assert.Equal(TimeSpan.FromMinutes(42), measured.Figures.Single(f => f.Step == StepKind.Restore).Measured);
        Assert.Null(measured.Figures.Single(f => f.Step == StepKind.Cutover).Measured); // a rehearsal never cuts over
        Assert.Equal(runbook.Steps.Single(s => s.Kind == StepKind.Restore).Estimate, measured.Figures.Single(f => f.Step == StepKind.Restore).Estimate);
    }

    [Fact]
    public void Names_the_vault_each_tenant_restores_from_and_the_fallback()
    {
        var (topology, runbook) = Plan();
        var vaults = string.Join("\n", OperatorGuide.For(topology, runbook).Vaults.Select(v => v.When + ": " + v.What));
        Assert.Contains("every tenant: restores from vault-aws-par", vaults);
        Assert.Contains("previous snapshot of the same tenant that passes verification", vaults);
        Assert.Contains("the vault unusable:", vaults);
    }
}

/// <summary>A tenant's restore progress as the operator reads it: bytes, rate and the ETA they give.</summary>
public class TransferProgressTests
{
    [Fact]
    public void Rate_and_eta_follow_from_bytes_and_elapsed_time()
    {
        var p = new Failover.Core.Backup.TransferProgress("contoso", 30L << 20, 120L << 20, TimeSpan.FromSeconds(10));
        Assert.Equal(3L << 20, (long)p.Rate);
        Assert.Equal(TimeSpan.FromSeconds(30), p.Eta);
        Assert.Equal("contoso  30.0 MB of 120.0 MB (25%)  3.0 MB/s  ETA 30s", p.Describe());
        Assert.Null((p with { Done = 0 }).Eta);
        Assert.EndsWith("done in 10s", (p with { Done = 120L << 20 }).Describe());
    }
}
