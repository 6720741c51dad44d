using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Failover.Core.Backup;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Cloud;
using Failover.Driver.Tests.Pulumi;
using Failover.Driver.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace Failover.Driver.Tests.Cloud;

/// <summary>
/// The fence's stop against the real health daemons of production's servers, as their user data renders them (the handler,
/// and the key and state directories systemd would give it), started as python3 on 127.0.18.x: a fresh request signed with
/// the site's key is accepted and queued for the root unit; a bad signature, a replay and an action the
/// server does not take are refused; and the fence (PulumiSites, with the stand-in `pulumi`) sends the stop to every server
/// before its `pulumi up`, naming the one it could not reach, without failing.
/// </summary>
public sealed class FenceStopTests : IDisposable
{
    private static readonly string Key = SiteUserData.PlaceholderControlKey;
    private static readonly Topology Stacks = TopologyLoader.Load(Path.Combine(Repo.Root, "infra", "stacks"));

    private readonly string _dir = Directory.CreateTempSubdirectory("failover-fence-stop-").FullName;
    private readonly HttpClient _http = Failover.Driver.Backup.ControlRequests.Client;
    private readonly HealthDaemons _daemons = new();

    /// <summary>The daemon of <paramref name="server"/> as its cloud-config writes it, on <paramref name="address"/>; returns its state directory.</summary>
    private async Task<string> StartDaemonAsync(string server, string address, int port)
    {
        var prod = Stacks.Production;
        var plan = SitePlan.For(prod);
        var planned = plan.Servers.Single(s => s.Name == server);
        var backup = planned.HoldsData ? BackupPlan.OfSite(Stacks, prod) : null;
        var boot = ServerBootstrap.For(plan, planned, null, backup);
        var config = CloudConfig.Render(boot, null, backup is null ? null : SiteUserData.PlaceholderWriters(backup, "s3:https://s3.example/restic"), Key);
        var yaml = new YamlStream();
        yaml.Load(new StringReader(config));
        var files = ((YamlSequenceNode)((YamlMappingNode)yaml.Documents[0].RootNode)["write_files"]).Cast<YamlMappingNode>()
            .ToDictionary(f => ((YamlScalarNode)f["path"]).Value!, f => ((YamlScalarNode)f["content"]).Value!);

        var home = Directory.CreateDirectory(Path.Combine(_dir, server)).FullName;
        var credentials = Directory.CreateDirectory(Path.Combine(home, "credentials")).FullName;
        File.WriteAllText(Path.Combine(credentials, BackupControl.Credential), files[BackupControl.KeyFile]);
        var state = Directory.CreateDirectory(Path.Combine(home, "state")).FullName;
        var document = Path.Combine(home, "health.json");
        File.WriteAllText(document, HealthDocument.Render(prod.Name, server, new Dictionary<string, string>()));
        var script = Path.Combine(home, "health.py");
        File.WriteAllText(script, files[ServerBootstrap.HealthHandlerPath]);
        await _daemons.StartAsync(_http, script, address, port, prod.Service.HealthPath, document, credentials, state, $"the health daemon of {server}");
        return state;
    }

    private static string Url(string address, int port) => BackupControl.Url(address, Stacks.Production.Service with { HealthPort = port });

    [Fact]
    public async Task An_application_server_takes_a_signed_stop_once_and_refuses_a_bad_signature_a_replay_and_the_agent_s_start()
    {
        var port = Processes.FreePort();
        var state = await StartDaemonAsync("prod-fsn1-app-1", "127.0.18.1", port);
        var url = Url("127.0.18.1", port);
        var queue = Path.Combine(state, BackupControl.QueueName);
        int Queued() => Directory.Exists(queue) ? Directory.GetFiles(queue).Length : 0;

        var (code, answer) = await SendAsync(url, BackupControl.Body(ApplicationStop.Action, "prod-fsn1", DateTimeOffset.UtcNow, "n1"), key: Key.ToLowerInvariant());
        Assert.Equal(HttpStatusCode.Unauthorized, code);
        Assert.Contains("bad signature", answer);
        // An application server has no agent: the start is not an action it takes.
        (code, answer) = await SendAsync(url, BackupControl.Body(BackupControl.StartBackups, "prod-fsn1", DateTimeOffset.UtcNow, "n2"));
        Assert.Equal(HttpStatusCode.BadRequest, code);
        Assert.Contains("this server takes stop-application", answer);
        Assert.Equal(0, Queued());

        // The driver's own request: accepted, queued for the root unit (which carries it out after checking it again).
        var (sent, refusal) = await Failover.Driver.Backup.ControlRequests.PostAsync(_http, url, Key,
            BackupControl.Body(ApplicationStop.Action, "prod-fsn1", DateTimeOffset.UtcNow, "n0"), CancellationToken.None);
        Assert.True(refusal is null, sent.Answer);
        Assert.Equal(ApplicationStop.Action, sent.Member("accepted"));
        Assert.Equal(1, Queued());

        // The same bytes again (captured on the wire): refused, the trigger untouched.
        var body = BackupControl.Body(ApplicationStop.Action, "prod-fsn1", DateTimeOffset.UtcNow, "n3");
        (code, _) = await SendAsync(url, body);
        Assert.Equal(HttpStatusCode.Accepted, code);
        Assert.Equal(2, Queued());
        (code, answer) = await SendAsync(url, body);
        Assert.Equal(HttpStatusCode.Unauthorized, code);
        Assert.Contains("replayed", answer);
        Assert.Equal(2, Queued());
    }

    [Fact]
    public async Task The_fence_stops_every_server_it_reaches_before_its_pulumi_up_and_names_the_one_it_could_not_reach()
    {
        var port = Processes.FreePort();
        var app = await StartDaemonAsync("prod-fsn1-app-1", "127.0.18.1", port);
        var db = await StartDaemonAsync("prod-fsn1-db-1", "127.0.18.3", port);
        var prod = Stacks.Production with { Service = Stacks.Production.Service with { HealthPort = port } };
        using var pulumi = new StandIn();
        // What production's stack exports: its servers' addresses (app-2 at an address where nothing answers) and its key.
        pulumi.Script(new
        {
            outputs = new Dictionary<string, JsonObject>
            {
                [prod.Name] = new()
                {
                    [StackOutputs.ServerAddresses] = new JsonObject { ["prod-fsn1-app-1"] = "127.0.18.1", ["prod-fsn1-app-2"] = "127.0.18.2", ["prod-fsn1-db-1"] = "127.0.18.3" },
                    [StackOutputs.ControlKey] = new JsonObject { ["$secret"] = Key },
                },
            },
        });
        var cli = pulumi.Cli();
        await cli.SelectOrCreateStackAsync(prod.Name);
        await cli.UpAsync(prod.Name);
        var sites = new PulumiSites(cli, new HttpClient(), pulumi.Log, _ => { }, TimeSpan.FromMinutes(2)) { Control = _http, StopTimeout = TimeSpan.FromSeconds(5) };

        var said = await sites.FenceAsync(prod, CancellationToken.None);

        Assert.Contains("prod-fsn1-app-1, prod-fsn1-app-2, prod-fsn1-db-1 kept with their addresses", said);
        Assert.Contains("the application stopped by a signed request on prod-fsn1-app-1, prod-fsn1-db-1 and marked fenced", said);
        Assert.Contains("on prod-fsn1-db-1 also the backup agent's timer", said);
        Assert.Matches(@"the stop could not reach prod-fsn1-app-2 \([^)]*refused[^)]*\): the firewall holds them isolated", said);
        Assert.Single(Directory.GetFiles(Path.Combine(app, BackupControl.QueueName)));
        Assert.Single(Directory.GetFiles(Path.Combine(db, BackupControl.QueueName)));
        // Then the one update that closes the ports.
        Assert.Equal(2, pulumi.Calls("up").Count);
        Assert.Contains(pulumi.Calls(), c => (string?)c["command"] == "config set" && StandIn.Args(c).Contains("fenced"));
        // The key is a secret: never in what an operator or a log file sees.
        Assert.DoesNotContain(Key, pulumi.CapturedLogs());
    }

    private async Task<(HttpStatusCode Code, string Answer)> SendAsync(string url, string body, string? key = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body) };
        request.Headers.Add(BackupControl.SignatureHeader, BackupControl.Sign(key ?? Key, body));
        using var response = await _http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public void Dispose()
    {
        _daemons.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
