using System.Text.Json.Nodes;
using Failover.Core.Topology;
using Failover.Driver.Cli;
using Failover.Driver.Engine;

namespace Failover.Driver.Tests.Engine;

/// <summary>A tenant without a usable backup does not hold the others back: the run offers to go on without it (fast, over in-memory ports).</summary>
public class PartialFailoverTests : IDisposable
{
    private readonly FakeProject _p = new();
    private FakePorts Fake => _p.Fake;

    public void Dispose() => _p.Dispose();

    private string Project => _p.Project;
    private string State => _p.State;

    private CliRun Run(params string[] args) => _p.Run(args);

    private string RunDir => _p.RunDir;

    [Fact]
    public void A_tenant_without_a_backup_stops_the_run_offering_to_go_on_without_it_and_resume_without_it_serves_the_others()
    {
        Fake.Snapshots["contoso"].Clear();
        var failed = Run("run", "--to", "standby-hel1", "--yes");
        Assert.Equal(ExitCodes.Failed, failed.ExitCode);
        Assert.Contains("tenant contoso has no backup", failed.Stderr);
        Assert.Contains("`failover resume --without-tenant contoso`", failed.Stderr);
        Assert.Contains("`failover restore --tenant contoso`", failed.Stderr);
        Assert.Equal(0, Fake.Count("provision"));

        var resumed = Run("resume", "--without-tenant", "contoso", "--operator", "bob@example.com", "--reason", "its vault copy is unreadable");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr + resumed.Stdout);
        Assert.Equal(9, Fake.Count("restore "));
        Assert.Equal(0, Fake.Count("restore contoso"));
        Assert.Equal("192.0.2.10", Fake.DnsPointsAt);

        var journal = File.ReadAllLines(Path.Combine(RunDir, "journal.jsonl"));
        Assert.Single(journal, l => l.Contains("\"event\":\"tenants-left-out\"") && l.Contains("\"contoso\"") && l.Contains("bob@example.com"));
        var md = File.ReadAllText(Path.Combine(RunDir, "report.md"));
        Assert.Contains("**Left out: contoso** (no usable backup): it is not served until `failover restore --tenant contoso` restores it.", md);
        Assert.Contains("Failed over without contoso (--without-tenant, by ", md);
        Assert.Contains("reason given: \"its vault copy is unreadable\"", md);
        Assert.Contains("Tenant contoso had no usable backup and was left out", md); // a CAPA row
        var json = JsonNode.Parse(Run("report", "--json").Stdout)!;
        Assert.Equal(["contoso"], json["leftOut"]!.AsArray().Select(t => (string)t!));
        Assert.DoesNotContain(json["snapshots"]!.AsArray(), s => (string)s!["tenant"]! == "contoso");
    }

    [Fact]
    public void Without_tenant_at_the_start_is_journaled_and_the_tenant_is_never_touched()
    {
        var run = Run("run", "--to", "standby-hel1", "--yes", "--without-tenant", "fabrikam", "--without-tenant", "litware");
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Equal(8, Fake.Count("restore "));
        Assert.DoesNotContain(Fake.Effects, e => e.Contains("fabrikam") || e.Contains("litware"));
        Assert.Contains("\"without\":[\"fabrikam\",\"litware\"]", File.ReadAllLines(Path.Combine(RunDir, "journal.jsonl"))[0]);
    }

    [Fact]
    public void An_unknown_or_every_tenant_left_out_is_refused_before_anything_runs()
    {
        var unknown = Run("run", "--to", "standby-hel1", "--yes", "--without-tenant", "contosso");
        Assert.Equal(ExitCodes.Usage, unknown.ExitCode);
        Assert.Contains("did you mean 'contoso'", unknown.Stderr);
        var names = TopologyLoader.Load(Path.Combine(Project, "infra", "stacks")).Tenants.SelectMany(t => new[] { "--without-tenant", t.Name });
        var all = Run(["run", "--to", "standby-hel1", "--yes", .. names]);
        Assert.Equal(ExitCodes.Usage, all.ExitCode);
        Assert.Contains("nothing to fail over", all.Stderr);
        Assert.Empty(Fake.Effects);
    }
}
