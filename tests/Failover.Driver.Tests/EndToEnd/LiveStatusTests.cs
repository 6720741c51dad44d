using Failover.Driver.Cli;
using System.Net;
using System.Net.Sockets;
using Failover.Core.Topology;
using Failover.Driver.Dns;
using Failover.Driver.Engine;
using Failover.Driver.Local;
using Failover.Driver.Logging;
using Failover.Driver.Tests.Support;
using Serilog;

namespace Failover.Driver.Tests.EndToEnd;

/// <summary>
/// `failover status` live checks against real servers: a copy of examples/local on 127.0.0.91-94, production
/// "answering" as a listener on its PostgreSQL port, and PowerDNS serving the zone.
/// </summary>
public sealed class LiveStatusTests : IAsyncLifetime
{
    private const string Prod = "127.0.0.91", Standby = "127.0.0.92", DnsHost = "127.0.0.94";
    private readonly string _project = Directory.CreateTempSubdirectory("failover-status-").FullName;
    private readonly string _apiKey = Guid.NewGuid().ToString("N");
    private readonly int _dnsPort = Processes.FreePort();
    private readonly int _apiPort = Processes.FreePort();
    private PowerDnsServer _dns = null!;
    private DnsSpec _zone = null!;

    public async Task InitializeAsync()
    {
        await DebianPackages.EnsureAsync(DebianPackages.Drill, _ => { }, CancellationToken.None);
        LocalTopology.CopyExamples(_project, block: 90, _dnsPort, _apiPort);
        _zone = TopologyLoader.Load(_project).DnsStack!.Dns!;
        _dns = new PowerDnsServer(Path.Combine(_project, "dns"), DnsHost, _dnsPort, _apiPort, _apiKey);
        await _dns.StartAsync(CancellationToken.None);
        await _dns.CreateZoneAsync(_zone.Zone, [("app", "A", [Prod])], _zone.TtlSeconds, CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _dns.StopAsync();
        Directory.Delete(_project, true);
    }

    private CliRun Status() => CliRun.Of(_project, "status", "--stacks", _project);

    [Fact]
    public async Task Status_is_quiet_while_production_answers_and_dns_points_at_it_then_alarms_when_dns_points_elsewhere()
    {
        using var production = Answering(Prod);

        var healthy = Status();
        Assert.Contains("local-prod: site health: answers: it serves", healthy.Stdout);
        Assert.Contains("local-standby: site health: not running (mode cold, as configured)", healthy.Stdout);
        Assert.Contains($"local-dns: dns answer: {DnsHost}:{_dnsPort} answers app.drill.test. A {Prod}: local-prod", healthy.Stdout);
        // This fixture has no vault: the backup age check could not look, which is never green.
        Assert.Contains("local-vault: backup age: COULD NOT CHECK", healthy.Stdout);
        Assert.Empty(Alarms(healthy));
        Assert.Equal(ExitCodes.Blind, healthy.ExitCode);

        await PointDnsAtAsync(Standby);
        var wrong = Status();
        Assert.Equal(1, wrong.ExitCode);
        Assert.Contains($"app.drill.test. A {Standby}, but the serving site local-prod is at {Prod}: customers are sent to the wrong place", wrong.Stdout);
    }

    [Fact]
    public async Task Status_alarms_when_the_serving_site_is_down_and_when_the_dns_server_does_not_answer()
    {
        var down = Status();
        Assert.Equal(1, down.ExitCode);
        Assert.Contains("local-prod: site health: DOWN: the serving site does not answer", down.Stdout);

        using var production = Answering(Prod);
        await _dns.StopAsync();
        var silent = Status();
        Assert.Equal(1, silent.ExitCode);
        Assert.Contains($"local-dns: dns answer: {DnsHost}:{_dnsPort} does not answer for app.drill.test.", silent.Stdout);
        Assert.Contains("local-prod: site health: answers: it serves", silent.Stdout);
    }

    [Fact]
    public async Task After_a_failover_status_expects_the_standby_to_serve_and_dns_to_point_at_it()
    {
        // The journal of a failover whose cutover completed, as `failover run` leaves it (the stack files are not rewritten).
        var store = new RunStore(Path.Combine(_project, ".failover"));
        var failover = new RunContext("20261122-030000-000001", RunKind.Failover, "local-prod", "local-standby", null, false, "ops", "here");
        using (var journal = Journal.Open(store.JournalPath(failover.RunId)))
        {
            journal.Append(new JournalRecord(JournalEvent.RunStarted, DateTimeOffset.UtcNow, Data: RunEngine.RunData(failover)));
            journal.Append(new JournalRecord(JournalEvent.StepCompleted, DateTimeOffset.UtcNow, "cutover", Data: new System.Text.Json.Nodes.JsonObject()));
        }
        using var standby = Answering(Standby);
        await PointDnsAtAsync(Standby);

        var run = Status();
        Assert.Contains("serving site: local-standby, where failover 20261122-030000-000001 moved service", run.Stdout);
        Assert.Contains("local-standby: site health: answers: it serves", run.Stdout);
        Assert.Contains("local-prod: site health: does not answer: service moved to local-standby", run.Stdout);
        Assert.Contains($"A {Standby}: local-standby", run.Stdout);
        Assert.Empty(Alarms(run));
    }

    /// <summary>The ERROR lines of a status other than the checks that could not look.</summary>
    private static List<string> Alarms(CliRun run) =>
        run.Stdout.Split('\n').Where(l => l.Contains("ERROR") && !l.Contains("COULD NOT CHECK")).ToList();

    [Fact]
    public void Status_json_carries_the_live_facts_for_a_monitoring_system()
    {
        using var production = Answering(Prod);
        var run = CliRun.Of(_project, "status", "--stacks", _project, "--json");
        Assert.Contains("\"check\": \"site health\"", run.Stdout);
        Assert.Contains("\"check\": \"dns answer\"", run.Stdout);
    }

    /// <summary>Something accepting connections on the site's PostgreSQL port: what "answers" means for a local site.</summary>
    private static TcpListener Answering(string address)
    {
        var listener = new TcpListener(IPAddress.Parse(address), 5432);
        listener.Start();
        return listener;
    }

    private async Task PointDnsAtAsync(string address)
    {
        using var cutover = PowerDnsCutover.For(_zone, _apiKey, new SecretRegistry(), Log.Logger);
        await cutover.PointAsync(_zone.Zone, ServiceRecords.PointingAt(_zone, [IPAddress.Parse(address)]), CancellationToken.None);
    }
}
