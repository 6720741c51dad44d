using Failover.Core.Planning;
using Failover.Core.Topology;
using Failover.Driver.Cloud;
using Failover.Driver.Dns;
using Failover.Driver.Runbooks;
using Failover.Driver.Tests.Dns;
using Failover.Driver.Tests.Pulumi;

namespace Failover.Driver.Tests.Ports;

/// <summary>
/// The contract of the DNS port (<see cref="IDnsSwitch"/> in Runbooks/Ports.cs) against each adapter, the way restic's
/// backend tests run one suite per backend: pointing is idempotent and afterwards every authoritative server answers
/// the new address; a wait for an address no server answers fails within its time, naming the server and what it still
/// answers. The authoritative server is a real PowerDNS (the shared PowerDNS fixture), each case on a zone of its own.
/// </summary>
[Collection(PowerDnsCollection.Name)]
public abstract class DnsConformance(PowerDnsServer server) : AgainstPowerDns(server)
{
    protected static readonly Wait Visible = new(TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(200));
    protected static readonly StackSpec Target = TopologyLoader.Load(Path.Combine(Repo.Root, "examples", "local")).Find("local-standby")!;

    /// <summary>The zone's settings as its dns stack would hold them: one A record, verified on the fixture's server.</summary>
    protected DnsSpec Zone(string zone, DnsProvider provider) =>
        new DnsSpec(provider, zone, [new DnsRecord("app", "A")], 60, "local-prod", Server.ApiUrl.ToString(), null) { Servers = [Server.Dns.ToString()] };

    /// <summary>The adapter for <paramref name="zone"/>, as the composition root builds it.</summary>
    protected abstract Task<IDnsSwitch> SwitchForAsync(string zone);

    /// <summary>What the provider does after the adapter's call, where that is not the adapter (a cloud DNS stack's records applied by its provider).</summary>
    protected virtual Task ProviderAppliedAsync(string zone, IReadOnlyList<string> addresses) => Task.CompletedTask;

    [Fact]
    public async Task Pointing_twice_is_pointing_once_and_then_every_authoritative_server_answers_the_new_address()
    {
        var zone = NewZone("dnsc");
        await Server.CreateZoneAsync(zone, ("app", "A", [OldPrimary]));
        var dns = await SwitchForAsync(zone);

        await dns.PointAtAsync(Target, [NewSite], CancellationToken.None);
        await dns.PointAtAsync(Target, [NewSite], CancellationToken.None); // a resumed cutover repeats it
        await ProviderAppliedAsync(zone, [NewSite]);

        var seen = await dns.WaitVisibleAsync([NewSite], CancellationToken.None);
        Assert.True(seen <= DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Equal([NewSite], await AnswerAsync(zone));
    }

    [Fact]
    public async Task Waiting_for_an_address_no_server_answers_fails_in_its_time_naming_the_server_and_what_it_answers()
    {
        var zone = NewZone("dnsw");
        await Server.CreateZoneAsync(zone, ("app", "A", [OldPrimary]));
        var dns = await SwitchForAsync(zone);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = await Assert.ThrowsAnyAsync<Exception>(() => dns.WaitVisibleAsync([NewSite], CancellationToken.None));
        // In its time: the run's limit (Visible), not a limit of the adapter's own (the cloud one waited 10 min once).
        Assert.True(clock.Elapsed < Visible.Timeout + TimeSpan.FromSeconds(20), $"the wait gave up after {clock.Elapsed}, its limit is {Visible.Timeout}");
        Assert.Contains(Server.Dns.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message);
        Assert.Contains(OldPrimary, e.Message);
        Assert.Equal([OldPrimary], await AnswerAsync(zone)); // waiting changed nothing
    }
}

/// <summary>The local provider's DNS: the PowerDNS API, then the authoritative check.</summary>
public sealed class PowerDnsConformance(PowerDnsServer server) : DnsConformance(server)
{
    protected override Task<IDnsSwitch> SwitchForAsync(string zone)
    {
        var spec = Zone(zone, DnsProvider.PowerDns);
        return Task.FromResult<IDnsSwitch>(new PowerDnsSwitch(spec, PowerDnsCutover.For(spec, Server.ApiKey, Logs.Secrets, Logs.Logger),
            new AuthoritativeCheck(new WireDnsClient(), TimeProvider.System, Logs.Logger), Visible.Timeout, Visible.Poll, Logs.Logger));
    }
}

/// <summary>
/// A cloud DNS stack (Route 53) over the stand-in `pulumi`: pointing sets the stack's active site and runs `up`. The
/// stand-in changes no DNS server, so the provider's part (Route 53 applying the stack's records) is done here through the
/// server's API, only once the stack's config names the target: the authoritative check the adapter runs is the real one.
/// </summary>
public sealed class DnsStackConformance(PowerDnsServer server) : DnsConformance(server), IDisposable
{
    private readonly StandIn _pulumi = new();
    private string _stack = "";

    protected override async Task<IDnsSwitch> SwitchForAsync(string zone)
    {
        _stack = "dns-" + zone.Split('.')[0];
        var stack = StackFileReader.Parse("""
            config:
              failover:role: dns
              failover:site: { provider: aws, region: us-east-1 }
              failover:dns: { provider: route53, zone: example.com, records: [{ name: app, type: A }], ttl: 60, active: prod-fsn1 }
            """, _stack, $"Pulumi.{_stack}.yaml") with { Dns = Zone(zone, DnsProvider.Route53) };
        await _pulumi.Cli().SelectOrCreateStackAsync(_stack);
        return new DnsStackSwitch(_pulumi.Cli(), stack, new AuthoritativeCheck(new WireDnsClient(), TimeProvider.System, Logs.Logger), _ => { }, Logs.Logger, Visible);
    }

    protected override async Task ProviderAppliedAsync(string zone, IReadOnlyList<string> addresses)
    {
        Assert.Equal(Target.Name, (await _pulumi.Cli().GetConfigAsync(_stack, "failover:dns.active", path: true))?.Value);
        Assert.Equal(2, _pulumi.Calls("up").Count); // once per call: `up` of an unchanged config changes nothing
        using var api = new PowerDnsCutover(Server.ApiUrl, Server.ApiKey, Logs.Secrets, Logs.Logger);
        await api.PointAsync(zone, [new RecordSet("app", "A", addresses, 60)], CancellationToken.None);
    }

    public new void Dispose()
    {
        _pulumi.Dispose();
        base.Dispose();
    }
}
