using Failover.Core.Topology;
using Failover.Driver.Cloud;
using Failover.Driver.Local;
using Failover.Driver.Runbooks;
using Failover.Driver.Tests.Pulumi;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Ports;

/// <summary>
/// The contracts of the site roles (probe, provisioner, fence, retirement) as written in Runbooks/Ports.cs, run against
/// every adapter that serves them, the way restic's backend test suite runs one suite per backend: a subclass only says
/// how to build its adapter and which sites it has.
/// </summary>
public abstract class SiteRolesConformance : IAsyncLifetime
{
    private static CancellationToken None => CancellationToken.None;

    /// <summary>The adapter under test: one object serving the four roles, as a provider's sites do.</summary>
    protected abstract object Sites { get; }

    /// <summary>A standby the suite provisions.</summary>
    protected abstract StackSpec Standby { get; }

    /// <summary>A site nothing has provisioned (nor fenced): nothing answers for it.</summary>
    protected abstract StackSpec Untouched { get; }

    public abstract Task InitializeAsync();
    public abstract Task DisposeAsync();

    private ISiteProbe Probe => (ISiteProbe)Sites;
    private ISiteProvisioner Provisioner => (ISiteProvisioner)Sites;
    private ISiteFence Fence => (ISiteFence)Sites;
    private ISiteRetirement Retirement => (ISiteRetirement)Sites;

    [Fact]
    public async Task Provisioning_again_gives_the_same_site_and_the_probe_finds_it_where_provisioning_said()
    {
        var first = await Provisioner.ProvisionAsync(Standby, [], None);
        var again = await Provisioner.ProvisionAsync(Standby, [], None);
        Assert.NotEmpty(first.Addresses);
        Assert.Equal(first.Addresses, again.Addresses);
        Assert.Equal(first.Addresses, (await Probe.AddressAsync(Standby, None)).Addresses);
    }

    [Fact]
    public async Task A_site_that_does_not_answer_is_not_serving_and_that_is_no_error()
    {
        Assert.False(await Probe.IsServingAsync(Untouched, None));
    }

    [Fact]
    public async Task Lifting_a_fence_that_is_not_there_changes_nothing_and_fencing_again_is_fencing_once()
    {
        Assert.False((await Fence.UnfenceAsync(Untouched, None)).Lifted);
        var first = await Fence.FenceAsync(Untouched, None);
        var again = await Fence.FenceAsync(Untouched, None);
        Assert.NotEmpty(first);
        Assert.NotEmpty(again);
        // Fenced twice is fenced: it serves nothing.
        Assert.False(await Probe.IsServingAsync(Untouched, None));
    }

    [Fact]
    public async Task Scaling_down_again_is_scaling_down_once()
    {
        await Provisioner.ProvisionAsync(Standby, [], None);
        Assert.Contains(Standby.Name, await Retirement.ScaleDownAsync(Standby, destroy: false, None));
        Assert.Contains(Standby.Name, await Retirement.ScaleDownAsync(Standby, destroy: false, None));
    }
}

/// <summary>The local provider's sites: PostgreSQL clusters on this suite's own loopback addresses (127.0.10.x).</summary>
public sealed class LocalSitesConformance : SiteRolesConformance
{
    private readonly string _state = Directory.CreateTempSubdirectory("failover-conf-").FullName;
    private LocalSites _sites = null!;
    private StackSpec _standby = null!, _untouched = null!;

    protected override object Sites => _sites;
    protected override StackSpec Standby => _standby;
    protected override StackSpec Untouched => _untouched;

    private static StackSpec Site(string name, string address) => StackFileReader.Parse($$"""
        config:
          failover:role: standby
          failover:site: { provider: local, location: lab-t, address: {{address}}, jurisdiction: DE }
          failover:servers: [{ name: db, full: process }]
        """, name, $"Pulumi.{name}.yaml");

    public override async Task InitializeAsync()
    {
        await DebianPackages.EnsureAsync(DebianPackages.Drill.Where(p => p.Package.StartsWith("postgresql")).ToList(), _ => { }, CancellationToken.None);
        _sites = new LocalSites(_state, Processes.FreePort());
        _standby = Site("conf-standby", "127.0.10.1");
        _untouched = Site("conf-untouched", "127.0.10.2");
    }

    public override async Task DisposeAsync() => await _sites.RemoveAllAsync([_standby, _untouched], CancellationToken.None);
}

/// <summary>Cloud sites through Pulumi, over the recorded CLI contract's stand-in `pulumi` (no cloud, no server).</summary>
public sealed class PulumiSitesConformance : SiteRolesConformance
{
    private readonly StandIn _pulumi = new();
    private readonly Topology _topology = TopologyLoader.Load(Path.Combine(Repo.Root, "infra", "stacks"));
    private PulumiSites _sites = null!;

    protected override object Sites => _sites;
    protected override StackSpec Standby => _topology.Find("standby-hel1")!;
    protected override StackSpec Untouched => _topology.Find("standby-aws-fra")!;

    public override async Task InitializeAsync()
    {
        _pulumi.Script(new
        {
            outputs = new Dictionary<string, object>
            {
                ["standby-hel1"] = new { serviceIpv4 = "192.0.2.21", serviceIpv6 = "", healthUrl = "http://192.0.2.21:1/health" },
            },
            resources = new Dictionary<string, object>(),
        });
        _sites = new PulumiSites(_pulumi.Cli(), new HttpClient(), _pulumi.Log, _ => { }, TimeSpan.FromMinutes(1));
        await _pulumi.Cli().SelectOrCreateStackAsync(Standby.Name);
        await _pulumi.Cli().SelectOrCreateStackAsync(Untouched.Name);
    }

    public override Task DisposeAsync()
    {
        _pulumi.Dispose();
        return Task.CompletedTask;
    }
}
