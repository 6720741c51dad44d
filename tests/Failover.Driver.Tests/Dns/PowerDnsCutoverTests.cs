using System.Net;
using Failover.Driver.Dns;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Dns;

[Collection(PowerDnsCollection.Name)]
public sealed class PowerDnsCutoverTests(PowerDnsServer server) : AgainstPowerDns(server)
{
    private static string NewZone() => NewZone("z");

    private PowerDnsCutover Cutover(string? apiKey = null) =>
        new(Server.ApiUrl, apiKey ?? Server.ApiKey, Logs.Secrets, Logs.Logger, timeout: TimeSpan.FromSeconds(5));

    private AuthoritativeCheck Check(TimeProvider? time = null) => new(Dns, time ?? TimeProvider.System, Logs.Logger);

    [Fact]
    public async Task Cutover_points_the_record_at_the_new_site_and_every_authoritative_server_answers_it()
    {
        var zone = NewZone();
        await Server.CreateZoneAsync(zone, ("app", "A", [OldPrimary]));
        var change = new[] { new RecordSet("app", "A", [NewSite], 60) };

        await Cutover().PointAsync(zone, change, CancellationToken.None);

        var check = Check();
        var servers = await check.FindServersAsync(zone, Server.Dns, CancellationToken.None, port: Server.DnsPort);
        Assert.Equal([Server.Dns], servers);
        var propagation = await check.WaitUntilVisibleAsync(zone, change, servers, TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(100), CancellationToken.None);
        Assert.True(propagation.Visible, propagation.Summary);
        var sighting = Assert.Single(propagation.Servers);
        Assert.NotNull(sighting.VisibleAt);
        Assert.Equal(sighting.VisibleAt, propagation.VisibleEverywhereAt);
        Assert.True(propagation.VisibleEverywhereAt >= propagation.StartedAt);
        Assert.Equal([NewSite], await AnswerAsync(zone));
    }

    [Fact]
    public async Task Applying_the_same_cutover_twice_leaves_one_answer_with_the_new_address()
    {
        var zone = NewZone();
        await Server.CreateZoneAsync(zone, ("app", "A", [OldPrimary]), ("www", "A", [OldPrimary]));
        var change = new[] { new RecordSet("app", "A", [NewSite], 60), new RecordSet("www", "A", [NewSite], 60) };

        await Cutover().PointAsync(zone, change, CancellationToken.None);
        await Cutover().PointAsync(zone, change, CancellationToken.None);

        var propagation = await Check().WaitUntilVisibleAsync(zone, change, [Server.Dns], TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(100), CancellationToken.None);
        Assert.True(propagation.Visible, propagation.Summary);
        Assert.Equal([NewSite], await AnswerAsync(zone, "app"));
        Assert.Equal([NewSite], await AnswerAsync(zone, "www"));
    }

    [Fact]
    public async Task A_zone_the_server_does_not_have_is_named_in_the_error()
    {
        var error = await Assert.ThrowsAsync<DnsCutoverException>(() =>
            Cutover().PointAsync("absent.test", [new RecordSet("app", "A", [NewSite], 60)], CancellationToken.None));

        Assert.Contains("failed changing zone absent.test. (HTTP 404)", error.Message);
        Assert.Contains("The zone does not exist there: create it (pdnsutil create-zone absent.test.)", error.Message);
        Assert.Contains(Server.ApiUrl.ToString(), error.Message);
    }

    [Fact]
    public async Task A_wrong_api_key_is_reported_without_showing_any_key_and_changes_nothing()
    {
        var zone = NewZone();
        await Server.CreateZoneAsync(zone, ("app", "A", [OldPrimary]));
        const string wrongKey = "wrong-key-0123456789abcdef";

        var error = await Assert.ThrowsAsync<DnsCutoverException>(() =>
            Cutover(apiKey: wrongKey).PointAsync(zone, [new RecordSet("app", "A", [NewSite], 60)], CancellationToken.None));

        Assert.Contains("rejected the API key", error.Message);
        Assert.Contains("401", error.Message);
        var logs = Logs.Everything();
        Assert.Contains("rejected the API key", logs);
        foreach (var text in new[] { error.Message, error.ToString(), logs })
        {
            Assert.DoesNotContain(wrongKey, text);
            Assert.DoesNotContain(Server.ApiKey, text);
        }
        Assert.Equal([OldPrimary], await AnswerAsync(zone));
    }

    [Fact]
    public async Task A_large_record_set_that_does_not_fit_in_udp_is_read_over_tcp()
    {
        var zone = NewZone();
        var many = Enumerable.Range(1, 40).Select(i => $"203.0.113.{i}").ToArray();
        await Server.CreateZoneAsync(zone, ("pool", "A", many));

        var response = await Dns.QueryAsync(Server.Dns, $"pool.{zone}", RecordType.A, CancellationToken.None);

        Assert.False(response.Truncated);
        Assert.Equal(many.Order(), response.DataOf($"pool.{zone}", RecordType.A).Order());
    }

    [Fact]
    public async Task Verification_gives_up_at_its_deadline_naming_the_server_and_the_old_address_it_still_answers()
    {
        var zone = NewZone();
        await Server.CreateZoneAsync(zone, ("app", "A", [OldPrimary]));
        var clock = new SteppingClock();

        var propagation = await Check(clock).WaitUntilVisibleAsync(zone, [new RecordSet("app", "A", [NewSite], 60)], [Server.Dns],
            TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(5), CancellationToken.None);

        Assert.False(propagation.Visible);
        Assert.Null(propagation.VisibleEverywhereAt);
        var sighting = Assert.Single(propagation.Servers);
        Assert.Null(sighting.VisibleAt);
        Assert.Equal(7, sighting.Queries); // at 0, 5, ... 30 s
        Assert.Contains("not visible on 1 of 1 authoritative servers after 30s", propagation.Summary);
        Assert.Contains($"{Server.Dns}", propagation.Summary);
        Assert.Contains($"answers app.{zone}. A {OldPrimary}, expected {NewSite}", propagation.Summary);
    }

    [Fact]
    public async Task Verification_reports_a_server_that_does_not_answer()
    {
        var silent = new IPEndPoint(IPAddress.Loopback, Processes.ClosedPort());

        var propagation = await Check(new SteppingClock()).WaitUntilVisibleAsync("drill.test", [new RecordSet("app", "A", [NewSite], 60)], [silent],
            TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1), CancellationToken.None);

        Assert.False(propagation.Visible);
        Assert.Contains($"{silent}", propagation.Summary);
        Assert.Contains("cannot be asked", propagation.Summary);
    }
}

/// <summary>A server that is down when the cutover runs: its own instance, stopped and started again.</summary>
public sealed class PowerDnsDownTests
{
    [Fact]
    public async Task A_stopped_dns_server_gives_an_error_naming_the_api_and_the_zone_is_unchanged_when_it_returns()
    {
        await using var server = new StoppableServer();
        await server.Pdns.InitializeAsync();
        await server.Pdns.CreateZoneAsync("down.test", ("app", "A", ["192.0.2.10"]));
        await server.Pdns.StopAsync();
        using var logs = new LogCapture();
        var cutover = new PowerDnsCutover(server.Pdns.ApiUrl, server.Pdns.ApiKey, logs.Secrets, logs.Logger, timeout: TimeSpan.FromSeconds(5));

        var error = await Assert.ThrowsAsync<DnsCutoverException>(() =>
            cutover.PointAsync("down.test", [new RecordSet("app", "A", ["198.51.100.7"], 60)], CancellationToken.None));

        Assert.Contains($"the PowerDNS API at {server.Pdns.ApiUrl} refused the connection", error.Message);
        Assert.Contains("check that pdns_server runs", error.Message);
        Assert.DoesNotContain(server.Pdns.ApiKey, logs.Everything());
        await server.Pdns.StartAsync();
        var answer = await new WireDnsClient().QueryAsync(server.Pdns.Dns, "app.down.test", RecordType.A, CancellationToken.None);
        Assert.Equal(["192.0.2.10"], answer.DataOf("app.down.test", RecordType.A));
    }

    private sealed class StoppableServer : IAsyncDisposable
    {
        public PowerDnsServer Pdns { get; } = new();
        public ValueTask DisposeAsync() => new(Pdns.DisposeAsync());
    }
}
