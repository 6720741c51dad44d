using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Failover.Core.Topology;
using Failover.Driver.Composition;
using Failover.Driver.Backup;
using Failover.Driver.Cli;
using Failover.Driver.Dns;
using Failover.Driver.Local;
using Failover.Driver.Logging;
using Failover.Driver.Pulumi;
using Failover.Driver.Runbooks;
using Failover.Driver.Tests.Pulumi;
using Serilog;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.EndToEnd;

/// <summary>
/// The cloud path of `failover run`: the example Hetzner/AWS topology driven through the stand-in `pulumi`
/// (which answers like the real CLI), backups in a real restic repository, the standby's health endpoint
/// served on loopback, and a real PowerDNS holding the zone.
/// </summary>
public class CloudSite : IAsyncLifetime
{
    public CloudSite() : this(30) { }

    /// <param name="block">Addresses block + 1 (production), + 2 (where the recovered site answers) and + 3 (the seed site).</param>
    protected CloudSite(int block)
    {
        OldAddress = $"127.0.0.{block + 1}";
        NewAddress = $"127.0.0.{block + 2}";
        _seedAddress = $"127.0.0.{block + 3}";
    }

    public string OldAddress { get; }
    public string NewAddress { get; }
    private readonly string _seedAddress;
    public readonly string Work = Directory.CreateTempSubdirectory("failover-cloud-").FullName;
    public readonly string ApiKey = Guid.NewGuid().ToString("N");
    public readonly Dictionary<string, string> SnapshotIds = new();
    public PowerDnsServer Dns = null!;
    private HttpListener _health = null!;
    public int DnsPort, ApiPort, HealthPort;
    public string ResticPassword = "";

    /// <summary>The health endpoint of the recovered site: every tenant restored; at <c>/failed</c>, the first tenant's restore failed.</summary>
    public string HealthUrl(bool failed = false) => $"http://{NewAddress}:{HealthPort}/{(failed ? "failed" : "health")}";

    public async Task InitializeAsync()
    {
        await DebianPackages.EnsureAsync(DebianPackages.Drill, _ => { }, CancellationToken.None);
        (DnsPort, ApiPort, HealthPort) = (Processes.FreePort(), Processes.FreePort(), Processes.FreePort());
        File.SetUnixFileMode(Work, (UnixFileMode)Convert.ToInt32("755", 8));
        var topology = TopologyLoader.Load(Path.Combine(Repo.Root, "infra", "stacks"));

        Dns = new PowerDnsServer(Path.Combine(Work, "dns"), "127.0.0.1", DnsPort, ApiPort, ApiKey);
        await Dns.StartAsync(CancellationToken.None);
        await Dns.CreateZoneAsync("example.com", [("app", "A", [OldAddress]), ("api", "A", [OldAddress])], 60, CancellationToken.None);

        // Production's last backups: every tenant, tiny, in a real restic repository.
        var seedSite = StackFileReader.Parse("""
            config:
              failover:role: standby
              failover:site: { provider: local, location: seed, address: SEED, jurisdiction: DE }
              failover:servers: [{ name: db, full: process }]
            """.Replace("SEED", _seedAddress), "seed", "Pulumi.seed.yaml");
        var sites = new LocalSites(Path.Combine(Work, "sites"), Processes.FreePort());
        await sites.ProvisionAsync(seedSite, [], CancellationToken.None);
        ResticPassword = Guid.NewGuid().ToString("N");
        var repository = new ResticRepository(new ResticSettings(Path.Combine(Work, "vault"), ResticPassword), new SecretRegistry(), Log.Logger);
        await repository.InitAsync(CancellationToken.None);
        var cluster = sites.Cluster(seedSite);
        var backup = new TenantBackup(repository, new PostgresTools(), new SecretRegistry(), TimeProvider.System, Log.Logger);
        var runId = TenantBackup.NewRunId(TimeProvider.System);
        foreach (var t in topology.Tenants)
        {
            await TenantSeed.SeedAsync(t, cluster.Address, cluster.Port, sites.FilesDirectory(seedSite, t.Name), 0.00001, CancellationToken.None);
            var r = await backup.BackupTenantAsync(new TenantSite(t, new PostgresDatabase(cluster.Address, cluster.Port, t.Name, "postgres", null), sites.FilesDirectory(seedSite, t.Name)), runId, CancellationToken.None);
            Assert.True(r.Succeeded, r.Error);
            SnapshotIds[t.Name] = r.Set!.Database!.Id;
        }
        await sites.RemoveAllAsync([seedSite], CancellationToken.None);

        // The standby's health endpoint, as cloud-init serves it once every tenant is restored.
        _health = new HttpListener();
        _health.Prefixes.Add($"http://{NewAddress}:{HealthPort}/");
        _health.Start();
        _ = Task.Run(async () =>
        {
            while (_health.IsListening)
            {
                try
                {
                    var ctx = await _health.GetContextAsync();
                    var failed = ctx.Request.Url!.AbsolutePath == "/failed" ? new[] { SnapshotIds.Keys.Order(StringComparer.Ordinal).First() } : [];
                    var body = JsonSerializer.SerializeToUtf8Bytes(new { stack = "standby-hel1", status = "ready", snapshots = SnapshotIds, failed });
                    ctx.Response.ContentType = "application/json";
                    await ctx.Response.OutputStream.WriteAsync(body);
                    ctx.Response.Close();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { }
            }
        });

    }

    /// <summary>
    /// The example topology in the stand-in's project, its zone self-hosted on this fixture's PowerDNS, and the
    /// vault and production stacks deployed with the outputs of docs/stack-outputs.md, as before the disaster;
    /// <paramref name="outputs"/> adds the outputs other stacks get from `up`.
    /// </summary>
    public async Task PrepareProjectAsync(StandIn pulumi, Dictionary<string, object> outputs, object? resources = null)
    {
        var project = pulumi.ProjectDirectory;
        File.Copy(Path.Combine(Repo.Root, "Pulumi.yaml"), Path.Combine(project, "Pulumi.yaml"), overwrite: true);
        var stacks = Directory.CreateDirectory(Path.Combine(project, "infra", "stacks")).FullName;
        foreach (var f in Directory.GetFiles(Path.Combine(Repo.Root, "infra", "stacks")))
            File.Copy(f, Path.Combine(stacks, Path.GetFileName(f)));
        var dnsFile = Path.Combine(stacks, "Pulumi.dns-route53.yaml");
        File.WriteAllText(dnsFile, File.ReadAllText(dnsFile).Replace("provider: route53", "provider: powerdns")
            .Replace("    active: prod-fsn1", $"    active: prod-fsn1\n    apiUrl: http://127.0.0.1:{ApiPort}\n    servers: [127.0.0.1:{DnsPort}]"));
        Script(pulumi, outputs, resources);
        var cli = pulumi.Cli();
        foreach (var s in new[] { "vault-aws-par", "prod-fsn1" })
        {
            await cli.SelectOrCreateStackAsync(s);
            await cli.UpAsync(s);
        }
    }

    /// <summary>What `up` gives each stack: the vault's and production's outputs, and <paramref name="outputs"/>.</summary>
    public void Script(StandIn pulumi, Dictionary<string, object> outputs, object? resources = null)
    {
        outputs["vault-aws-par"] = new { resticRepository = Path.Combine(Work, "vault"), resticPassword = new Dictionary<string, string> { ["$secret"] = ResticPassword } };
        outputs["prod-fsn1"] = new { serviceIpv4 = OldAddress, serviceIpv6 = "", healthUrl = $"http://{OldAddress}:1/health" };
        pulumi.Script(new { outputs, resources = resources ?? new Dictionary<string, object>() });
    }

    public async Task<IReadOnlyList<string>> AnswerAsync(string name)
    {
        var r = await new WireDnsClient().QueryAsync(new IPEndPoint(IPAddress.Loopback, DnsPort), name, RecordType.A, CancellationToken.None);
        return r.Answers.Where(a => a.Type == (ushort)RecordType.A).Select(a => a.Data).ToList();
    }

    /// <summary>The zone back at production, as before any failover.</summary>
    public async Task ResetDnsAsync()
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ApiPort}") };
        http.DefaultRequestHeaders.Add("X-API-Key", ApiKey);
        var body = new { rrsets = new[] { "app", "api" }.Select(n => new { name = $"{n}.example.com.", type = "A", ttl = 60, changetype = "REPLACE", records = new[] { new { content = OldAddress, disabled = false } } }) };
        using var r = await http.PatchAsync("/api/v1/servers/localhost/zones/example.com.", JsonContent.Create(body));
        r.EnsureSuccessStatusCode();
    }

    public async Task DisposeAsync()
    {
        _health.Stop();
        _health.Close();
        await Dns.StopAsync();
        Directory.Delete(Work, true);
    }

}

public sealed class CloudFailoverTests(CloudSite site) : IClassFixture<CloudSite>, IAsyncLifetime
{
    private string OldAddress => site.OldAddress;
    private string NewAddress => site.NewAddress;
    private readonly StandIn _pulumi = new();
    private string Project => _pulumi.ProjectDirectory;
    private string _apiKey => site.ApiKey;
    private string _resticPassword => site.ResticPassword;
    private int _apiPort => site.ApiPort;
    private PowerDnsServer _dns => site.Dns;
    private Dictionary<string, string> _snapshotIds => site.SnapshotIds;

    public async Task InitializeAsync()
    {
        await site.ResetDnsAsync();
        await site.PrepareProjectAsync(_pulumi, new Dictionary<string, object>
        {
            ["standby-hel1"] = new { serviceIpv4 = NewAddress, serviceIpv6 = "", healthUrl = site.HealthUrl() },
        });
    }

    private (int Code, string Output) Run(Func<string, string?>? variable = null)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var app = new App(stdout, stderr, Project, logConsole: stderr)
        {
            PulumiEnvironment = _pulumi.Environment(),
            Input = null,
        };
        app.Variable = variable ?? (name => name == RunPortsFactory.DnsApiKeyVariable ? _apiKey : Environment.GetEnvironmentVariable(name));
        var code = app.Run(["run", "--to", "standby-hel1", "--yes", "--log-json", Path.Combine(Project, "log.jsonl"), "--state-dir", Path.Combine(Project, ".failover")]);
        return (code, stdout.ToString() + stderr);
    }

    private Task<IReadOnlyList<string>> Answer(string name) => site.AnswerAsync(name);

    [Fact]
    public async Task A_failover_provisions_the_standby_with_the_snapshot_ids_fences_production_and_moves_dns()
    {
        var (code, output) = Run();
        Assert.True(code == 0, output);

        // The standby's mode and every tenant's snapshot id in two `config set-all` calls, not one CLI start per tenant.
        var setAll = _pulumi.Calls("config set-all").Select(StandIn.Args).Where(a => a.Contains("standby-hel1")).ToList();
        Assert.Equal(2, setAll.Count);
        Assert.Contains("failover:mode=mvd", setAll[0]);
        Assert.All(_snapshotIds, s => Assert.Contains($"failover:snapshots.{s.Key}={s.Value}", setAll[1]));
        Assert.Equal("--path", setAll[1][2]);
        Assert.Equal(new ConfigValue("mvd", false), await _pulumi.Cli().GetConfigAsync("standby-hel1", "failover:mode"));
        var configSets = _pulumi.Calls("config set").Select(StandIn.Args).ToList();
        Assert.Contains(configSets, a => a.Contains("failover:mode") && a.Contains("fenced") && a.Contains("prod-fsn1"));
        Assert.Single(_pulumi.Calls("up"), c => StandIn.Args(c).Contains("standby-hel1"));

        Assert.Equal([NewAddress], await Answer("app.example.com"));
        Assert.Equal([NewAddress], await Answer("api.example.com"));
        Assert.Contains("Recovered on standby-hel1", output);
        var log = File.ReadAllText(Path.Combine(Project, "log.jsonl"));
        Assert.DoesNotContain(_resticPassword, log + output);
        Assert.DoesNotContain(_apiKey, log + output);
    }

    [Fact]
    public async Task Pulumi_missing_fails_clearly_and_changes_nothing()
    {
        var (code, output) = Run(name => name switch
        {
            RunPortsFactory.PulumiVariable => "/nonexistent/bin/pulumi",
            RunPortsFactory.DnsApiKeyVariable => _apiKey,
            _ => Environment.GetEnvironmentVariable(name),
        });
        Assert.Equal(ExitCodes.Failed, code);
        Assert.Contains("Pulumi CLI", output);
        Assert.Equal([OldAddress], await Answer("app.example.com"));
        Assert.Empty(_pulumi.Calls("config set"));
        Assert.Empty(_pulumi.Calls("config set-all"));
    }

    [Fact]
    public async Task Dns_server_down_stops_at_the_cutover_and_names_the_api()
    {
        await _dns.StopAsync();
        try
        {
            var (code, output) = Run();
            Assert.Equal(ExitCodes.Failed, code);
            Assert.Contains("step cutover failed", output);
            Assert.Contains($"127.0.0.1:{_apiPort}", output);
        }
        finally { await _dns.StartAsync(CancellationToken.None); }
        Assert.Equal([OldAddress], await Answer("app.example.com"));
    }

    public Task DisposeAsync()
    {
        _pulumi.Dispose();
        return Task.CompletedTask;
    }
}
