using System.Text.Json;
using Failover.Core.Topology;
using Failover.Driver.Cli;
using Failover.Driver.Engine;

namespace Failover.Driver.Tests.Engine;

/// <summary>`failover run/resume/abort/unlock/report` over in-memory ports: the engine's rules, fast.</summary>
public class RunCommandTests : IDisposable
{
    private readonly string _project = Repo.CopyProject();
    private readonly ManualTime _time = new(new DateTimeOffset(2026, 11, 22, 3, 0, 0, TimeSpan.Zero));
    private readonly FakePorts _fake;

    public RunCommandTests()
    {
        var topology = TopologyLoader.Load(Path.Combine(_project, "infra", "stacks"));
        _fake = new FakePorts(_time, topology.Tenants);
    }

    public void Dispose() => Directory.Delete(_project, recursive: true);

    private string State => Path.Combine(_project, ".failover");

    private CliRun Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var app = new App(stdout, stderr, _project, logConsole: stderr)
        {
            Time = _time, Ports = (_, _) => Task.FromResult(_fake.Ports), Input = null,
            // The AWS standby's runs pass the token pre-check (the fakes need none; TokenPreCheckTests covers the check).
            Variable = n => n == "AWS_PROFILE" ? "test" : Environment.GetEnvironmentVariable(n),
        };
        // The copied Pulumi.yaml names an S3 backend; these runs keep their state in the project folder.
        return new CliRun(app.Run([.. args, "--state-dir", State]), stdout.ToString(), stderr.ToString());
    }

    private string Report() => File.ReadAllText(Directory.GetFiles(Path.Combine(State, "runs"), "report.md", SearchOption.AllDirectories).Single());

    [Fact]
    public void A_failover_runs_every_step_once_and_reports_rto_and_rpo()
    {
        var run = Run("run", "--to", "standby-hel1", "--yes");
        Assert.True(run.ExitCode == 0, run.Stderr + run.Stdout);
        Assert.Equal(1, _fake.Count("provision standby-hel1"));
        Assert.Equal(10, _fake.Count("restore "));
        Assert.Equal(1, _fake.Count("fence prod-fsn1"));
        Assert.Equal(1, _fake.Count("dns 192.0.2.10"));
        // 5 min provision + 10 x 30 s restore + 60 s DNS = 11 min; the snapshots were 20 min old at the start.
        Assert.Contains("RTO 11m, RPO 31m", run.Stdout);
        var report = Report();
        Assert.Contains("**Resolved.**", report);
        Assert.Contains("| RTO (start to verified cutover) | 11m | 4h | met |", report);
        Assert.Contains("| northwind | `northwind-new` |", report);
        Assert.False(File.Exists(Path.Combine(State, "current")));
        Assert.False(File.Exists(Path.Combine(State, "lock")));
    }

    [Fact]
    public void Tenants_are_restored_tier_first_then_smallest_first()
    {
        var run = Run("run", "--to", "standby-hel1", "--yes");
        Assert.Equal(0, run.ExitCode);
        var order = _fake.Effects.Where(e => e.StartsWith("restore ")).Select(e => e.Split(' ')[1]).ToList();
        Assert.Equal(["fabrikam", "contoso", "northwind", "litware", "adventure-works", "wingtip", "tailspin", "margie", "lucerne", "proseware"], order);
    }

    [Fact]
    public void An_unhealthy_target_stops_before_dns_and_resume_does_not_provision_again()
    {
        _fake.Healthy = false;
        var failed = Run("run", "--to", "standby-hel1", "--yes");
        Assert.Equal(4, failed.ExitCode);
        Assert.Contains("step gate failed", failed.Stderr);
        Assert.Contains("DNS was not touched", failed.Stderr);
        Assert.Null(_fake.DnsPointsAt);
        Assert.Equal(0, _fake.Count("fence"));
        Assert.Contains("**Failed.** The run stopped at step `gate`", Report());

        _fake.Healthy = true;
        var resumed = Run("resume");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Equal(1, _fake.Count("provision"));
        Assert.Equal(10, _fake.Count("restore "));
        Assert.Equal("192.0.2.10", _fake.DnsPointsAt);
        Assert.Contains("done earlier in this run", resumed.Stdout);
    }

    [Fact]
    public void A_failed_tenant_restore_is_retried_alone_on_resume()
    {
        _fake.FailRestoreOf = "tailspin";
        var failed = Run("run", "--to", "standby-hel1", "--yes");
        Assert.Equal(4, failed.ExitCode);
        Assert.Contains("1 of 10 tenants failed to restore (tailspin: pg_restore failed", failed.Stderr);
        Assert.Equal(9, _fake.Count("restore "));
        _fake.FailRestoreOf = null;
        Assert.Equal(0, Run("resume").ExitCode);
        Assert.Equal(10, _fake.Count("restore "));
        Assert.Equal(1, _fake.Count("restore tailspin"));
    }

    [Fact]
    public void A_backup_older_than_the_rpo_is_refused_saying_how_much_is_lost()
    {
        foreach (var list in _fake.Snapshots.Values) list.RemoveAt(0); // only the 6-hour-old ones remain
        var run = Run("run", "--to", "standby-hel1", "--yes");
        Assert.Equal(4, run.ExitCode);
        Assert.Contains("is 6h old: restoring it would lose 6h of data, over the RPO target of 1h.", run.Stderr);
        Assert.Contains("Nothing was changed", run.Stderr);
        Assert.Contains("--accept-data-loss", run.Stderr);
        Assert.Equal(0, _fake.Count("provision"));
    }

    [Fact]
    public void Accepting_data_loss_goes_on_and_the_report_says_so()
    {
        foreach (var list in _fake.Snapshots.Values) list.RemoveAt(0);
        var run = Run("run", "--to", "standby-hel1", "--yes", "--accept-data-loss");
        Assert.Equal(0, run.ExitCode);
        var report = Report();
        Assert.Contains("--accept-data-loss", report);
        Assert.Contains("MISSED", report); // RPO 6h+ against a 1h target
    }

    [Fact]
    public void A_damaged_snapshot_falls_back_to_the_previous_good_one()
    {
        _fake.DamagedSnapshots.Add("contoso-new");
        var run = Run("run", "--to", "standby-hel1", "--yes", "--accept-data-loss");
        Assert.Equal(0, run.ExitCode);
        Assert.Equal(1, _fake.Count("restore contoso contoso-old"));
        Assert.Contains("snapshot contoso-new of contoso failed verification", Report());
    }

    [Fact]
    public void A_migration_waiting_for_confirmation_names_the_way_out_when_a_failover_is_started()
    {
        var store = new RunStore(State);
        var migration = new RunContext("20261122-020000-abcdef", RunKind.Migration, "prod-fsn1", "standby-hel1", null, false, "ops", "host");
        using (var journal = Journal.Open(store.JournalPath(migration.RunId)))
        {
            journal.Append(new JournalRecord(JournalEvent.RunStarted, _time.GetUtcNow(), Data: RunEngine.RunData(migration)));
            journal.Append(new JournalRecord(JournalEvent.StepPaused, _time.GetUtcNow(), "scale-down"));
        }
        store.SetCurrent(migration.RunId);

        var run = Run("run", "--to", "standby-aws-fra", "--yes");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("migration 20261122-020000-abcdef cut over to standby-hel1 and waits for `failover migrate --to standby-hel1 --confirm`", run.Stderr);
        Assert.Contains("`failover abort`", run.Stderr);
        Assert.Equal(0, _fake.Count("provision"));
    }

    [Fact]
    public void Every_snapshot_damaged_stops_with_a_clear_error()
    {
        _fake.DamagedSnapshots.UnionWith(["wingtip-new", "wingtip-old"]);
        var run = Run("run", "--to", "standby-hel1", "--yes");
        Assert.Equal(4, run.ExitCode);
        Assert.Contains("no snapshot of tenant wingtip passed verification (2 tried, the reasons are in the log)", run.Stderr);
    }

    [Fact]
    public void Restore_point_picks_older_backups_after_ransomware()
    {
        var run = Run("run", "--to", "standby-hel1", "--yes", "--restore-point", "2026-11-21T23:00:00Z");
        Assert.Equal(0, run.ExitCode);
        Assert.Equal(10, _fake.Count("restore ") );
        Assert.All(_fake.Effects.Where(e => e.StartsWith("restore ")), e => Assert.EndsWith("-old", e));
        Assert.Contains("restore point chosen by the operator: 2026-11-21T23:00:00Z", Report());
    }

    [Fact]
    public void An_unreachable_old_primary_is_noted_not_fatal()
    {
        _fake.FenceFails = true;
        var run = Run("run", "--to", "standby-hel1", "--yes");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("could not be fenced at its provider (provider API did not answer within 30s)", Report());
    }

    [Fact]
    public void Dry_run_changes_nothing()
    {
        var run = Run("run", "--to", "standby-hel1", "--dry-run");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("Dry run: nothing will be changed", run.Stdout);
        Assert.Contains("cutover", run.Stdout);
        Assert.Empty(_fake.Effects);
        Assert.False(Directory.Exists(State));
    }

    [Fact]
    public void Without_yes_and_without_a_terminal_nothing_happens()
    {
        var run = Run("run", "--to", "standby-hel1");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("not confirmed: nothing was changed (use --yes in scripts)", run.Stderr);
        Assert.Empty(_fake.Effects);
    }

    [Fact]
    public void A_second_run_refuses_while_the_lock_is_held_naming_the_owner()
    {
        Directory.CreateDirectory(State);
        using var held = RunLock.Acquire(Path.Combine(State, "lock"),
            new LockOwner(Environment.MachineName, Environment.ProcessId, _time.GetUtcNow(), "run-a", "failover run --to standby-aws-fra"));
        var run = Run("run", "--to", "standby-hel1", "--yes");
        Assert.Equal(5, run.ExitCode);
        Assert.Contains($"pid {Environment.ProcessId}", run.Stderr);
        Assert.Contains("failover run --to standby-aws-fra", run.Stderr);
        Assert.Empty(_fake.Effects);
        Assert.Equal(5, Run("unlock").ExitCode); // a live owner is not broken without --force
    }

    [Fact]
    public void A_stale_lock_is_detected_and_broken_explicitly()
    {
        Directory.CreateDirectory(State);
        File.WriteAllText(Path.Combine(State, "lock"), JsonSerializer.Serialize(
            new LockOwner(Environment.MachineName, 999_999_9, _time.GetUtcNow(), "run-dead", "failover run --to standby-hel1")));
        var refused = Run("run", "--to", "standby-hel1", "--yes");
        Assert.Equal(5, refused.ExitCode);
        Assert.Contains("the lock is stale; run `failover unlock`", refused.Stderr);
        var unlock = Run("unlock");
        Assert.Equal(0, unlock.ExitCode);
        Assert.Equal(0, Run("run", "--to", "standby-hel1", "--yes").ExitCode);
    }

    [Fact]
    public void Abort_ends_the_unfinished_run_and_a_new_one_can_start()
    {
        _fake.Healthy = false;
        Assert.Equal(4, Run("run", "--to", "standby-hel1", "--yes").ExitCode);
        Assert.Equal(2, Run("run", "--to", "standby-aws-fra", "--yes").ExitCode); // the unfinished run blocks a new one
        Assert.Equal(0, Run("abort").ExitCode);
        Assert.Contains("**Aborted**", Report());
        Assert.Equal(2, Run("resume").ExitCode);
        _fake.Healthy = true;
        Assert.Equal(0, Run("run", "--to", "standby-aws-fra", "--yes").ExitCode);
    }

    [Fact]
    public void Report_verb_prints_the_newest_run()
    {
        Assert.Equal(0, Run("run", "--to", "standby-hel1", "--yes").ExitCode);
        var md = Run("report");
        Assert.Contains("# Incident report: prod-fsn1 lost: service recovered on standby-hel1", md.Stdout);
        var json = JsonDocument.Parse(Run("report", "--json").Stdout).RootElement;
        Assert.True(json.GetProperty("rtoMet").GetBoolean());
        Assert.Equal(660, json.GetProperty("rtoSeconds").GetDouble());
        Assert.Equal(9, json.GetProperty("steps").GetArrayLength()); // backups after the cutover
    }

    [Fact]
    public void Failover_to_a_non_standby_is_a_usage_error()
    {
        var run = Run("run", "--to", "vault-aws-par", "--yes");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("a failover goes to a standby", run.Stderr);
    }
}
