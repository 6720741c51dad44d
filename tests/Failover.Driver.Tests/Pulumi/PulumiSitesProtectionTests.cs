using Failover.Core.Topology;
using Failover.Driver.Cloud;

namespace Failover.Driver.Tests.Pulumi;

/// <summary>
/// A kept site's (production, fenced) data server is delete-protected: the explicit scale-down and the unfence lift the
/// protection in a `pulumi up` of its own before anything is removed or replaced; the fence keeps every server, in one
/// `pulumi up` (Core Sites/ChangeRules.cs and FenceEffect.cs say why).
/// </summary>
public sealed class PulumiSitesProtectionTests : IDisposable
{
    private readonly StandIn _pulumi = new();

    public void Dispose() => _pulumi.Dispose();

    private PulumiSites Sites() => new(_pulumi.Cli(), new HttpClient(), _pulumi.Log, _ => { }, TimeSpan.FromMinutes(5));

    /// <summary>The config sets and ups the stand-in saw, in order, as "key value" (a set-all as its pairs) and "up".</summary>
    private List<string> Sequence() => _pulumi.Calls()
        .Where(c => (string?)c["command"] is "config set" or "config set-all" or "up")
        .SelectMany(c => (string?)c["command"] switch
        {
            "up" => ["up"],
            "config set-all" => StandIn.Args(c).Where(a => a.Contains('=')).Select(a => a.Replace('=', ' ')),
            _ => (IEnumerable<string>)[$"{StandIn.Args(c)[2]} {StandIn.Args(c)[^1]}"],
        })
        .ToList();

    [Fact]
    public async Task The_scale_down_of_the_old_production_lifts_its_delete_protection_before_mode_cold()
    {
        var prod = TopologyLoader.Load(Path.Combine(Repo.Root, "infra", "stacks")).Production;
        await _pulumi.Cli().SelectOrCreateStackAsync(prod.Name);
        await Sites().ScaleDownAsync(prod, destroy: false, CancellationToken.None);
        Assert.Equal(["failover:protection released", "up", "failover:mode cold", "up"], Sequence());
    }

    [Fact]
    public async Task Unfencing_a_fenced_site_lifts_the_protection_and_leaves_the_mode_to_the_provisioning()
    {
        var dir = Repo.CopyProject();
        var path = Path.Combine(dir, "infra", "stacks", "Pulumi.prod-fsn1.yaml");
        var text = File.ReadAllText(path);
        Assert.Contains("  failover:mode: full\n", text);
        File.WriteAllText(path, text.Replace("  failover:mode: full\n", "  failover:mode: fenced\n"));
        var fenced = TopologyLoader.Load(Path.Combine(dir, "infra", "stacks")).Production;
        await _pulumi.Cli().SelectOrCreateStackAsync(fenced.Name);
        var said = await Sites().UnfenceAsync(fenced, CancellationToken.None);
        Assert.Equal(["failover:protection released", "up"], Sequence());
        Assert.True(said.Lifted);
        Assert.Contains("delete protection lifted", said.Note);
    }

    [Fact]
    public async Task Fencing_production_is_one_pulumi_up_that_keeps_every_server()
    {
        var prod = TopologyLoader.Load(Path.Combine(Repo.Root, "infra", "stacks")).Production;
        await _pulumi.Cli().SelectOrCreateStackAsync(prod.Name);
        var said = await Sites().FenceAsync(prod, CancellationToken.None);
        // One update, no lift first: every server stays declared and protected, so a provider that did not answer is
        // fenced later by a plain `pulumi up` of the config that says fenced.
        Assert.Equal(["failover:mode fenced", "up"], Sequence());
        Assert.Contains("prod-fsn1-app-1, prod-fsn1-app-2, prod-fsn1-db-1 kept with their addresses, volumes and data, delete-protected", said);
        // A stack that exports no control key (deployed before it had one) gets no stop: every server is named.
        Assert.Contains("the stop could not reach prod-fsn1-app-1 (prod-fsn1 exports no controlKey)", said);
    }

    [Fact]
    public async Task A_cold_standby_is_scaled_down_without_a_protection_step()
    {
        var standby = TopologyLoader.Load(Path.Combine(Repo.Root, "infra", "stacks")).Find("standby-hel1")!;
        await _pulumi.Cli().SelectOrCreateStackAsync(standby.Name);
        await Sites().ScaleDownAsync(standby, destroy: false, CancellationToken.None);
        Assert.Equal(["failover:mode cold", "up"], Sequence());
    }
}
