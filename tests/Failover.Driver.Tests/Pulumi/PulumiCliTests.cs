using System.Diagnostics;
using Failover.Driver.Pulumi;

namespace Failover.Driver.Tests.Pulumi;

public sealed class PulumiCliTests : IDisposable
{
    private const string Standby = "standby-hel1";
    private const string CloudConflict =
        "error: [409] Conflict: Another update is currently in progress.\n" +
        "To learn more about possible reasons and resolution, visit https://www.pulumi.com/docs/support/troubleshooting/common-issues/update-conflicts/\n";
    private const string BackendLock =
        "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.\n" +
        "  file:///state/.pulumi/locks/organization/failover/standby-hel1/4f1c.json: created by alice@host1 (pid 4242) at 2024-05-01T10:20:30Z\n";

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
        Assert.Equal(["config", "set", "failover:resticPassword", "--secret", .. _pulumi.Tail(Standby), "--", resticPassword], sets[2]);

        Assert.Equal(ConfigValue.Plain("mvd"), await cli.GetConfigAsync(Standby, "failover:mode"));
        Assert.Equal(ConfigValue.Plain("a1b2c3d4"), await cli.GetConfigAsync(Standby, "failover:restore.snapshots[0]", path: true));
        Assert.Equal(ConfigValue.Encrypted(resticPassword), await cli.GetConfigAsync(Standby, "failover:resticPassword"));
        Assert.Null(await cli.GetConfigAsync(Standby, "failover:activeSite"));
        Assert.Equal(["config", "get", "--path", "failover:restore.snapshots[0]", "--json", .. _pulumi.Tail(Standby)],
            StandIn.Args(_pulumi.Calls("config get")[1]));
        Assert.DoesNotContain(resticPassword, _pulumi.CapturedLogs());
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

    [Theory]
    [InlineData(CloudConflict)]
    [InlineData(BackendLock)]
    public async Task An_update_blocked_by_another_update_is_retried_until_it_runs(string conflict)
    {
        _pulumi.Script(new { rules = new[] { new { command = "up", times = 2, stderr = conflict } } });
        var cli = _pulumi.Cli();
        await cli.SelectOrCreateStackAsync(Standby);

        var result = await cli.UpAsync(Standby);

        Assert.Equal("succeeded", result.Summary?.Result);
        Assert.Equal(3, _pulumi.Calls("up").Count);
        Assert.Equal(2, _pulumi.Clock.Skipped.Count(d => d > TimeSpan.Zero));
        Assert.Contains("another update holds the stack; retry 1 of 3", _pulumi.CapturedLogs());
    }

    [Fact]
    public async Task A_conflict_that_outlasts_the_retries_fails_with_the_cli_message()
    {
        _pulumi.Script(new { rules = new[] { new { command = "up", stderr = BackendLock } } });
        var cli = _pulumi.Cli();
        await cli.SelectOrCreateStackAsync(Standby);

        var e = await Assert.ThrowsAsync<PulumiCommandException>(() => cli.UpAsync(Standby));

        Assert.Equal(PulumiFailureKind.ConcurrentUpdate, e.Kind);
        Assert.Equal(4, _pulumi.Calls("up").Count);
        Assert.StartsWith("pulumi up failed for stack 'standby-hel1': the stack is currently locked by 1 lock(s).", e.Message);
        Assert.Contains("pulumi cancel", e.Message);
    }

    [Fact]
    public async Task A_missing_passphrase_fails_at_once_with_the_cli_message()
    {
        await _pulumi.Cli().SelectOrCreateStackAsync(Standby);
        var cli = _pulumi.Cli(_pulumi.Options(passphrase: false));

        var e = await Assert.ThrowsAsync<PulumiCommandException>(() => cli.UpAsync(Standby));

        Assert.Equal(PulumiFailureKind.Failed, e.Kind);
        Assert.Single(_pulumi.Calls("up"));
        Assert.Equal("passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables", e.Error);
    }

    [Fact]
    public async Task An_update_of_an_unknown_stack_is_not_retried()
    {
        var cli = _pulumi.Cli();

        var e = await Assert.ThrowsAsync<PulumiCommandException>(() => cli.UpAsync("standby-typo"));

        Assert.Equal(PulumiFailureKind.StackNotFound, e.Kind);
        Assert.Equal("no stack named 'standby-typo' found", e.Error);
        Assert.Single(_pulumi.Calls("up"));
    }

    [Fact]
    public async Task A_failed_resource_is_reported_with_the_engine_diagnostic()
    {
        _pulumi.Script(new
        {
            rules = new[] { new { command = "up", resourceFailure = "creating server: server type cpx31 is unavailable in hel1" } },
            resources = new Dictionary<string, object> { ["*"] = new[] { new { type = "hcloud:index/server:Server", name = "db-0" } } },
        });
        var cli = _pulumi.Cli();
        await cli.SelectOrCreateStackAsync(Standby);
        var progress = new Recorded<PulumiProgress>();

        var e = await Assert.ThrowsAsync<PulumiCommandException>(() => cli.UpAsync(Standby, progress));

        Assert.Equal("creating server: server type cpx31 is unavailable in hel1", e.Error);
        Assert.Equal("db-0", progress.Items.OfType<ResourceFailed>().Single().Name);
        Assert.Equal("failed", progress.Items.OfType<UpdateSummary>().Single().Result);
    }

    [Fact]
    public async Task A_hanging_cli_is_killed_with_its_children_at_the_time_limit()
    {
        _pulumi.Script(new { rules = new[] { new { command = "up", hang = true } } });
        var cli = _pulumi.Cli(_pulumi.Options() with { UpTimeout = TimeSpan.FromMinutes(20) });
        await cli.SelectOrCreateStackAsync(Standby);

        var up = cli.UpAsync(Standby);
        var call = await WaitForCall("up");
        _pulumi.Clock.Advance(TimeSpan.FromMinutes(20));
        var e = await Assert.ThrowsAsync<PulumiTimeoutException>(() => up);

        Assert.Contains("did not finish within 00:20:00; it was stopped", e.Message);
        Assert.Contains("pulumi cancel --stack standby-hel1", e.Message);
        Assert.False(IsRunning((int)call["pid"]!), "the CLI process was killed");
        Assert.False(IsRunning((int)call["childPid"]!), "the CLI's child process was killed");
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

    [Fact]
    public async Task Pulumi_missing_from_path_tells_the_user_to_install_it()
    {
        var empty = Directory.CreateTempSubdirectory("failover-empty-path-").FullName;
        try
        {
            var options = _pulumi.Options() with { Environment = new Dictionary<string, string>(_pulumi.Environment()) { ["PATH"] = empty } };

            var e = await Assert.ThrowsAsync<PulumiNotFoundException>(() => _pulumi.Cli(options).SelectOrCreateStackAsync(Standby));

            Assert.Equal("The Pulumi CLI ('pulumi') was not found on PATH. Install the Pulumi CLI " +
                "(https://www.pulumi.com/docs/iac/download-install/) or pass the path of the pulumi executable.", e.Message);
        }
        finally
        {
            Directory.Delete(empty);
        }
    }

    [Fact]
    public async Task A_configured_cli_path_is_used_and_must_exist()
    {
        var given = _pulumi.Options() with { Executable = Path.Combine(StandIn.BinDirectory, "pulumi"), Environment = _pulumi.Environment() };
        await _pulumi.Cli(given).SelectOrCreateStackAsync(Standby);
        Assert.Equal(2, _pulumi.Calls().Count);

        var wrong = given with { Executable = "/opt/pulumi/bin/pulumi" };
        var e = await Assert.ThrowsAsync<PulumiNotFoundException>(() => _pulumi.Cli(wrong).SelectOrCreateStackAsync(Standby));
        Assert.StartsWith("The Pulumi CLI was not found at '/opt/pulumi/bin/pulumi'. Install the Pulumi CLI", e.Message);
    }

    /// <summary>Waits until the stand-in has recorded a call (it records before it hangs).</summary>
    private async Task<System.Text.Json.Nodes.JsonObject> WaitForCall(string command)
    {
        var patience = Stopwatch.StartNew();
        while (true)
        {
            if (_pulumi.Calls(command).FirstOrDefault() is { } call) return call;
            if (patience.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException($"the stand-in never recorded `{command}`");
            await Task.Delay(20);
        }
    }

    /// <summary>Whether a process exists and is not a zombie waiting to be reaped.</summary>
    private static bool IsRunning(int pid)
    {
        var stat = $"/proc/{pid}/stat";
        if (!File.Exists(stat)) return false;
        try
        {
            var text = File.ReadAllText(stat);
            return text[(text.LastIndexOf(')') + 2)] != 'Z';
        }
        catch (IOException) { return false; }
    }
}
