using System.Diagnostics;
using Failover.Driver.Pulumi;

namespace Failover.Driver.Tests.Pulumi;

/// <summary>How the adapter fails: retries, errors the user sees, time limits, a missing CLI.</summary>
public sealed class PulumiCliFailureTests : IDisposable
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
        Assert.Matches(@"^pulumi up failed for stack 'standby-hel1' \(exit \d+\): the stack is currently locked by 1 lock\(s\)", e.Message);
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
            rules = new[] { new { command = "up", resourceFailure = "creating server: server type cpx32 is unavailable in hel1" } },
            resources = new Dictionary<string, object> { ["*"] = new[] { new { type = "hcloud:index/server:Server", name = "db-0" } } },
        });
        var cli = _pulumi.Cli();
        await cli.SelectOrCreateStackAsync(Standby);
        var progress = new Recorded<PulumiProgress>();

        var e = await Assert.ThrowsAsync<PulumiCommandException>(() => cli.UpAsync(Standby, progress));

        Assert.Equal("creating server: server type cpx32 is unavailable in hel1", e.Error);
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
    public async Task Interrupting_a_running_update_stops_the_cli()
    {
        _pulumi.Script(new { rules = new[] { new { command = "up", hang = true } } });
        var cli = _pulumi.Cli();
        await cli.SelectOrCreateStackAsync(Standby);
        using var interrupt = new CancellationTokenSource();

        var up = cli.UpAsync(Standby, cancellation: interrupt.Token);
        var call = await WaitForCall("up");
        await interrupt.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => up);
        Assert.False(IsRunning((int)call["pid"]!), "the CLI process was killed");
        Assert.Single(_pulumi.Calls("up"));
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
