using Failover.Core.Planning;
using Failover.Driver.Engine;
using Serilog;

namespace Failover.Driver.Tests.Engine;

/// <summary>A Ctrl-C that lands between two steps: the run ends as interrupted, so the engine still runs its compensation (a thaw, a teardown).</summary>
public sealed class RunEngineInterruptTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("failover-engine-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A step that does its work whatever the token says (as a freeze does), while the operator presses Ctrl-C.</summary>
    private sealed class Step(StepKind kind, Action? during = null) : IStep
    {
        public int Runs { get; private set; }
        public StepKind Kind => kind;
        public string Describe(RunContext run) => kind.ToString();
        public Task<StepResult> ExecuteAsync(StepContext context, CancellationToken cancellation)
        {
            Runs++;
            during?.Invoke();
            return Task.FromResult(new StepResult("done"));
        }
    }

    [Fact]
    public async Task Cancelled_between_steps_the_run_returns_interrupted_instead_of_throwing_and_the_next_step_never_starts()
    {
        using var ctrlC = new CancellationTokenSource();
        var freeze = new Step(StepKind.Freeze, ctrlC.Cancel);
        var sync = new Step(StepKind.FinalSync);
        using var journal = Journal.Open(Path.Combine(_dir, "journal.jsonl"));
        var run = new RunContext("test", RunKind.Migration, "prod", "standby", null, false, "tester", "here");

        var result = await new RunEngine([freeze, sync], TimeProvider.System, new LoggerConfiguration().CreateLogger()).RunAsync(journal, run, ctrlC.Token);

        Assert.Equal(RunOutcome.Interrupted, result.Outcome);
        Assert.Equal(StepKind.FinalSync, result.FailedStep);
        Assert.Equal((1, 0), (freeze.Runs, sync.Runs));
        Assert.Single(journal.Records, r => r.Event == JournalEvent.StepCompleted && r.Step == StepContext.Name(StepKind.Freeze));
        Assert.DoesNotContain(journal.Records, r => r.Step == StepContext.Name(StepKind.FinalSync));
    }
}
