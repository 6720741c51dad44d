using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Emulation;
using Failover.Driver.Local;
using Failover.Driver.Logging;
using Serilog;
using Xunit.Abstractions;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.EndToEnd;

/// <summary>
/// A small restore point in a real restic vault, made by the project's own backup code from a seeded local
/// site, and the cached Debian root the data server boots from (built on the first run, a few minutes).
/// </summary>
public sealed class RestorePointVault : IAsyncLifetime
{
    /// <summary>Where the vault appears inside a booted server (bound read-only); the credentials file names it.</summary>
    public const string VaultInServer = "/srv/failover-vault";

    /// <summary>This fixture's blocks: the seed site on loopback, the servers' links in RFC 2544's test range.</summary>
    private const string SeedAddress = "127.0.6.3";
    public static readonly IPAddress ServerBlock = IPAddress.Parse("198.18.6.0");

    /// <summary>The restore point's tenants; the topology the tests render keeps only these (every tenant needs a snapshot).</summary>
    public static readonly IReadOnlyList<string> Tenants = ["fabrikam", "litware", "margie"];

    public readonly string Work = Directory.CreateTempSubdirectory("failover-booted-").FullName;
    public readonly Dictionary<string, string> SnapshotIds = new();
    public readonly Dictionary<string, IReadOnlyDictionary<string, long>> Rows = new();
    public string ResticPassword { get; } = Guid.NewGuid().ToString("N");
    public string CachedRoot { get; private set; } = "";
    public TimeSpan RootTook { get; private set; }
    public string Vault => Path.Combine(Work, "vault");
    public string Servers => Path.Combine(Work, "servers");
    public StringWriter LogText { get; } = new();
    public Serilog.Core.Logger Log { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Log = LogSetup.Create(new SecretRegistry(), null, verbose: true, console: LogText);
        var clock = Stopwatch.StartNew();
        CachedRoot = await DebianRoot.EnsureAsync(DebianRoot.DefaultCache, DebianRoot.UserDataPackages, Log, CancellationToken.None);
        RootTook = clock.Elapsed;

        await DebianPackages.EnsureAsync(DebianPackages.Drill, _ => { }, CancellationToken.None);
        // PostgreSQL runs as its own user and must reach the seed site's cluster inside.
        File.SetUnixFileMode(Work, (UnixFileMode)Convert.ToInt32("755", 8));
        var topology = TopologyLoader.Load(Path.Combine(Repo.Root, "infra", "stacks"));
        var seedSite = StackFileReader.Parse($$"""
            config:
              failover:role: standby
              failover:site: { provider: local, location: seed, address: {{SeedAddress}}, jurisdiction: DE }
              failover:servers: [{ name: db, full: process }]
            """, "seed", "Pulumi.seed.yaml");
        var sites = new LocalSites(Path.Combine(Work, "sites"), Processes.FreePort());
        await sites.ProvisionAsync(seedSite, [], CancellationToken.None);
        try
        {
            var repository = new ResticRepository(new ResticSettings(Vault, ResticPassword), new SecretRegistry(), Log);
            await repository.InitAsync(CancellationToken.None);
            var cluster = sites.Cluster(seedSite);
            var backup = new TenantBackup(repository, new PostgresTools(), new SecretRegistry(), TimeProvider.System, Log);
            var runId = TenantBackup.NewRunId(TimeProvider.System);
            // Three tenants, one per tier: enough for the order and the health document, quick to restore.
            foreach (var t in topology.Tenants.Where(t => Tenants.Contains(t.Name)))
            {
                var files = sites.FilesDirectory(seedSite, t.Name);
                await TenantSeed.SeedAsync(t, cluster.Address, cluster.Port, files, 0.00001, CancellationToken.None);
                var r = await backup.BackupTenantAsync(new TenantSite(t, new PostgresDatabase(cluster.Address, cluster.Port, t.Name, "postgres", null), files), runId, CancellationToken.None);
                Assert.True(r.Succeeded, r.Error);
                SnapshotIds[t.Name] = r.Set!.Database!.Id;
                Rows[t.Name] = await TenantSeed.CountRowsAsync(cluster.Address, cluster.Port, t.Name, CancellationToken.None);
            }
        }
        finally { await sites.RemoveAllAsync([seedSite], CancellationToken.None); }
    }

    /// <summary>
    /// The standby as `failover run` leaves it for `pulumi up`: the example stacks with standby-hel1 at MVD and
    /// <paramref name="snapshots"/> as its failover:snapshots; then the data server's user data exactly as
    /// infra/FailoverStack renders it, with the vault's repository and password as its inputs.
    /// </summary>
    public (string Server, byte[] UserData, SitePlan Plan) DataServerUserData(IReadOnlyDictionary<string, string> snapshots)
    {
        var dir = Directory.CreateDirectory(Path.Combine(Work, "stacks-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        foreach (var f in Directory.GetFiles(Path.Combine(Repo.Root, "infra", "stacks"))) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        var production = Path.Combine(dir, "Pulumi.prod-fsn1.yaml");
        File.WriteAllLines(production, File.ReadAllLines(production).Where(l =>
            !l.StartsWith("    - { name: ", StringComparison.Ordinal) || Tenants.Any(t => l.StartsWith($"    - {{ name: {t},", StringComparison.Ordinal))));
        var standby = Path.Combine(dir, "Pulumi.standby-hel1.yaml");
        var text = File.ReadAllText(standby).Replace("  failover:mode: cold\n", "  failover:mode: mvd\n");
        File.WriteAllText(standby, text + "  failover:snapshots:\n" + string.Concat(snapshots.Select(s => $"    {s.Key}: {s.Value}\n")));
        var topology = TopologyLoader.Load(dir);
        var plan = SitePlan.For(topology.Find("standby-hel1")!);
        var data = plan.DataServer!;
        var recipe = RestoreRecipe.For(topology, plan.Stack, data.Capacity.Vcpus);
        var sent = SiteUserData.For(plan, recipe, new ResticCredentials(VaultInServer, ResticPassword, "", "")).Single(u => u.Server == data.Name);
        // Hetzner's datasource base64-decodes the text it was given; cloud-init then unpacks the gzip.
        return (data.Name, Convert.FromBase64String(sent.Base64Gzip), plan);
    }

    /// <summary>The data server's seed: the vault bound read-only, and its volume attached empty where Hetzner's device link appears.</summary>
    public ServerSeed Seed(string server, byte[] userData, SitePlan plan) => new(server, userData, [$"{Vault}:{VaultInServer}"])
    {
        Volumes = plan.Servers.Where(s => s.Name == server && s.VolumeGb > 0)
            .Select(s => new AttachedVolume($"/dev/disk/by-id/scsi-0HC_Volume_{1000 + s.Index}", s.VolumeGb * 1024L * 1024 * 1024)).ToList(),
    };

    /// <summary>Server <paramref name="index"/>'s link, with its address in the site's private network as the provider gives it.</summary>
    public static ServerNetwork Network(SitePlan plan, int index)
    {
        var subnet = System.Net.IPNetwork.Parse(plan.SubnetCidr);
        var bytes = subnet.BaseAddress.GetAddressBytes();
        bytes[3] = (byte)(bytes[3] + 2 + index);
        return new ServerNetwork(ServerBlock, index) { SiteAddresses = [$"{new IPAddress(bytes)}/{subnet.PrefixLength}"] };
    }

    public Task DisposeAsync()
    {
        Log.Dispose();
        Directory.Delete(Work, recursive: true);
        return Task.CompletedTask;
    }
}

/// <summary>
/// The data server of a cloud standby booted for real from the user data Core renders (cloud-init, systemd,
/// PostgreSQL, restic), and seen from outside as the driver sees it: through its health address.
/// </summary>
public sealed class BootedServerTests(RestorePointVault vault, ITestOutputHelper output) : IClassFixture<RestorePointVault>
{
    private static readonly TimeSpan BootLimit = TimeSpan.FromMinutes(5);

    [Fact]
    public async Task The_data_server_restores_every_tenant_of_the_restore_point_and_its_health_address_lists_their_snapshots()
    {
        var (name, userData, plan) = vault.DataServerUserData(vault.SnapshotIds);
        var network = RestorePointVault.Network(plan, 0);
        var server = await EmulatedServer.BootAsync(vault.Seed(name, userData, plan), vault.CachedRoot, vault.Servers, network, vault.Log, CancellationToken.None);
        var leader = server.LeaderPid;
        var root = server.Root;
        try
        {
            var clock = Stopwatch.StartNew();
            var healthUrl = plan.HealthUrl(server.Address.ToString());
            var health = await ReadyHealthDocumentAsync(server, healthUrl);
            var ready = clock.Elapsed;

            Assert.Equal("ready", health.GetProperty("status").GetString());
            Assert.Equal(name, health.GetProperty("server").GetString());
            Assert.Empty(health.GetProperty("failed").EnumerateArray());
            var listed = health.GetProperty("snapshots").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
            Assert.Equal(vault.SnapshotIds.OrderBy(k => k.Key), listed.OrderBy(k => k.Key)!);

            foreach (var (tenant, rows) in vault.Rows)
                foreach (var (table, count) in rows)
                {
                    var r = await server.ExecAsync(["runuser", "-u", "postgres", "--", "psql", "--no-psqlrc", "-X", "-tA", "-d", tenant,
                        "-c", $"SELECT count(*) FROM {table}"], CancellationToken.None);
                    Assert.True(r.ExitCode == 0, $"{tenant}.{table}: {r.Errors}");
                    Assert.Equal(count.ToString(), r.Output.Trim());
                }

            var disk = await server.DiskBytesAsync();
            output.WriteLine($"root: {vault.CachedRoot} ready in {vault.RootTook.TotalSeconds:F0} s (0 when cached); copy by {server.CopyKind} in " +
                $"{server.CopyTook.TotalMilliseconds:F0} ms; boot to ready health document {ready.TotalSeconds:F0} s; disk used by the server {disk / 1e6:F0} MB");
        }
        catch
        {
            KeepLog(server, output);
            throw;
        }
        finally
        {
            await server.DisposeAsync();
        }
        AssertRemoved(network, leader, root);
    }

    /// <summary>A failed boot's cloud-init output, in the test's output and kept under /tmp for a look afterwards.</summary>
    private static void KeepLog(EmulatedServer server, ITestOutputHelper output)
    {
        var log = Path.Combine(server.Root, EmulatedServer.OutputLog);
        if (!File.Exists(log)) return;
        var kept = Path.Combine(Path.GetTempPath(), $"failover-{server.Name}-cloud-init-output.log");
        File.Copy(log, kept, overwrite: true);
        output.WriteLine($"cloud-init output (kept at {kept}):\n{string.Join("\n", File.ReadAllLines(log).TakeLast(40))}");
    }

    [Fact]
    public async Task A_bootstrap_that_fails_half_way_names_the_server_and_the_failing_line_and_everything_is_removed()
    {
        // One tenant's id is another tenant's database snapshot: the restore's first check refuses it,
        // after the packages, PostgreSQL and the other tenants' restores have run.
        var ids = new Dictionary<string, string>(vault.SnapshotIds);
        var (victim, other) = (ids.Keys.Order(StringComparer.Ordinal).First(), ids.Keys.Order(StringComparer.Ordinal).Last());
        ids[victim] = vault.SnapshotIds[other];
        var (name, userData, plan) = vault.DataServerUserData(ids);
        var network = RestorePointVault.Network(plan, 1);
        var server = await EmulatedServer.BootAsync(vault.Seed(name, userData, plan), vault.CachedRoot, vault.Servers, network, vault.Log, CancellationToken.None);
        var leader = server.LeaderPid;
        var root = server.Root;
        ServerBootException failure;
        try
        {
            failure = await Assert.ThrowsAsync<ServerBootException>(() => server.WaitForBootstrapAsync(BootLimit, CancellationToken.None));
        }
        finally
        {
            await server.DisposeAsync();
        }
        output.WriteLine(failure.Message);
        Assert.Equal(name, failure.Server);
        Assert.StartsWith(name + ": ", failure.Message);
        // The server knows a tenant only by its snapshot's tag and a 2-digit check of the name, so it names the refused
        // id, the step and whose snapshot it is; the id is the one the operator put in failover:snapshots for the victim.
        Assert.Contains($"FAILED to find the backup run: database snapshot {RestoreRecipe.KeyOf(vault.SnapshotIds[other])} refused: " +
            $"it is a snapshot of tenant '{other}', not of the tenant this restore point names", failure.Line);
        AssertRemoved(network, leader, root);
    }

    /// <summary>The health document once it says ready, polled as the driver's gate does; a failed bootstrap fails the test with its line.</summary>
    private static async Task<JsonElement> ReadyHealthDocumentAsync(EmulatedServer server, string url)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < BootLimit)
        {
            await server.FinishedAsync(CancellationToken.None); // throws with the failing line
            try
            {
                using var r = await http.GetAsync(url);
                if (r.IsSuccessStatusCode)
                {
                    var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.Clone();
                    if (doc.GetProperty("status").GetString() == "ready") return doc;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
            await Task.Delay(1000);
        }
        throw new TimeoutException($"{server.Name}: no ready health document at {url} within {BootLimit}");
    }

    private static void AssertRemoved(ServerNetwork network, int leader, string root)
    {
        Assert.False(Directory.Exists(Path.GetDirectoryName(root)), $"{root} is still there");
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mounts"), l => l.Contains(root));
        Assert.False(File.Exists(network.NamespacePath), $"{network.NamespacePath} is still there");
        Assert.False(Directory.Exists($"/sys/class/net/{network.HostInterface}"), $"{network.HostInterface} is still there");
        Assert.False(Directory.Exists($"/proc/{leader}"), $"the container's systemd (pid {leader}) still runs");
    }
}
