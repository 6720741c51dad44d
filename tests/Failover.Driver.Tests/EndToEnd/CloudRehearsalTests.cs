using System.Text.RegularExpressions;
using Failover.Core.Sites;
using Failover.Driver.Cli;
using Failover.Driver.Engine;
using Failover.Driver.Reports;
using Failover.Driver.Runbooks;
using Failover.Driver.Tests.Backup;
using Failover.Driver.Tests.Pulumi;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.EndToEnd;

/// <summary>The cloud fixture on 127.0.0.51-53: the rehearsal copy's health endpoint answers on .52.</summary>
public sealed class CloudRehearsalSite() : CloudSite(50);

/// <summary>
/// `failover rehearse` on a cloud standby through the stand-in `pulumi` (real restic vault, real PowerDNS
/// holding the zone): the `standby-hel1-rehearsal` stack is created from the standby's config, restored and
/// checked, then destroyed and removed, also after a failed step or a killed process; production's DNS and
/// the standby's own stack are never changed.
/// </summary>
public sealed class CloudRehearsalTests(CloudRehearsalSite site) : IClassFixture<CloudRehearsalSite>, IAsyncLifetime
{
    private const string Copy = "standby-hel1-rehearsal";
    private readonly StandIn _pulumi = new();
    private string Project => _pulumi.ProjectDirectory;
    private RunStore Store => new(Path.Combine(Project, ".failover"));

    /// <summary>The standby's config as its stack file gives it to the real CLI (the stand-in keeps config in its state).</summary>
    private static readonly (string Key, string Value, bool Path, bool Secret)[] StandbyConfig =
    [
        ("failover:role", "standby", false, false), ("failover:mode", "cold", false, false),
        ("failover:site.provider", "hetzner", true, false), ("failover:site.location", "hel1", true, false),
        ("failover:site.datacenter", "hel1-dc2", true, false),
        ("failover:servers[0].name", "db", true, false), ("failover:servers[0].mvd.type", "cpx32", true, false),
        ("failover:servers[0].mvd.count", "1", true, false), ("failover:servers[0].full.type", "ccx33", true, false),
        ("failover:servers[0].full.count", "1", true, false), ("failover:access.adminCidrs[0]", "203.0.113.0/24", true, false),
        ("hcloud:token", "hcloud-token-of-the-standby-0123456789", false, true),
    ];

    public async Task InitializeAsync()
    {
        await site.PrepareProjectAsync(_pulumi, Outputs(failingRestore: false), Resources);
        var cli = _pulumi.Cli();
        await cli.SelectOrCreateStackAsync("standby-hel1");
        foreach (var (key, value, path, secret) in StandbyConfig)
            await cli.SetConfigAsync("standby-hel1", key, new Driver.Pulumi.ConfigValue(value, secret), path);
    }

    /// <summary>The copy's outputs after `up`; its health endpoint reports every tenant restored, or the first one failed.</summary>
    private Dictionary<string, object> Outputs(bool failingRestore) => new()
    {
        [Copy] = new { serviceIpv4 = site.NewAddress, serviceIpv6 = "", healthUrl = site.HealthUrl(failed: failingRestore) },
    };

    /// <summary>Every stack's `up` creates a server, so a stack not destroyed cannot be removed.</summary>
    private static readonly Dictionary<string, object> Resources = new() { ["*"] = new[] { new { type = "hcloud:index/server:Server", name = "db-1" } } };

    private (int Code, string Output) Run(params string[] args)
    {
        var run = Run(TimeProvider.System, args);
        return (run.ExitCode, run.Stdout + run.Stderr);
    }

    private CliRun Run(TimeProvider time, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var app = new App(stdout, stderr, Project, logConsole: stderr) { PulumiEnvironment = _pulumi.Environment(), Input = null, Time = time };
        var code = app.Run([.. args, "--log-json", Path.Combine(Project, "log.jsonl"), "--state-dir", Path.Combine(Project, ".failover")]);
        return new CliRun(code, stdout.ToString(), stderr.ToString());
    }

    private async Task<List<string>> StackNames() => (await _pulumi.Cli().ListStacksAsync()).Select(s => s.Name).ToList();

    private static string RunId(string output) => Regex.Match(output, @"Rehearsal (\d{8}-\d{6}-[0-9a-f]{6})").Groups[1].Value;

    /// <summary>Production untouched: no pulumi call named the DNS or production stack after the setup, the zone still answers production.</summary>
    private async Task AssertProductionUntouched(int callsBefore)
    {
        var calls = _pulumi.Calls().Skip(callsBefore).Select(StandIn.Args).ToList();
        // Reading their outputs (the stale-checkout guard compares them with the stack files) is all a rehearsal may do.
        Assert.DoesNotContain(calls, a => (a.Contains("dns-route53") || a.Contains("prod-fsn1")) && !a[..2].SequenceEqual(["stack", "output"]));
        Assert.DoesNotContain(calls, a => (a[0] is "up" or "destroy" || a[..2] is ["config", "set" or "set-all"] || a[..2].SequenceEqual(["stack", "rm"]))
                                          && a.Contains("standby-hel1"));
        Assert.Equal([site.OldAddress], await site.AnswerAsync("app.example.com"));
        var standby = await _pulumi.Cli().GetAllConfigAsync("standby-hel1");
        Assert.Equal(StandbyConfig.Select(c => c.Key).Order(), standby.Select(l => l.Path).Order());
        Assert.Equal("standby", standby.Single(l => l.Path == "failover:role").Value);
    }

    [Fact]
    public async Task A_cloud_rehearsal_restores_on_its_own_stack_and_destroys_it()
    {
        var before = _pulumi.Calls().Count;
        var (code, output) = Run("rehearse", "--site", "standby-hel1", "--yes");
        Assert.True(code == 0, output);
        Assert.Contains("Rehearsal passed: RTO", output);

        var calls = _pulumi.Calls().Skip(before).Select(StandIn.Args).ToList();
        Assert.Contains(calls, a => a[..3].SequenceEqual(["stack", "init", Copy]));
        // The copy's config goes in set-all calls (one per run of same-path values) and one call per secret, never one per value.
        var sets = calls.Where(a => a[0] == "config" && a[1] is "set" or "set-all" && a.Contains(Copy)).ToList();
        Assert.Contains(sets, a => a[1] == "set-all" && a.Contains("failover:role=rehearsal"));
        foreach (var (tenant, snapshot) in site.SnapshotIds)
            Assert.Contains(sets, a => a[1] == "set-all" && a.Contains("--path") && a.Contains($"failover:snapshots.{tenant}={snapshot}"));
        Assert.InRange(sets.Count, 1, sets.Count(a => a[1] == "set" && a.Contains("--secret")) + 8);
        var order = calls.Where(a => a[0] is "up" or "destroy" || a[..2].SequenceEqual(["stack", "rm"])).Select(a => string.Join(' ', a.Take(3))).ToList();
        Assert.Equal(["up --yes --skip-preview", "destroy --yes --skip-preview", $"stack rm --yes"], order);
        Assert.Contains(calls, a => a[..4].SequenceEqual(["stack", "rm", "--yes", Copy]));

        Assert.DoesNotContain(Copy, await StackNames());
        await AssertProductionUntouched(before);
        var id = RunId(output);
        var report = File.ReadAllText(Path.Combine(Store.RunDirectory(id), "report.md"));
        Assert.Contains("**Rehearsal passed.**", report);
        Assert.Contains($"pulumi destroy deleted 2 resources of {Copy}; stack removed", report);
        Assert.Equal("standby-hel1", Assert.Single(new RehearsalHistory(RehearseCommand.HistoryPath(Store)).Read()).Site);
        var log = File.ReadAllText(Path.Combine(Project, "log.jsonl"));
        Assert.DoesNotContain("hcloud-token-of-the-standby", log + output + report);
    }

    [Fact]
    public async Task A_failing_step_still_destroys_the_rehearsal_stack()
    {
        site.Script(_pulumi, Outputs(failingRestore: true), Resources);
        var before = _pulumi.Calls().Count;
        var (code, output) = Run("rehearse", "--site", "standby-hel1", "--yes");
        Assert.True(code == ExitCodes.Failed, output);
        Assert.Contains("rehearsal failed at restore", output);
        Assert.Contains("tearing the copy down after the failure", output);
        Assert.DoesNotContain(Copy, await StackNames());
        await AssertProductionUntouched(before);
        var report = File.ReadAllText(Path.Combine(Store.RunDirectory(RunId(output)), "report.md"));
        Assert.Contains("**Rehearsal failed** at step `restore`", report);
        Assert.Contains("| teardown |", report);
        // The teardown after the failure is the same process going on, not a resume after an interruption.
        Assert.DoesNotContain("resumed", report);
    }

    [Theory]
    [InlineData("step:restore:before", true)]
    [InlineData("effect:teardown:standby-hel1-rehearsal:after", false)] // destroyed and removed, but not journaled
    public async Task A_killed_cloud_rehearsal_is_torn_down_by_resume(string crashAt, bool stackLeft)
    {
        var setup = _pulumi.Calls().Count;
        var env = new Dictionary<string, string>(_pulumi.Environment()) { [CrashPoints.Variable] = crashAt };
        var first = Processes.Failover(Project, env, "rehearse", "--site", "standby-hel1", "--yes", "--state-dir", Path.Combine(Project, ".failover"));
        Assert.Contains($"killed at {crashAt}", first.Output);
        Assert.Equal(stackLeft, (await StackNames()).Contains(Copy));

        var before = _pulumi.Calls().Count;
        var (code, output) = Run("resume");
        Assert.True(code == 0, output);
        Assert.DoesNotContain(Copy, await StackNames());
        var journal = Journal.Read(Store.JournalPath(RunId(first.Output)));
        Assert.Single(journal, r => r.Event == JournalEvent.StepCompleted && r.Step == "teardown");
        Assert.Single(journal, r => r.Event == JournalEvent.StepCompleted && r.Step == "provision");
        Assert.DoesNotContain(_pulumi.Calls().Skip(before).Select(StandIn.Args), a => a[0] == "up");
        Assert.Null(Store.Current);
        await AssertProductionUntouched(setup);
    }

    /// <summary>
    /// Two S3 vaults, the first never deployed (unreadable): select-backup reads the second, and the copy's cloud-init is
    /// told to restore from it (failover:restoreFrom on the copy's stack), as a failover's standby is; the standby's own
    /// stack is not changed.
    /// </summary>
    [Fact]
    public async Task A_cloud_rehearsal_restoring_from_the_second_vault_pins_it_on_the_copy()
    {
        var stacks = Path.Combine(Project, "infra", "stacks");
        File.WriteAllText(Path.Combine(stacks, "Pulumi.vault-aws-dub.yaml"), File.ReadAllText(Path.Combine(stacks, "Pulumi.vault-aws-par.yaml"))
            .Replace("eu-west-3", "eu-west-1").Replace("acme-failover-vault", "acme-failover-vault-dub"));
        var prod = Path.Combine(stacks, "Pulumi.prod-fsn1.yaml");
        File.WriteAllText(prod, File.ReadAllText(prod).Replace("vaults: [vault-aws-par]", "vaults: [vault-aws-dub, vault-aws-par]"));
        var before = _pulumi.Calls().Count;

        var (code, output) = Run("rehearse", "--site", "standby-hel1", "--yes");
        Assert.True(code == 0, output);
        Assert.Contains($"{Copy} restores from vault-aws-par (failover:restoreFrom)", output);
        var calls = _pulumi.Calls().Skip(before).Select(StandIn.Args).ToList();
        var pin = calls.FindIndex(a => a[0] == "config" && a[1] is "set" or "set-all" && a.Contains(Copy)
                                       && (a.Contains("failover:restoreFrom=vault-aws-par") || (a.Contains("failover:restoreFrom") && a[^1] == "vault-aws-par")));
        Assert.True(pin >= 0, "the copy was not told which vault to restore from");
        Assert.True(pin < calls.FindIndex(a => a[0] == "up"), "the vault was pinned after the copy's pulumi up");
        Assert.Contains("Rehearsal passed: RTO", output);
        Assert.Matches("vault-aws-dub.*(cannot|could not|unreachable|no output)", output);
        await AssertProductionUntouched(before);
    }

    [Fact]
    public async Task Keep_leaves_the_stack_configured_as_a_rehearsal_and_prints_the_command_that_removes_it()
    {
        var (code, output) = Run("rehearse", "--site", "standby-hel1", "--yes", "--keep");
        Assert.True(code == 0, output);
        Assert.Contains($"Remove it with: failover rehearse --teardown (it runs: pulumi destroy --yes --stack {Copy} && pulumi stack rm --yes {Copy})", output);
        Assert.Contains(Copy, await StackNames());
        var config = (await _pulumi.Cli().GetAllConfigAsync(Copy)).ToDictionary(l => l.Path);
        Assert.Equal(("rehearsal", "mvd"), (config["failover:role"].Value, config["failover:mode"].Value));
        Assert.Equal(("hel1", "cpx32"), (config["failover:site.location"].Value, config["failover:servers[0].mvd.type"].Value));
        Assert.Equal(("hcloud-token-of-the-standby-0123456789", true), (config["hcloud:token"].Value, config["hcloud:token"].Secret));
        Assert.All(site.SnapshotIds, s => Assert.Equal(s.Value, config[$"failover:snapshots.{s.Key}"].Value));

        var teardown = Run("rehearse", "--teardown");
        Assert.True(teardown.Code == 0, teardown.Output);
        Assert.Contains($"copy {Copy} removed", teardown.Output);
        Assert.DoesNotContain(Copy, await StackNames());
        Assert.Contains("No rehearsal copy is left running.", Run("rehearse", "--teardown").Output);
    }

    [Fact]
    public void Status_reads_the_cloud_vault_through_its_stack_outputs_and_alarms_on_a_stale_backup()
    {
        // Production is lost in this fixture, so status alarms anyway: the backup age facts are what is looked at.
        var now = BackupAge(Run(TimeProvider.System, "status", "--json"));
        Assert.Equal(site.SnapshotIds.Count, now.Count);
        Assert.All(now, f => Assert.Equal(("vault-aws-par", "info"), (f.Stack, f.Severity)));
        Assert.Contains(now, f => Regex.IsMatch(f.Message, @"^tenant northwind: latest backup \d+[dhms]( \d+[dhms])? old \(RPO target 1h\)$"));

        var later = Run(new ManualClock(DateTimeOffset.UtcNow + TimeSpan.FromHours(3)), "status", "--json");
        Assert.Equal(ExitCodes.Findings, later.ExitCode);
        var stale = BackupAge(later);
        Assert.All(stale, f => Assert.Equal("error", f.Severity));
        Assert.Contains(stale, f => Regex.IsMatch(f.Message, @"^tenant northwind: latest backup 3h( \d+[ms])? old \(RPO target 1h\): STALE"));
        Assert.DoesNotContain(site.ResticPassword, later.Stdout + later.Stderr);
    }

    private static List<(string Stack, string Severity, string Message)> BackupAge(CliRun status) =>
        System.Text.Json.Nodes.JsonNode.Parse(status.Stdout)!["live"]!.AsArray()
            .Where(f => (string?)f!["check"] == "backup age")
            .Select(f => ((string)f!["stack"]!, ((string)f["severity"]!).ToLowerInvariant(), (string)f["message"]!)).ToList();

    public Task DisposeAsync()
    {
        _pulumi.Dispose();
        return Task.CompletedTask;
    }
}
