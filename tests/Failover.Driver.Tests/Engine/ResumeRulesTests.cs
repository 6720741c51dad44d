using Failover.Core.Topology;
using Failover.Driver.Cli;
using Failover.Driver.Engine;

namespace Failover.Driver.Tests.Engine;

/// <summary>
/// What `resume` promises after the ways a run can stop: the advice an error prints is a command that works, a run
/// killed after its completion is not completed twice, and a snapshot damaged at restore time is replaced, not retried forever.
/// </summary>
public class ResumeRulesTests : IDisposable
{
    private readonly string _project = Repo.CopyProject();
    private readonly ManualTime _time = new(new DateTimeOffset(2026, 11, 22, 3, 0, 0, TimeSpan.Zero));
    private readonly FakePorts _fake;
    private string? _lockSeen;

    public ResumeRulesTests()
    {
        var topology = TopologyLoader.Load(Path.Combine(_project, "infra", "stacks"));
        _fake = new FakePorts(_time, topology.Tenants);
    }

    public void Dispose() => Directory.Delete(_project, recursive: true);

    private string State => Path.Combine(_project, ".failover");
    private string RunId => Directory.GetDirectories(Path.Combine(State, "runs")).Select(Path.GetFileName).Single()!;
    private string JournalPath => Path.Combine(State, "runs", RunId, "journal.jsonl");
    private string ReportPath => Path.Combine(State, "runs", RunId, "report.md");

    private CliRun Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var app = new App(stdout, stderr, _project, logConsole: stderr)
        {
            Time = _time,
            // The adapters are built inside the run, while it holds the lock: what the lock says is what a second operator reads.
            Ports = (_, _) => { _lockSeen ??= File.ReadAllText(Path.Combine(State, "lock")); return Task.FromResult(_fake.Ports); },
            Input = null,
        };
        // The copied Pulumi.yaml names an S3 backend; these runs keep their state in the project folder.
        return new CliRun(app.Run(args.Contains("--state-dir") ? args : [.. args, "--state-dir", State]), stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void The_rpo_refusal_prints_a_command_that_works_and_accepting_is_journaled()
    {
        foreach (var list in _fake.Snapshots.Values) list.RemoveAt(0); // only the 6-hour-old ones remain
        var refused = Run("run", "--to", "standby-hel1", "--yes");
        Assert.Equal(4, refused.ExitCode);
        Assert.Contains("run `failover resume --accept-data-loss`", refused.Stderr);
        Assert.Equal(0, _fake.Count("provision"));

        Assert.Equal(4, Run("resume").ExitCode); // without accepting, the rule still holds
        var accepted = Run("resume", "--accept-data-loss");
        Assert.True(accepted.ExitCode == 0, accepted.Stderr + accepted.Stdout);
        Assert.Equal(1, _fake.Count("provision"));
        Assert.Single(Journal.Read(JournalPath), r => r.Event == JournalEvent.DataLossAccepted);
        Assert.Contains("data loss accepted on resume by", File.ReadAllText(ReportPath));
    }

    [Fact]
    public void Resuming_a_run_killed_after_its_completion_says_so_and_changes_nothing()
    {
        Assert.Equal(0, Run("run", "--to", "standby-hel1", "--yes").ExitCode);
        // The kill came after run-completed and before the pointer to the open run was cleared.
        File.WriteAllText(Path.Combine(State, "current"), RunId);
        var journal = File.ReadAllText(JournalPath);
        var report = File.ReadAllText(ReportPath);
        var effects = _fake.Effects.Count;

        var resumed = Run("resume");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Contains($"Run {RunId} already completed", resumed.Stdout);
        Assert.Equal(journal, File.ReadAllText(JournalPath));
        Assert.Equal(report, File.ReadAllText(ReportPath));
        Assert.Equal(effects, _fake.Effects.Count);
        Assert.Equal(1, Journal.Read(JournalPath).Count(r => r.Event == JournalEvent.RunCompleted));
        Assert.Contains("no unfinished run", Run("resume").Stderr);
    }

    [Fact]
    public void The_lock_names_the_command_an_operator_types()
    {
        Assert.Equal(0, Run("run", "--to", "standby-hel1", "--yes").ExitCode);
        Assert.Contains("\"failover run --to standby-hel1\"", _lockSeen);
        Assert.DoesNotContain("failover failover", _lockSeen);
    }

    [Fact]
    public void A_snapshot_damaged_at_restore_falls_back_to_the_previous_one_journaled_and_reported()
    {
        _fake.DamagedOnRestore.Add("contoso-new");
        var run = Run("run", "--to", "standby-hel1", "--yes", "--accept-data-loss");
        Assert.True(run.ExitCode == 0, run.Stderr + run.Stdout);
        Assert.Equal(1, _fake.Count("restore contoso contoso-old"));
        Assert.Equal(0, _fake.Count("restore contoso contoso-new"));
        var records = Journal.Read(JournalPath);
        Assert.Single(records, r => r.Event == JournalEvent.EffectDone && r.Effect == "fallback:contoso:contoso-new");
        var report = File.ReadAllText(ReportPath);
        Assert.Contains("snapshot contoso-new of contoso is damaged", report);
        Assert.Contains("| contoso | `contoso-old` |", report); // the RPO is the fallback's
    }

    [Fact]
    public void A_damaged_snapshot_whose_fallback_is_too_old_stops_naming_the_command_that_goes_on()
    {
        _fake.DamagedOnRestore.Add("contoso-new");
        var stopped = Run("run", "--to", "standby-hel1", "--yes");
        Assert.Equal(4, stopped.ExitCode);
        Assert.Contains("contoso: its snapshot contoso-new is damaged", stopped.Stderr);
        Assert.Contains("run `failover resume --accept-data-loss`", stopped.Stderr);
        Assert.Equal(9, _fake.Count("restore "));

        var resumed = Run("resume", "--accept-data-loss");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr + resumed.Stdout);
        Assert.Equal(1, _fake.Count("restore contoso contoso-old"));
        Assert.Equal(1, _fake.Count("read-back contoso-old")); // the fallback was chosen once, and kept on resume
        Assert.Equal(10, _fake.Count("restore "));
    }
}
