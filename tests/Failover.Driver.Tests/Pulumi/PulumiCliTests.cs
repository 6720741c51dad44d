using Failover.Driver.Pulumi;

namespace Failover.Driver.Tests.Pulumi;

/// <summary>What the adapter sends the CLI and what the driver gets back when things go well.</summary>
public sealed class PulumiCliTests : IDisposable
{
    private const string Standby = "standby-hel1";

    private readonly StandIn _pulumi = new();

    public void Dispose() => _pulumi.Dispose();

    private static object StandbyScript(string password = "pg-admin-s3cr3t-9f2c") => new
    {
        outputs = new Dictionary<string, object>
        {
            ["*"] = new Dictionary<string, object>
            {
                ["address"] = "10.20.0.5",
                ["healthUrl"] = "http://10.20.0.5:8080/healthz",
                ["dbPassword"] = new Dictionary<string, object> { ["$secret"] = password },
            },
        },
        resources = new Dictionary<string, object>
        {
            ["*"] = new[] { new { type = "hcloud:index/server:Server", name = "db-0" }, new { type = "hcloud:index/server:Server", name = "app-0" } },
        },
    };

    [Fact]
    public async Task Selecting_a_missing_stack_creates_it_and_every_call_names_stack_and_project_folder()
    {
        var cli = _pulumi.Cli();

        await cli.SelectOrCreateStackAsync(Standby);
        await cli.SelectOrCreateStackAsync(Standby);

        var calls = _pulumi.Calls();
        Assert.Equal<string[]>(
        [
            ["stack", "select", .. _pulumi.Tail(Standby)],
            ["stack", "init", Standby, .. _pulumi.Tail(null)],
            ["stack", "select", .. _pulumi.Tail(Standby)],
        ], calls.Select(c => StandIn.Args(c).ToArray()).ToArray());
        Assert.All(calls, c => Assert.Equal(_pulumi.ProjectDirectory, (string?)c["cwd"]));
        Assert.All(calls, c => Assert.Equal("true", (string?)c["env"]!["PULUMI_SKIP_UPDATE_CHECK"]));
    }

    [Fact]
    public async Task Stack_list_reports_the_stacks_of_the_project_with_their_resource_counts()
    {
        _pulumi.Script(StandbyScript());
        var cli = _pulumi.Cli();
        await cli.SelectOrCreateStackAsync("prod-fsn1");
        await cli.SelectOrCreateStackAsync(Standby);
        await cli.UpAsync(Standby);

        var stacks = await cli.ListStacksAsync();

        Assert.Equal(["stack", "ls", "--json", .. _pulumi.Tail(null)], StandIn.Args(_pulumi.Calls("stack ls").Single()));
        Assert.Equal(["prod-fsn1", Standby], stacks.Select(s => s.Name));
        Assert.True(stacks.Single(s => s.Name == Standby).Current);
        Assert.Equal(3, stacks.Single(s => s.Name == Standby).ResourceCount);
        Assert.Null(stacks.Single(s => s.Name == "prod-fsn1").LastUpdate);
    }

    [Fact]
    public async Task Config_values_are_set_as_the_sdk_does_and_read_back_decrypted()
    {
        var cli = _pulumi.Cli();
        await cli.SelectOrCreateStackAsync(Standby);
        const string resticPassword = "restic-repo-pw-77a1";

        await cli.SetConfigAsync(Standby, "failover:mode", ConfigValue.Plain("mvd"));
        await cli.SetConfigAsync(Standby, "failover:restore.snapshots[0]", ConfigValue.Plain("a1b2c3d4"), path: true);
        await cli.SetConfigAsync(Standby, "failover:resticPassword", ConfigValue.Encrypted(resticPassword));

        var sets = _pulumi.Calls("config set").Select(StandIn.Args).ToList();
        Assert.Equal(["config", "set", "failover:mode", "--plaintext", .. _pulumi.Tail(Standby), "--", "mvd"], sets[0]);
        Assert.Equal(["config", "set", "--path", "failover:restore.snapshots[0]", "--plaintext", .. _pulumi.Tail(Standby), "--", "a1b2c3d4"], sets[1]);
        // A secret is read from stdin, never put on the command line where every local user could read it.
        Assert.Equal(["config", "set", "failover:resticPassword", "--secret", .. _pulumi.Tail(Standby)], sets[2]);

        Assert.Equal(ConfigValue.Plain("mvd"), await cli.GetConfigAsync(Standby, "failover:mode"));
        Assert.Equal(ConfigValue.Plain("a1b2c3d4"), await cli.GetConfigAsync(Standby, "failover:restore.snapshots[0]", path: true));
        Assert.Equal(ConfigValue.Encrypted(resticPassword), await cli.GetConfigAsync(Standby, "failover:resticPassword"));
        Assert.Null(await cli.GetConfigAsync(Standby, "failover:activeSite"));
        Assert.Equal(["config", "get", "--path", "failover:restore.snapshots[0]", "--json", .. _pulumi.Tail(Standby)],
            StandIn.Args(_pulumi.Calls("config get")[1]));
        Assert.DoesNotContain(resticPassword, _pulumi.CapturedLogs());
    }

    [Fact]
    public async Task Many_values_are_set_in_one_set_all_call_per_path_flag_with_secrets_apart_and_the_last_value_wins()
    {
        var cli = _pulumi.Cli();
        await cli.SelectOrCreateStackAsync(Standby);
        const string resticPassword = "restic-repo-pw-91c3";
        var snapshots = Enumerable.Range(0, 1000).Select(i => new ConfigSetting($"failover:snapshots.tenant{i:D4}", ConfigValue.Plain($"{i:x8}-=x"), Path: true));
        await cli.SetConfigAsync(Standby,
        [
            new("failover:mode", ConfigValue.Plain("cold")), new("failover:resticPassword", ConfigValue.Encrypted(resticPassword)),
            new("failover:mode", ConfigValue.Plain("mvd")), .. snapshots,
        ]);

        var calls = _pulumi.Calls().Where(c => ((string?)c["command"])!.StartsWith("config set", StringComparison.Ordinal)).Select(StandIn.Args).ToList();
        Assert.Equal(4, calls.Count);
        Assert.Equal(["config", "set-all", "--plaintext", "failover:mode=cold", .. _pulumi.Tail(Standby)], calls[0]);
        Assert.Equal(["config", "set", "failover:resticPassword", "--secret", .. _pulumi.Tail(Standby)], calls[1]); // on stdin
        Assert.Equal(["config", "set-all", "--plaintext", "failover:mode=mvd", .. _pulumi.Tail(Standby)], calls[2]);
        Assert.Equal(["config", "set-all", "--path"], calls[3][..3]);
        Assert.DoesNotContain(calls, a => a.Any(x => x.Contains(resticPassword)));

        Assert.Equal(ConfigValue.Plain("mvd"), await cli.GetConfigAsync(Standby, "failover:mode"));
        Assert.Equal(ConfigValue.Encrypted(resticPassword), await cli.GetConfigAsync(Standby, "failover:resticPassword"));
        Assert.Equal(ConfigValue.Plain("000003e7-=x"), await cli.GetConfigAsync(Standby, "failover:snapshots.tenant0999", path: true));
        Assert.Equal(1000, (await cli.GetAllConfigAsync(Standby)).Count(l => l.Path.StartsWith("failover:snapshots.", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Config_rm_all_removes_path_keys_as_the_sdk_sends_it_and_a_key_the_stack_lacks_is_no_error()
    {
        var cli = _pulumi.Cli();
        await cli.SelectOrCreateStackAsync(Standby);
        await cli.SetConfigAsync(Standby, [new("failover:mode", ConfigValue.Plain("mvd")),
            new("failover:snapshots.northwind", ConfigValue.Plain("4f2a9c1e"), Path: true), new("failover:snapshots.legacy", ConfigValue.Plain("0badc0de"), Path: true)]);

        await cli.RemoveConfigAsync(Standby, ["failover:snapshots.legacy", "failover:snapshots.never-set"], path: true);

        Assert.Equal(["config", "rm-all", "--path", "failover:snapshots.legacy", "failover:snapshots.never-set", .. _pulumi.Tail(Standby)],
            StandIn.Args(_pulumi.Calls("config rm-all").Single()));
        Assert.Null(await cli.GetConfigAsync(Standby, "failover:snapshots.legacy", path: true));
        Assert.Equal(ConfigValue.Plain("4f2a9c1e"), await cli.GetConfigAsync(Standby, "failover:snapshots.northwind", path: true));
        Assert.Equal(ConfigValue.Plain("mvd"), await cli.GetConfigAsync(Standby, "failover:mode"));
    }

    [Fact]
    public async Task Up_streams_resource_progress_from_the_event_log_and_returns_the_outputs()
    {
        _pulumi.Script(StandbyScript());
        var cli = _pulumi.Cli();
        await cli.SelectOrCreateStackAsync(Standby);
        var progress = new Recorded<PulumiProgress>();

        var result = await cli.UpAsync(Standby, progress);

        var up = _pulumi.Calls("up").Single();
        var args = StandIn.Args(up);
        Assert.Equal(["up", "--yes", "--skip-preview", "--exec-kind", "auto.local", .. _pulumi.Tail(Standby), "--event-log"], args[..^1]);
        Assert.Equal("true", (string?)up["env"]!["PULUMI_DEBUG_COMMANDS"]);
        Assert.False(File.Exists(args[^1]), "the event log is temporary");

        var events = progress.Items;
        Assert.Equal(["failover-standby-hel1", "db-0", "app-0"], events.OfType<ResourceStarted>().Select(e => e.Name));
        Assert.Equal(["db-0", "app-0", "failover-standby-hel1"], events.OfType<ResourceFinished>().Select(e => e.Name));
        Assert.All(events.OfType<ResourceStarted>(), e => Assert.Equal("create", e.Op));
        var summary = Assert.IsType<UpdateSummary>(events[^1]);
        Assert.Equal(3, summary.ResourceChanges["create"]);
        Assert.Equal("succeeded", summary.Result);
        Assert.Equal(summary, result.Summary);

        Assert.Equal("10.20.0.5", result.Outputs["address"].Text);
        Assert.Equal("http://10.20.0.5:8080/healthz", result.Outputs["healthUrl"].Text);
        Assert.False(result.Outputs["address"].IsSecret);
    }

    [Fact]
    public async Task Secret_outputs_are_known_to_the_driver_but_never_logged_nor_shown_in_errors()
    {
        const string password = "pg-admin-s3cr3t-9f2c";
        _pulumi.Script(StandbyScript(password));
        var cli = _pulumi.Cli();
        await cli.SelectOrCreateStackAsync(Standby);
        await cli.UpAsync(Standby);

        var outputs = await cli.GetOutputsAsync(Standby);
        _pulumi.Log.Information("Standby outputs: {Outputs}, password {Password}", outputs, $"{outputs["dbPassword"]}");
        _pulumi.Script(new { rules = new[] { new { command = "destroy", stderr = $"error: provider rejected password {password}\n" } } });
        var failure = await Assert.ThrowsAsync<PulumiCommandException>(() => cli.DestroyAsync(Standby));
        _pulumi.Log.Error(failure, "destroy failed");

        Assert.True(outputs["dbPassword"].IsSecret);
        Assert.Equal(password, outputs["dbPassword"].Text);
        Assert.Equal(["stack", "output", "--json", "--show-secrets", .. _pulumi.Tail(Standby)], StandIn.Args(_pulumi.Calls("stack output")[^1]));
        Assert.DoesNotContain(password, failure.Message);
        Assert.Contains("provider rejected password [redacted]", failure.Message);
        var logs = _pulumi.CapturedLogs();
        Assert.Contains("10.20.0.5", logs);
        Assert.DoesNotContain(password, logs);
    }

    [Fact]
    public async Task Destroy_deletes_every_resource_and_leaves_no_outputs()
    {
        _pulumi.Script(StandbyScript());
        var cli = _pulumi.Cli();
        await cli.SelectOrCreateStackAsync(Standby);
        await cli.UpAsync(Standby);

        var summary = await cli.DestroyAsync(Standby);

        Assert.Equal(["destroy", "--yes", "--skip-preview", "--exec-kind", "auto.local", .. _pulumi.Tail(Standby), "--event-log"],
            StandIn.Args(_pulumi.Calls("destroy").Single())[..^1]);
        Assert.Equal(3, summary?.ResourceChanges["delete"]);
        Assert.Empty(await cli.GetOutputsAsync(Standby));
    }

    [Fact]
    public async Task Cancel_clears_the_update_of_the_named_stack()
    {
        var cli = _pulumi.Cli();
        await cli.SelectOrCreateStackAsync(Standby);

        await cli.CancelAsync(Standby);

        Assert.Equal(["cancel", "--yes", .. _pulumi.Tail(Standby)], StandIn.Args(_pulumi.Calls("cancel").Single()));
    }
}
