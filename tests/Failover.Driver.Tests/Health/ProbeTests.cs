using System.Net;
using System.Net.Sockets;
using Failover.Driver.Health;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Health;

public sealed class ProbeTests
{
    [Fact]
    public async Task Http_probe_passes_on_the_expected_status_and_body()
    {
        using var site = new TinyWebServer(200, "{\"status\":\"ok\",\"tenants\":12}");

        var result = await new HttpProbe(site.Url, new HttpExpectation(200, "\"ok\"", "tenants\":\\d+")).ProbeAsync(CancellationToken.None);

        Assert.True(result.Healthy, result.Detail);
    }

    [Fact]
    public async Task Http_probe_fails_on_a_wrong_status_and_says_which()
    {
        using var site = new TinyWebServer(503, "maintenance");

        var result = await new HttpProbe(site.Url).ProbeAsync(CancellationToken.None);

        Assert.False(result.Healthy);
        Assert.Contains("status 503", result.Detail);
        Assert.Contains("expected 200", result.Detail);
    }

    [Fact]
    public async Task Http_probe_fails_when_the_body_lacks_the_expected_text_and_shows_what_it_got()
    {
        using var site = new TinyWebServer(200, "database: down");

        var contains = await new HttpProbe(site.Url, new HttpExpectation(BodyContains: "database: up")).ProbeAsync(CancellationToken.None);
        var pattern = await new HttpProbe(site.Url, new HttpExpectation(BodyPattern: "^database: (up|ok)$")).ProbeAsync(CancellationToken.None);

        Assert.False(contains.Healthy);
        Assert.Contains("does not contain \"database: up\"", contains.Detail);
        Assert.Contains("database: down", contains.Detail);
        Assert.False(pattern.Healthy);
        Assert.Contains("does not match", pattern.Detail);
    }

    [Fact]
    public async Task Http_probe_reaches_the_new_site_by_address_while_asking_for_the_service_name()
    {
        using var site = new TinyWebServer(200, "ok");
        // The name does not resolve anywhere: only the explicit address can reach the page.
        var url = new Uri($"http://app.failover-drill.invalid:{site.Port}/health");

        var result = await new HttpProbe(url, connectTo: new IPEndPoint(IPAddress.Loopback, site.Port)).ProbeAsync(CancellationToken.None);

        Assert.True(result.Healthy, result.Detail);
        Assert.Equal($"app.failover-drill.invalid:{site.Port}", site.LastHost);
    }

    [Fact]
    public async Task Http_probe_on_a_closed_port_says_nothing_listens()
    {
        var result = await new HttpProbe(new Uri($"http://127.0.0.1:{Processes.ClosedPort()}/")).ProbeAsync(CancellationToken.None);

        Assert.False(result.Healthy);
        Assert.Contains("connection refused", result.Detail);
    }

    [Fact]
    public async Task Tcp_probe_passes_on_an_open_port_and_fails_on_a_closed_one()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var open = await new TcpProbe("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port).ProbeAsync(CancellationToken.None);
            var closed = await new TcpProbe("127.0.0.1", Processes.ClosedPort()).ProbeAsync(CancellationToken.None);

            Assert.True(open.Healthy, open.Detail);
            Assert.False(closed.Healthy);
            Assert.Contains("connection refused", closed.Detail);
        }
        finally
        {
            listener.Stop();
        }
    }
}
