using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Failover.Core.Backup;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Cloud;
using Failover.Driver.Pulumi;
using Failover.Driver.Runbooks;
using Failover.Driver.Tests.Pulumi;
using Failover.Driver.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace Failover.Driver.Tests.Cloud;

/// <summary>
/// The restore point by request, against the real health daemon of an AWS standby of a thousand tenants as its user data
/// renders it (the handler with the pin, the key and state directories systemd would give it), on 127.0.11.2, and its root
/// unit (the same handler in its acting mode, started whenever the queue holds a request, as the path unit does): the
/// provision step (PulumiSites, with the stand-in `pulumi`) offers the records until the daemon takes them, they land
/// where the bootstrap's wait reads them and pass its check of the pin; a resume sends them again and changes nothing;
/// another restore point is refused, and the step says why; the key is never logged.
/// </summary>
public sealed class RestorePointRequestTests : IDisposable
{
    private const string Address = "127.0.11.2";
    private static readonly string Key = SiteUserData.PlaceholderControlKey;

    private readonly string _dir = Directory.CreateTempSubdirectory("failover-restore-point-").FullName;
    private readonly HttpClient _http = Failover.Driver.Backup.ControlRequests.Client;
    private readonly HealthDaemons _daemons = new();
    private readonly CancellationTokenSource _stop = new();

    /// <summary>The shipped topology with a thousand tenants (names do not matter here: the records carry ids and a name check).</summary>
    private Topology Thousand()
    {
        var dir = Directory.CreateDirectory(Path.Combine(_dir, "stacks")).FullName;
        foreach (var f in Directory.GetFiles(Path.Combine(Repo.Root, "infra", "stacks"))) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        var prod = Path.Combine(dir, "Pulumi.prod-fsn1.yaml");
        var lines = File.ReadAllLines(prod).ToList();
        var start = lines.IndexOf("  failover:tenants:");
        var end = start + 1;
        while (lines[end].StartsWith("    ", StringComparison.Ordinal)) end++;
        lines.RemoveRange(start + 1, end - start - 1);
        lines.InsertRange(start + 1, Enumerable.Range(0, 1000).Select(i => $"    - {{ name: tenant-{i:D4}, tier: {1 + i % 3}, dataGb: 0.05 }}"));
        File.WriteAllLines(prod, lines);
        return TopologyLoader.Load(dir);
    }

    private static IReadOnlyList<TenantSnapshot> PointOf(Topology t, string salt = "") =>
        t.Tenants.Select(x => new TenantSnapshot(x.Name, SiteUserData.PlaceholderId(salt + "snapshot of " + x.Name), DateTimeOffset.UnixEpoch, 1)).ToList();

    [Fact]
    public async Task The_provision_step_hands_a_waiting_standby_its_pinned_restore_point_again_on_resume_and_another_one_is_refused()
    {
        var topology = Thousand();
        var port = Processes.FreePort();
        var site = topology.Find("standby-aws-fra")! is var s ? s with { Service = s.Service with { HealthPort = port } } : null!;
        var point = PointOf(topology);
        var deployed = site with { Mode = SiteMode.Mvd, Snapshots = point.Select(p => new ConfiguredSnapshot(p.Tenant, p.SnapshotId, null)).ToList() };
        var recipe = SiteUserData.RestorePointByRequest(topology, deployed);
        Assert.NotNull(recipe);

        var (files, server) = DataServerFiles(topology, deployed, recipe!);
        // Waiting, as the bootstrap writes it before its wait; the daemon answers with the result the root unit writes.
        File.WriteAllText(Document, HealthDocument.RenderWaiting(site.Name, server, recipe!.RestorePointSha256));
        await StartDaemonAsync(port, site.Service.HealthPath);
        var act = RootUnit(Script, Credentials, State, Root);

        using var pulumi = new StandIn();
        pulumi.Script(new
        {
            outputs = new Dictionary<string, JsonObject>
            {
                [site.Name] = new() { [StackOutputs.ServiceIpv4] = Address, [StackOutputs.HealthIpv4] = Address, [StackOutputs.ControlKey] = new JsonObject { ["$secret"] = Key } },
            },
        });
        var said = new List<string>();
        var sites = new PulumiSites(pulumi.Cli(), new HttpClient(), pulumi.Log, said.Add, TimeSpan.FromMinutes(1))
        {
            Control = _http, Topology = topology, RestorePointWait = TimeSpan.FromSeconds(60), RestorePointPoll = TimeSpan.FromMilliseconds(300),
        };

        await sites.ProvisionAsync(site, point, CancellationToken.None);
        Assert.Contains(said, l => l.EndsWith($"{BackupControl.RestorePoint} {site.Name}: installed", StringComparison.Ordinal));
        // Where the bootstrap's wait reads it, and its own check of the pin lets it through.
        var landed = Path.Combine(Root, RestoreRecipe.RestorePointFile.TrimStart('/'));
        Assert.Equal(recipe.RenderData(), File.ReadAllText(landed));
        var wait = files[ServerBootstrap.ScriptPath].Split('\n').Single(l => l.StartsWith("until ", StringComparison.Ordinal)).Replace(RestoreRecipe.RestorePointFile, landed);
        var check = Process.Start(new ProcessStartInfo("timeout", ["5", "bash", "-c", wait]))!;
        await check.WaitForExitAsync();
        Assert.Equal(0, check.ExitCode);

        // A resume sends it again: nothing changes.
        await sites.ProvisionAsync(site, point, CancellationToken.None);
        Assert.Contains(said, l => l.EndsWith($"{BackupControl.RestorePoint} {site.Name}: unchanged", StringComparison.Ordinal));

        // Another restore point (a run started again from older sets) is not the one this server pins: refused, the file untouched.
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => sites.ProvisionAsync(site, PointOf(topology, "older "), CancellationToken.None));
        Assert.Contains("not the restore point this server's user data pins", e.Message);
        Assert.Equal(recipe.RenderData(), File.ReadAllText(landed));
        Assert.DoesNotContain(Key, pulumi.CapturedLogs());
        _stop.Cancel();
        await act;
    }

    [Fact]
    public async Task The_records_sent_are_the_ones_infra_pins_from_the_stack_config_when_an_earlier_run_left_a_key_past_a_refused_connection_and_a_409()
    {
        var topology = Thousand();
        var port = Processes.FreePort();
        var site = topology.Find("standby-aws-fra")! is var s ? s with { Service = s.Service with { HealthPort = port } } : null!;
        var point = PointOf(topology);
        using var pulumi = new StandIn();
        // The stand-in's project holds the stack files infra/ reads; `config set` keeps to the stand-in's state, which its
        // `up` lays over them (StackEmulation.OverlaidTopology), as the real CLI writes the stack's file.
        var stacks = Directory.CreateDirectory(Path.Combine(pulumi.ProjectDirectory, "infra", "stacks")).FullName;
        foreach (var f in Directory.GetFiles(Path.Combine(_dir, "stacks"))) File.Copy(f, Path.Combine(stacks, Path.GetFileName(f)));
        File.WriteAllText(Path.Combine(pulumi.ProjectDirectory, "Pulumi.yaml"), "name: failover\nruntime: dotnet\nmain: infra/\nstackConfigDir: infra/stacks\n");
        pulumi.Script(new
        {
            outputs = new Dictionary<string, JsonObject>
            {
                [site.Name] = new() { [StackOutputs.ServiceIpv4] = Address, [StackOutputs.HealthIpv4] = Address, [StackOutputs.ControlKey] = new JsonObject { ["$secret"] = Key } },
            },
        });
        // An earlier failover of this stack restored tenant-1000, a tenant production has dropped since; the operator's own keys stay.
        var cli = pulumi.Cli();
        await cli.SelectOrCreateStackAsync(site.Name);
        await cli.SetConfigAsync(site.Name, RestorePointConfig.PathOf("tenant-1000"), ConfigValue.Plain("0badc0de"), path: true);
        await cli.SetConfigAsync(site.Name, "aws:profile", ConfigValue.Plain("ops"));

        var seen = new Answers();
        var sites = new PulumiSites(cli, new HttpClient(), pulumi.Log, _ => { }, TimeSpan.FromMinutes(1))
        {
            Control = new HttpClient(seen) { DefaultRequestHeaders = { ConnectionClose = true } }, Topology = topology,
            RestorePointWait = TimeSpan.FromSeconds(60), RestorePointPoll = TimeSpan.FromMilliseconds(300),
        };
        // The data server, once `pulumi up` ran: its files rendered by Core from the config the update read, its daemon started
        // only after a request met a refused connection, its waiting document written only after the daemon answered one 409.
        var boot = Task.Run(async () =>
        {
            await Until(() => pulumi.Calls("up").Count > 0, "pulumi up");
            var updated = Failover.Driver.Emulation.PulumiCli.State.Load(pulumi.Environment()["PULUMI_STANDIN_STATE"]).Stacks[site.Name].Config;
            var infra = Failover.Driver.Emulation.StackEmulation.OverlaidTopology(pulumi.ProjectDirectory, site.Name, updated);
            var recipe = SiteUserData.RestorePointByRequest(infra, infra.Find(site.Name)!)!;
            var (_, server) = DataServerFiles(infra, infra.Find(site.Name)!, recipe);
            await Until(() => seen.Refused > 0, "a refused connection");
            await StartDaemonAsync(port, site.Service.HealthPath);
            await Until(() => seen.Conflicts > 0, "a 409 answer");
            File.WriteAllText(Document, HealthDocument.RenderWaiting(site.Name, server, recipe.RestorePointSha256));
            return recipe;
        });
        var act = RootUnit(Script, Credentials, State, Root);

        using var cancel = new CancellationTokenSource();
        var provision = sites.ProvisionAsync(site, point, cancel.Token);
        if (await Task.WhenAny(provision, boot) == boot && boot.IsFaulted)
        {
            await cancel.CancelAsync();
            await boot; // what infra/ could not render from the stack's config
        }
        await provision;
        var pinned = await boot;

        // The records landed are the ones the user data pins, and they are exactly this run's restore point.
        Assert.Equal(pinned.RenderData(), File.ReadAllText(Path.Combine(Root, RestoreRecipe.RestorePointFile.TrimStart('/'))));
        Assert.Equal(point.Select(p => $"{p.Tenant} {p.SnapshotId}").Order(), pinned.SnapshotIds.Select(p => $"{p.Key} {p.Value}").Order());
        Assert.Null(await cli.GetConfigAsync(site.Name, RestorePointConfig.PathOf("tenant-1000"), path: true));
        Assert.Equal("ops", (await cli.GetConfigAsync(site.Name, "aws:profile"))?.Value);
        _stop.Cancel();
        await act;
    }

    private string Credentials => Path.Combine(_dir, "credentials");
    private string State => Path.Combine(_dir, "state");
    private string Root => Path.Combine(_dir, "root");
    private string Document => Path.Combine(_dir, "health.json");
    private string Script => Path.Combine(_dir, "health.py");

    /// <summary>The data server's files as infra/ renders them from <paramref name="deployed"/>: its health handler and control key put where its units find them.</summary>
    private (Dictionary<string, string> Files, string Server) DataServerFiles(Topology topology, StackSpec deployed, RestoreRecipe recipe)
    {
        var plan = SitePlan.For(deployed);
        var boot = ServerBootstrap.For(plan, plan.DataServer!, recipe, SiteUserData.AgentThatFits(plan, recipe, BackupPlan.OfSite(topology, deployed)));
        var reader = new ResticCredentials("s3:https://s3.example/restic", "p", "k", "s");
        var config = CloudConfig.Render(boot, reader, boot.Backup is null ? null : SiteUserData.PlaceholderWriters(boot.Backup, reader.Repository), Key);
        var yaml = new YamlStream();
        yaml.Load(new StringReader(config));
        var files = ((YamlSequenceNode)((YamlMappingNode)yaml.Documents[0].RootNode)["write_files"]).Cast<YamlMappingNode>()
            .ToDictionary(f => ((YamlScalarNode)f["path"]).Value!, f => ((YamlScalarNode)f["content"]).Value!);
        foreach (var dir in new[] { Credentials, State, Root }) Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(Credentials, BackupControl.Credential), files[BackupControl.KeyFile]);
        File.WriteAllText(Script, files[ServerBootstrap.HealthHandlerPath]);
        return (files, boot.Server);
    }

    private Task StartDaemonAsync(int port, string healthPath) =>
        _daemons.StartAsync(_http, Script, Address, port, healthPath, Document, Credentials, State,
            environment: new Dictionary<string, string> { ["FAILOVER_CONTROL_WAIT"] = "10", ["FAILOVER_CONTROL_ROOT"] = Root });

    /// <summary>Waits for a condition another party brings about (bounded, so a regression fails instead of hanging).</summary>
    private static async Task Until(Func<bool> condition, string what)
    {
        bool Seen()
        {
            try { return condition(); }
            catch (System.Text.Json.JsonException) { return false; } // a line the stand-in is still writing
        }
        for (var i = 0; i < 1200 && !Seen(); i++) await Task.Delay(50);
        if (!Seen()) throw new TimeoutException($"never saw {what}");
    }

    /// <summary>The control requests' connections, counting the refused ones and the 409 answers (a connection per request, as ControlRequests.Client).</summary>
    private sealed class Answers() : DelegatingHandler(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero, PooledConnectionIdleTimeout = TimeSpan.Zero })
    {
        private int _refused, _conflicts;
        public int Refused => Volatile.Read(ref _refused);
        public int Conflicts => Volatile.Read(ref _conflicts);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellation)
        {
            try
            {
                var response = await base.SendAsync(request, cancellation);
                if (response.StatusCode == System.Net.HttpStatusCode.Conflict) Interlocked.Increment(ref _conflicts);
                return response;
            }
            catch (HttpRequestException)
            {
                Interlocked.Increment(ref _refused);
                throw;
            }
        }
    }

    /// <summary>The root unit as its path unit starts it: the handler in its acting mode whenever the daemon's queue holds a request.</summary>
    private Task RootUnit(string script, string credentials, string state, string root) => Task.Run(async () =>
    {
        var queue = Path.Combine(state, BackupControl.QueueName);
        while (!_stop.IsCancellationRequested)
        {
            if (Directory.Exists(queue) && Directory.EnumerateFiles(queue).Any())
            {
                var start = new ProcessStartInfo("python3", [script, "0", "/", "/dev/null"]);
                start.Environment[BackupControl.ActVariable] = "1";
                start.Environment["STATE_DIRECTORY"] = state;
                start.Environment["CREDENTIALS_DIRECTORY"] = credentials;
                start.Environment["FAILOVER_CONTROL_ROOT"] = root;
                using var unit = Process.Start(start)!;
                await unit.WaitForExitAsync();
            }
            try { await Task.Delay(100, _stop.Token); } catch (TaskCanceledException) { }
        }
    });

    public void Dispose()
    {
        _stop.Cancel();
        _daemons.Dispose();
        _stop.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
