using System.Net;
using System.Net.Sockets;
using Failover.Core.Topology;
using Failover.Driver.Local;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Local;

public class LocalSitesTests : IAsyncLifetime
{
    private readonly string _state = Directory.CreateTempSubdirectory("failover-local-").FullName;
    private LocalSites _sites = null!;
    private StackSpec _site = null!;

    public async Task InitializeAsync()
    {
        await DebianPackages.EnsureAsync(DebianPackages.Drill.Where(p => p.Package.StartsWith("postgresql")).ToList(), _ => { }, CancellationToken.None);
        _sites = new LocalSites(_state, Processes.FreePort());
        var yaml = """
            config:
              failover:role: standby
              failover:site: { provider: local, location: lab-t, address: 127.0.0.61, jurisdiction: DE }
              failover:servers: [{ name: db, full: process }]
            """;
        _site = StackFileReader.Parse(yaml, "local-test", "Pulumi.local-test.yaml");
    }

    public async Task DisposeAsync()
    {
        await _sites.RemoveAllAsync([_site], CancellationToken.None);
    }


    [Fact]
    public async Task A_provisioned_site_answers_on_its_own_address_until_fenced()
    {
        Assert.False(await _sites.IsServingAsync(_site, CancellationToken.None));
        var address = await _sites.ProvisionAsync(_site, [], CancellationToken.None);
        Assert.Equal(["127.0.0.61"], address.Addresses);
        Assert.True(await _sites.IsServingAsync(_site, CancellationToken.None));

        // Provisioning again changes nothing.
        var pid = _sites.Cluster(_site).Pid;
        await _sites.ProvisionAsync(_site, [], CancellationToken.None);
        Assert.Equal(pid, _sites.Cluster(_site).Pid);

        var fenced = await _sites.FenceAsync(_site, CancellationToken.None);
        Assert.Contains("stopped", fenced);
        Assert.False(await _sites.IsServingAsync(_site, CancellationToken.None));
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => _sites.ProvisionAsync(_site, [], CancellationToken.None));
        Assert.Contains("is fenced", refused.Message);
    }

    [Fact]
    public async Task Killing_a_site_makes_it_stop_answering_and_cleanup_leaves_nothing()
    {
        await _sites.ProvisionAsync(_site, [], CancellationToken.None);
        _sites.Cluster(_site).Kill();
        Assert.False(await _sites.IsServingAsync(_site, CancellationToken.None));
        await _sites.RemoveAllAsync([_site], CancellationToken.None);
        Assert.False(Directory.Exists(_state));
    }
}
