using Failover.Core.Planning;
using Failover.Driver.Engine;
using Serilog;

namespace Failover.Driver.Tests.Engine;

/// <summary>
/// The compensation a runbook declares, run by the engine itself: after a step fails past the freeze, the thaw runs and
/// voids the frozen steps; a thaw that did not finish is finished first by the next run, before any step goes on.
/// </summary>
public sealed class RunEngineCompensationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("failover-compensation-").FullName;
    private readonly List<string> _calls = [];
    private static readonly RunContext Run = new("test", RunKind.Migration, "prod", "standby", null, false, "tester", "here");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A step that records each run and fails while <paramref name="fails"/> says so.</summary>
    private sealed class Step(StepKind kind, List<string> calls, Func<bool>? fails = null) : IStep
    {
        public StepKind Kind => kind;
        public string Describe(RunContext run) => kind.ToString();

        public async Task<StepResult> ExecuteAsync(StepContext context, CancellationToken cancellation)
        {
            calls.Add(StepContext.Name(kind));
            await context.Once(Effect(kind), _ =>
                fails?.Invoke() == true ? throw new StepFailedException($"{kind} refused") : Task.FromResult<System.Text.Json.Nodes.JsonNode?>(null), cancellation);
            return new StepResult("done");
        }

        private static EffectKey Effect(StepKind kind) => kind switch
        {
            StepKind.Freeze => EffectKey.Freeze("prod"),
            StepKind.FinalSync => EffectKey.FinalBackup,
            StepKind.Thaw => EffectKey.Thaw("prod"),
            _ => EffectKey.DnsPoint,
        };
    }

    private RunEngine Engine(bool gateFails, bool thawFails) => new(
        [new Step(StepKind.Freeze, _calls), new Step(StepKind.FinalSync, _calls), new Step(StepKind.Gate, _calls, () => gateFails)],
        TimeProvider.System, new LoggerConfiguration().CreateLogger())
    {
        Compensation = new Compensation([new Step(StepKind.Thaw, _calls, () => thawFails)], (result, _) => result.Outcome == RunOutcome.Failed)
        {
            Reopens = [StepKind.Freeze, StepKind.FinalSync, StepKind.Gate, StepKind.Thaw],
        },
    };

    [Fact]
    public async Task A_step_failing_after_the_freeze_runs_the_thaw_and_the_next_run_freezes_and_syncs_again()
    {
        using var journal = Journal.Open(Path.Combine(_dir, "journal.jsonl"));
        var stopped = await Engine(gateFails: true, thawFails: false).RunAsync(journal, Run, CancellationToken.None);
        Assert.Equal((RunOutcome.Failed, StepKind.Gate, true), (stopped.Outcome, stopped.FailedStep, stopped.Compensated));
        Assert.Equal(["freeze", "final-sync", "gate", "thaw"], _calls);
        Assert.Equal(JournalEvent.CompensationCompleted, journal.Records[^1].Event);

        _calls.Clear();
        var next = await Engine(gateFails: false, thawFails: false).RunAsync(journal, Run, CancellationToken.None);
        Assert.Equal(RunOutcome.Completed, next.Outcome);
        Assert.Equal(["freeze", "final-sync", "gate"], _calls);
    }

    [Fact]
    public async Task A_teardown_whose_run_completion_was_never_written_completes_the_run_and_runs_no_step_again()
    {
        // A rehearsal's teardown completes the run; the process died between its completion line and the run's.
        using var journal = Journal.Open(Path.Combine(_dir, "journal.jsonl"));
        RunEngine Rehearsal(bool provisionFails) => new([new Step(StepKind.Provision, _calls, () => provisionFails), new Step(StepKind.Teardown, _calls)],
            TimeProvider.System, new LoggerConfiguration().CreateLogger())
        {
            Compensation = new Compensation([new Step(StepKind.Teardown, _calls)], (result, _) => result.Outcome == RunOutcome.Failed) { Completes = true },
        };
        await Rehearsal(provisionFails: true).RunAsync(journal, Run, CancellationToken.None);
        Assert.Equal(JournalEvent.RunCompleted, journal.Records[^1].Event);
        var lines = File.ReadAllLines(Path.Combine(_dir, "journal.jsonl"));
        File.WriteAllLines(Path.Combine(_dir, "killed.jsonl"), lines.Take(lines.Length - 1)); // as if killed before the run's completion line
        using var killed = Journal.Open(Path.Combine(_dir, "killed.jsonl"));
        Assert.Equal(JournalEvent.CompensationCompleted, killed.Records[^1].Event);

        _calls.Clear();
        var resumed = await Rehearsal(provisionFails: false).RunAsync(killed, Run, CancellationToken.None);

        Assert.Empty(_calls); // no new copy provisioned that nothing would tear down
        Assert.True(resumed.Compensated);
        Assert.Equal(JournalEvent.RunCompleted, killed.Records[^1].Event);
    }

    [Fact]
    public async Task A_thaw_that_did_not_finish_is_finished_by_the_next_run_before_any_step_goes_on()
    {
        using var journal = Journal.Open(Path.Combine(_dir, "journal.jsonl"));
        var stopped = await Engine(gateFails: true, thawFails: true).RunAsync(journal, Run, CancellationToken.None);
        Assert.False(stopped.Compensated);
        Assert.Contains("Thaw refused", stopped.CompensationError);
        Assert.DoesNotContain(journal.Records, r => r.Event == JournalEvent.CompensationCompleted);

        _calls.Clear();
        var next = await Engine(gateFails: false, thawFails: false).RunAsync(journal, Run, CancellationToken.None);
        Assert.Equal(RunOutcome.Completed, next.Outcome);
        // The thaw first; then, its completion having voided them, the freeze and the final sync once more.
        Assert.Equal(["thaw", "freeze", "final-sync", "gate"], _calls);
        var completed = journal.Records.ToList().FindIndex(r => r.Event == JournalEvent.CompensationCompleted);
        Assert.Contains(journal.Records.Skip(completed), r => r.Event == JournalEvent.EffectDone && r.Effect == "freeze:prod");
    }
}
