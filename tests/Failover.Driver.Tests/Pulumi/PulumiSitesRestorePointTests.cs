using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Cloud;
using Failover.Driver.Pulumi;
using Failover.Driver.Runbooks;

namespace Failover.Driver.Tests.Pulumi;

/// <summary>
/// The provision step leaves the standby's stack holding exactly this run's restore point before `pulumi up` (infra/
/// renders the restore from every failover:snapshots key): an earlier run's key is removed, a resume removes nothing,
/// the operator's other keys stay, and a removal that fails stops the step before anything is deployed.
/// </summary>
public sealed class PulumiSitesRestorePointTests : IDisposable
{
    private const string Standby = "standby-hel1";
    private readonly StandIn _pulumi = new();
    private readonly StackSpec _standby = TopologyLoader.Load(Path.Combine(Repo.Root, "infra", "stacks")).Find(Standby)!;

    public PulumiSitesRestorePointTests() =>
        _pulumi.Script(new { outputs = new Dictionary<string, object> { [Standby] = new Dictionary<string, object> { [StackOutputs.ServiceIpv4] = "10.20.0.5" } } });

    public void Dispose() => _pulumi.Dispose();

    private PulumiSites Sites() => new(_pulumi.Cli(), new HttpClient(), _pulumi.Log, _ => { }, TimeSpan.FromMinutes(5));

    private static List<TenantSnapshot> Point(params string[] tenants) =>
        tenants.Select(t => new TenantSnapshot(t, SiteUserData.PlaceholderId(t), DateTimeOffset.UnixEpoch, 1)).ToList();

    /// <summary>The config removals and ups the stand-in saw, in order.</summary>
    private List<string> Changes() => _pulumi.Calls()
        .Where(c => (string?)c["command"] is "config rm-all" or "up")
        .Select(c => (string?)c["command"] == "up" ? "up" : "rm " + string.Join(' ', StandIn.Args(c).Skip(2).TakeWhile(a => a != "--stack")))
        .ToList();

    private async Task EarlierRunAsync()
    {
        // An earlier failover restored `legacy`, a tenant production has dropped since; the operator keeps a key of its own.
        var cli = _pulumi.Cli();
        await cli.SelectOrCreateStackAsync(Standby);
        await cli.SetConfigAsync(Standby, [new(RestorePointConfig.PathOf("legacy"), ConfigValue.Plain("0badc0de"), Path: true),
            new(RestorePointConfig.PathOf("northwind"), ConfigValue.Plain("0badc0de"), Path: true)]);
        await cli.SetConfigAsync(Standby, "hcloud:endpoint", ConfigValue.Plain("https://api.hetzner.cloud/v1"));
    }

    [Fact]
    public async Task An_earlier_runs_key_is_removed_before_pulumi_up_and_a_resume_removes_nothing()
    {
        await EarlierRunAsync();
        var point = Point("northwind", "contoso");

        await Sites().ProvisionAsync(_standby, point, CancellationToken.None);
        await Sites().ProvisionAsync(_standby, point, CancellationToken.None); // the resume of a run killed after its up

        Assert.Equal(["rm --path failover:snapshots.legacy", "up", "up"], Changes());
        var held = RestorePointConfig.Parse(Standby, (await _pulumi.Cli().GetConfigAsync(Standby, RestorePointConfig.Key))?.Value);
        Assert.Equal(point.Select(p => $"{p.Tenant} {p.SnapshotId}").Order(), held.Select(h => $"{h.Key} {h.Value}").Order());
        Assert.Equal("https://api.hetzner.cloud/v1", (await _pulumi.Cli().GetConfigAsync(Standby, "hcloud:endpoint"))?.Value);
    }

    [Fact]
    public async Task A_tenant_the_run_leaves_out_is_written_left_out_so_the_restore_point_still_names_every_tenant()
    {
        // `failover run --without-tenant contoso`: select-backup's restore point has every tenant but contoso.
        var topology = TopologyLoader.Load(Path.Combine(Repo.Root, "infra", "stacks"));
        var point = Point([.. topology.Tenants.Select(t => t.Name).Where(t => t != "contoso")]);
        var said = new List<string>();
        var sites = new PulumiSites(_pulumi.Cli(), new HttpClient(), _pulumi.Log, said.Add, TimeSpan.FromMinutes(5)) { Topology = topology };

        await sites.ProvisionAsync(_standby, point, CancellationToken.None);

        var held = RestorePointConfig.Parse(Standby, (await _pulumi.Cli().GetConfigAsync(Standby, RestorePointConfig.Key))?.Value);
        Assert.Equal("left-out", held["contoso"]);
        Assert.Equal(point.Select(p => $"{p.Tenant} {p.SnapshotId}").Append("contoso left-out").Order(), held.Select(h => $"{h.Key} {h.Value}").Order());
        Assert.Contains(said, l => l.Contains("left out: contoso"));
        Assert.Equal(["up"], Changes());
    }

    [Fact]
    public async Task A_removal_that_fails_stops_before_pulumi_up_naming_the_stack_the_key_and_the_fix()
    {
        await EarlierRunAsync();
        _pulumi.Script(new
        {
            rules = new[] { new { command = "config rm-all", stderr = "error: open Pulumi.standby-hel1.yaml: permission denied\n", exitCode = 1 } },
        });

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Sites().ProvisionAsync(_standby, Point("northwind", "contoso"), CancellationToken.None));

        Assert.Contains("standby-hel1 holds failover:snapshots.legacy from an earlier run, not in this restore point", e.Message);
        Assert.Contains("permission denied", e.Message);
        Assert.Contains("Remove them (`pulumi config rm-all --path --stack standby-hel1 failover:snapshots.legacy`), then `failover resume`", e.Message);
        Assert.Empty(_pulumi.Calls("up"));
    }
}
