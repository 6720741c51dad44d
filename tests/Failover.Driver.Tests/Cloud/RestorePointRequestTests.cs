using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Failover.Core.Backup;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Cloud;
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

        // The data server's files as infra/ renders them.
        var plan = SitePlan.For(deployed);
        var boot = ServerBootstrap.For(plan, plan.DataServer!, recipe, SiteUserData.AgentThatFits(plan, recipe, BackupPlan.OfSite(topology, deployed)));
        var reader = new ResticCredentials("s3:https://s3.example/restic", "p", "k", "s");
        var config = CloudConfig.Render(boot, reader, boot.Backup is null ? null : SiteUserData.PlaceholderWriters(boot.Backup, reader.Repository), Key);
        var yaml = new YamlStream();
        yaml.Load(new StringReader(config));
        var files = ((YamlSequenceNode)((YamlMappingNode)yaml.Documents[0].RootNode)["write_files"]).Cast<YamlMappingNode>()
            .ToDictionary(f => ((YamlScalarNode)f["path"]).Value!, f => ((YamlScalarNode)f["content"]).Value!);
        var credentials = Directory.CreateDirectory(Path.Combine(_dir, "credentials")).FullName;
        File.WriteAllText(Path.Combine(credentials, BackupControl.Credential), files[BackupControl.KeyFile]);
        var state = Directory.CreateDirectory(Path.Combine(_dir, "state")).FullName;
        var root = Directory.CreateDirectory(Path.Combine(_dir, "root")).FullName;
        var document = Path.Combine(_dir, "health.json");
        var script = Path.Combine(_dir, "health.py");
        File.WriteAllText(script, files[ServerBootstrap.HealthHandlerPath]);
        // Waiting, as the bootstrap writes it before its wait; the daemon answers with the result the root unit writes.
        File.WriteAllText(document, HealthDocument.RenderWaiting(site.Name, boot.Server, recipe!.RestorePointSha256));
        var environment = new Dictionary<string, string> { ["FAILOVER_CONTROL_WAIT"] = "10", ["FAILOVER_CONTROL_ROOT"] = root };
        await _daemons.StartAsync(_http, script, Address, port, site.Service.HealthPath, document, credentials, state, environment: environment);
        var act = RootUnit(script, credentials, state, root);

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
        var landed = Path.Combine(root, RestoreRecipe.RestorePointFile.TrimStart('/'));
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
