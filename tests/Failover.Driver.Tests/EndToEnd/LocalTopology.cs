using System.Net;
using System.Security.Cryptography;
using Failover.Core.Topology;
using Failover.Driver.Composition;
using Failover.Driver.Dns;
using Failover.Driver.Engine;
using Failover.Driver.Local;
using Failover.Driver.Logging;
using Failover.Driver.Runbooks;
using Serilog;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.EndToEnd;

/// <summary>
/// A copy of examples/local on its own loopback addresses (127.0.0.2x) and ports, with production seeded,
/// backed up and then lost, and PowerDNS serving the zone: the state just before an operator runs
/// `failover run`. Reset() puts it back there between runs. Subclasses take another block of addresses so
/// their tests run in parallel with these.
/// </summary>
public class LocalTopology : IAsyncLifetime
{
    public LocalTopology() : this(20) { }

    /// <param name="network">The first three octets of the loopback block, with the dot: fixtures of other engineers use other blocks.</param>
    protected LocalTopology(int block, string network = "127.0.0.", double scale = 0.002)
    {
        ProdAddress = $"{network}{block + 1}";
        StandbyAddress = $"{network}{block + 2}";
        DnsHost = $"{network}{block + 4}";
        _block = block;
        _network = network;
        _scale = scale;
    }

    private readonly double _scale;

    public string ProdAddress { get; }
    public string StandbyAddress { get; }
    public string DnsHost { get; }
    private readonly int _block;
    private readonly string _network;

    public string Project { get; } = Directory.CreateTempSubdirectory("failover-e2e-").FullName;
    public string ApiKey { get; } = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
    public int DnsPort { get; } = Processes.FreePort();
    public int ApiPort { get; } = Processes.FreePort();
    public Topology Topology { get; private set; } = null!;
    public LocalSites Sites { get; private set; } = null!;
    public virtual RunStore Store => new(Path.Combine(Project, ".failover"));
    public Dictionary<string, IReadOnlyDictionary<string, long>> Seeded { get; } = new();
    private PowerDnsServer _dns = null!;

    public const string Prod = "127.0.0.21", Standby = "127.0.0.22", DnsAddress = "127.0.0.24";

    public virtual async Task InitializeAsync()
    {
        await DebianPackages.EnsureAsync(DebianPackages.Drill, _ => { }, CancellationToken.None);
        CopyExamples(Project, _block, DnsPort, ApiPort, _network);
        Customize(Project);
        Topology = TopologyLoader.Load(Project);
        Sites = RunPortsFactory.LocalSitesOf(Store);
        _dns = new PowerDnsServer(Path.Combine(Project, "dns"), DnsHost, DnsPort, ApiPort, ApiKey);
        await _dns.StartAsync(CancellationToken.None);
        var dns = Topology.DnsStack!.Dns!;
        await _dns.CreateZoneAsync(dns.Zone, [("app", "A", [ProdAddress])], dns.TtlSeconds, CancellationToken.None);

        var prod = Topology.Production;
        await Sites.ProvisionAsync(prod, [], CancellationToken.None);
        var cluster = Sites.Cluster(prod);
        foreach (var t in Topology.Tenants)
        {
            await TenantSeed.SeedAsync(t, cluster.Address, cluster.Port, Sites.FilesDirectory(prod, t.Name), _scale, CancellationToken.None);
            Seeded[t.Name] = await TenantSeed.CountRowsAsync(cluster.Address, cluster.Port, t.Name, CancellationToken.None);
        }
        var results = await LocalBackup.RunAsync(Topology, Sites, Project, new SecretRegistry(), TimeProvider.System, Log.Logger, _ => { }, CancellationToken.None);
        Assert.All(results, r => Assert.True(r.Succeeded, r.Error));
        cluster.Kill();
    }

    /// <summary>Changes to the copied stack files before they are loaded (hooks a test needs).</summary>
    protected virtual void Customize(string project) { }

    /// <summary>Back to "production lost, nothing done yet": standby removed, DNS at production, no run.</summary>
    public virtual async Task ResetAsync()
    {
        var standby = Topology.Find("local-standby")!;
        var cluster = Sites.Cluster(standby);
        if (cluster.Pid is not null) cluster.Kill();
        foreach (var stack in new[] { standby, Topology.Production })
        {
            var marker = Path.Combine(Sites.SiteDirectory(stack), "FENCED");
            if (File.Exists(marker)) File.Delete(marker);
        }
        var dir = Sites.SiteDirectory(standby);
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
        foreach (var p in new[] { Path.Combine(Store.Root, "runs"), Path.Combine(Store.Root, "current"), Store.LockPath })
            if (Directory.Exists(p)) Directory.Delete(p, true); else if (File.Exists(p)) File.Delete(p);
        var dns = Topology.DnsStack!.Dns!;
        using var cutover = PowerDnsCutover.For(dns, ApiKey, new SecretRegistry(), Log.Logger);
        await cutover.PointAsync(dns.Zone, ServiceRecords.PointingAt(dns, [IPAddress.Parse(ProdAddress)]), CancellationToken.None);
    }

    /// <summary>
    /// examples/local copied into <paramref name="project"/> (made readable for the postgres user) with its sites moved
    /// to 127.0.0.(block+1..block+4) and PowerDNS to the given ports, so fixtures on other blocks run side by side.
    /// </summary>
    public static void CopyExamples(string project, int block, int dnsPort, int apiPort, string network = "127.0.0.")
    {
        string At(int n) => $"{network}{block + n}";
        File.SetUnixFileMode(project, (UnixFileMode)Convert.ToInt32("755", 8));
        foreach (var f in Directory.GetFiles(Path.Combine(Repo.Root, "examples", "local"), "Pulumi*.yaml"))
            File.WriteAllText(Path.Combine(project, Path.GetFileName(f)), File.ReadAllText(f)
                .Replace("127.0.0.11", At(1)).Replace("127.0.0.12", At(2)).Replace("127.0.0.13", At(3))
                .Replace("127.0.0.14:8081", $"{At(4)}:{apiPort}").Replace("127.0.0.14:53", $"{At(4)}:{dnsPort}").Replace("127.0.0.14", At(4)));
    }

    /// <summary>
    /// One complete failover to local-standby, however often it was killed and resumed: every journaled effect done
    /// once, every tenant restored, every step completed once, DNS at the standby, production's rows on the standby.
    /// </summary>
    public async Task AssertOneCompleteFailoverAsync(IReadOnlyList<JournalRecord> journal)
    {
        var done = journal.Where(r => r.Event == JournalEvent.EffectDone).GroupBy(r => $"{r.Step}/{r.Effect}").ToList();
        Assert.All(done, g => Assert.True(g.Count() == 1, $"{g.Key} completed {g.Count()} times"));
        Assert.Equal(Topology.Tenants.Count, done.Count(g => g.Key.StartsWith("restore/restore:", StringComparison.Ordinal)));
        Assert.All(Core.Planning.Planner.Plan(Topology, Topology.Find("local-standby")!).Steps.Select(s => s.Kind), k =>
            Assert.Single(journal, r => r.Event == JournalEvent.StepCompleted && r.Step == StepContext.Name(k)));
        Assert.Single(journal, r => r.Event == JournalEvent.RunCompleted);

        Assert.Equal([StandbyAddress], await DnsAnswerAsync());
        var standby = Sites.Cluster(Topology.Find("local-standby")!);
        foreach (var t in Topology.Tenants)
            Assert.Equal(Seeded[t.Name], await TenantSeed.CountRowsAsync(standby.Address, standby.Port, t.Name, CancellationToken.None));
    }

    public async Task<IReadOnlyList<string>> DnsAnswerAsync()
    {
        var r = await new WireDnsClient().QueryAsync(new IPEndPoint(IPAddress.Parse(DnsHost), DnsPort), "app.drill.test", RecordType.A, CancellationToken.None);
        return r.Answers.Where(a => a.Type == (ushort)RecordType.A).Select(a => a.Data).ToList();
    }

    /// <summary>Runs the real `failover` binary as a child process, as an operator's terminal would.</summary>
    public (int ExitCode, string Output) Failover(string? crashAt, params string[] args) => FailoverWith(new Dictionary<string, string>(), crashAt, args);

    /// <summary>As <see cref="Failover(string?, string[])"/>, with more variables (another host name, credentials).</summary>
    public (int ExitCode, string Output) FailoverWith(IReadOnlyDictionary<string, string> environment, string? crashAt, params string[] args)
    {
        var all = new Dictionary<string, string>(ExtraEnvironment())
        {
            [RunPortsFactory.DnsApiKeyVariable] = ApiKey,
            [CrashPoints.Variable] = crashAt ?? "",
        };
        foreach (var (k, v) in environment) all[k] = v;
        return Processes.Failover(Project, all, args);
    }

    /// <summary>Variables every `failover` process of this fixture gets.</summary>
    protected virtual IReadOnlyDictionary<string, string> ExtraEnvironment() => new Dictionary<string, string>();

    /// <summary>As <see cref="Failover"/>, with stdout apart: what `--json` prints.</summary>
    public (int ExitCode, string Stdout, string Stderr) FailoverJson(params string[] args) =>
        Processes.FailoverStreams(Project, new Dictionary<string, string> { [RunPortsFactory.DnsApiKeyVariable] = ApiKey }, args);

    public virtual async Task DisposeAsync()
    {
        await _dns.StopAsync();
        await Sites.RemoveAllAsync(Topology.Stacks, CancellationToken.None);
        Directory.Delete(Project, true);
    }

}
