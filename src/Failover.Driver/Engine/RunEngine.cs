using System.Text.Json.Nodes;
using Failover.Core.Planning;
using Serilog;

namespace Failover.Driver.Engine;

/// <summary>How a run ended.</summary>
public enum RunOutcome { Completed, Failed, Aborted, Interrupted, Paused }

/// <summary>The end of one engine invocation: how it ended and, if it failed, where and why.</summary>
public sealed record RunResult(RunOutcome Outcome, StepKind? FailedStep = null, string? Error = null)
{
    /// <summary>Whether the runbook's compensation ran in this invocation and held (a thaw that worked, a teardown that ran).</summary>
    public bool Compensated { get; init; }

    /// <summary>Why the compensation did not hold, when it ran and failed (the next run tries it again first).</summary>
    public string? CompensationError { get; init; }
}

/// <summary>A step stops at a planned wait; the run is neither failed nor finished, and running it again continues there.</summary>
public sealed class StepPausedException(string message) : Exception(message);

/// <summary>
/// The one orchestration engine: runs a runbook's steps in order, journaling each start, effect and end,
/// so that a resumed run skips what finished and repeats nothing that was done.
/// </summary>
public sealed class RunEngine(IReadOnlyList<IStep> steps, TimeProvider time, ILogger log, Action<string>? progress = null, IStepObserver? observer = null)
{
    /// <summary>The operator of this invocation (journaled with a resume: who continued the run).</summary>
    public string? Operator { get; init; }

    /// <summary>What the runbook does when it stops short (<see cref="Engine.Compensation"/>); none by default.</summary>
    public Compensation? Compensation { get; init; }

    public async Task<RunResult> RunAsync(Journal journal, RunContext run, CancellationToken cancellation)
    {
        var records = journal.Records;
        if (records.Any(r => r.Event == JournalEvent.RunAborted))
            return new RunResult(RunOutcome.Aborted, Error: "this run was aborted; start a new one with `failover run`");
        // A run killed after its completion line with nothing of these steps left to do: running it again must not
        // complete it twice. (A kept rehearsal's later teardown is a step still to do, and runs.)
        if (records.Any(r => r.Event == JournalEvent.RunCompleted)
            && steps.All(s => Journal.Live(records).Any(r => r.Event == JournalEvent.StepCompleted && r.Step == StepContext.Name(s.Kind))))
            return new RunResult(RunOutcome.Completed);
        if (records.Count == 0)
            journal.Append(new JournalRecord(JournalEvent.RunStarted, time.GetUtcNow(), Data: RunData(run)));
        else
            journal.Append(new JournalRecord(JournalEvent.RunResumed, time.GetUtcNow(),
                Data: new JsonObject { ["pid"] = Environment.ProcessId, ["host"] = OperatorHost.Name, ["by"] = Environment.UserName, ["operator"] = Operator }));

        if (Compensation is { } teardown && teardown.CompletedWithoutRun(journal.Records))
        {
            journal.Append(new JournalRecord(JournalEvent.RunCompleted, time.GetUtcNow()));
            return new RunResult(RunOutcome.Failed, Error: "the run had stopped; its compensation was finished") { Compensated = true };
        }
        // A compensation the last process did not finish comes before anything else: the run must not go on past a
        // half-done thaw (a freeze and final sync still counted as done while writes resumed).
        if (Compensation is { } pending && pending.IsPending(journal.Records, steps))
        {
            progress?.Invoke("  finishing the compensation a stopped process began");
            var finished = await CompensateAsync(journal, run);
            if (!finished.Compensated)
                return new RunResult(RunOutcome.Failed, finished.FailedStep, $"the compensation begun earlier did not finish: {finished.CompensationError}") { CompensationError = finished.CompensationError };
            if (pending.Completes) return new RunResult(RunOutcome.Failed, Error: "the run had stopped; its compensation is finished now") { Compensated = true };
        }

        var result = await RunStepsAsync(steps, journal, run, log, cancellation);
        if (result.Outcome == RunOutcome.Completed)
        {
            journal.Append(new JournalRecord(JournalEvent.RunCompleted, time.GetUtcNow()));
            return result;
        }
        if (Compensation is not { } compensation || !compensation.Needed(result, journal.Records)) return result;
        var done = await CompensateAsync(journal, run);
        return result with { Compensated = done.Compensated, CompensationError = done.CompensationError };
    }

    /// <summary>
    /// Runs the runbook's compensation, never cancelled (the operator's Ctrl-C must not leave it half-done): its start line,
    /// its steps (journaled, each effect once), then its completion line, which reopens the steps it undid, and the run's
    /// completion when it completes the run. Also called before an abort (a frozen source thawed before giving up).
    /// </summary>
    public async Task<RunResult> CompensateAsync(Journal journal, RunContext run)
    {
        var compensation = Compensation ?? throw new InvalidOperationException("this runbook declares no compensation");
        if (compensation.Say is { } say) progress?.Invoke($"  {say}");
        if (!compensation.IsPending(journal.Records, steps))
            journal.Append(new JournalRecord(JournalEvent.CompensationStarted, time.GetUtcNow(),
                Data: new JsonObject { ["steps"] = new JsonArray(compensation.Steps.Select(s => (JsonNode)JsonValue.Create(StepContext.Name(s.Kind))!).ToArray()) }));
        var done = await RunStepsAsync(compensation.Steps, journal, run, log.ForContext("Stack", compensation.Stack ?? run.Target), CancellationToken.None);
        if (done.Outcome != RunOutcome.Completed) return done with { CompensationError = done.Error ?? done.Outcome.ToString().ToLowerInvariant() };
        CrashPoints.Hit("compensation:completed:before");
        journal.Append(compensation.Completion(time.GetUtcNow()));
        CrashPoints.Hit("compensation:run-completed:before");
        if (compensation.Completes) journal.Append(new JournalRecord(JournalEvent.RunCompleted, time.GetUtcNow()));
        return done with { Compensated = true };
    }

    /// <summary>Runs each step the journal has not completed, in order; the first that does not complete ends the run there.</summary>
    private async Task<RunResult> RunStepsAsync(IReadOnlyList<IStep> toRun, Journal journal, RunContext run, ILogger stepLog, CancellationToken cancellation)
    {
        var facts = new JsonObject();
        foreach (var done in Journal.Live(journal.Records).Where(r => r.Event == JournalEvent.StepCompleted && r.Data?["facts"] is JsonObject))
            facts[done.Step!] = done.Data!["facts"]!.DeepClone();

        foreach (var step in toRun)
        {
            var name = StepContext.Name(step.Kind);
            if (Journal.Live(journal.Records).Any(r => r.Event == JournalEvent.StepCompleted && r.Step == name))
            {
                progress?.Invoke($"  {name,-14} done earlier in this run");
                continue;
            }
            // A Ctrl-C between two steps is an interruption like one inside a step: the engine still runs the compensation (a thaw, a teardown).
            if (cancellation.IsCancellationRequested) return new RunResult(RunOutcome.Interrupted, step.Kind, "interrupted");
            CrashPoints.Hit($"step:{name}:before");
            journal.Append(new JournalRecord(JournalEvent.StepStarted, time.GetUtcNow(), name));
            progress?.Invoke($"  {name,-14} {step.Describe(run)}");
            stepLog.Information("Step {Step} started for {Stack}", name, run.Target);
            var context = new StepContext(run, step.Kind, journal, facts, time, stepLog);
            StepResult result;
            observer?.StepStarted(name);
            try
            {
                result = await step.ExecuteAsync(context, cancellation);
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
                journal.Append(new JournalRecord(JournalEvent.StepFailed, time.GetUtcNow(), name, Data: new JsonObject { ["error"] = "interrupted" }));
                return new RunResult(RunOutcome.Interrupted, step.Kind, "interrupted");
            }
            catch (StepPausedException e)
            {
                journal.Append(new JournalRecord(JournalEvent.StepPaused, time.GetUtcNow(), name, Data: new JsonObject { ["reason"] = e.Message }));
                stepLog.Information("Step {Step} paused: {Reason}", name, e.Message);
                progress?.Invoke($"  {name,-14} paused: {e.Message}");
                return new RunResult(RunOutcome.Paused, step.Kind, e.Message);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                var message = e is StepFailedException ? e.Message : $"{e.GetType().Name}: {e.Message}";
                journal.Append(new JournalRecord(JournalEvent.StepFailed, time.GetUtcNow(), name, Data: new JsonObject { ["error"] = message }));
                stepLog.Error("Step {Step} failed: {Error}", name, message);
                progress?.Invoke($"  {name,-14} FAILED: {message}");
                return new RunResult(RunOutcome.Failed, step.Kind, message);
            }
            finally
            {
                observer?.StepEnded(name);
            }
            facts[name] = result.Facts?.DeepClone() ?? new JsonObject();
            var data = new JsonObject { ["summary"] = result.Summary, ["facts"] = result.Facts?.DeepClone() ?? new JsonObject() };
            if (result.Notes.Count > 0) data["notes"] = new JsonArray(result.Notes.Select(n => (JsonNode)JsonValue.Create(n)!).ToArray());
            journal.Append(new JournalRecord(JournalEvent.StepCompleted, time.GetUtcNow(), name, Data: data));
            CrashPoints.Hit($"step:{name}:after");
            stepLog.Information("Step {Step} completed: {Summary}", name, result.Summary);
            progress?.Invoke($"  {name,-14} ok: {result.Summary}");
        }
        return new RunResult(RunOutcome.Completed);
    }

    public static JsonObject RunData(RunContext run) => new()
    {
        ["runId"] = run.RunId,
        ["kind"] = RunKinds.Name(run.Kind),
        ["production"] = run.Production,
        ["target"] = run.Target,
        ["restorePoint"] = run.RestorePoint,
        ["acceptDataLoss"] = run.AcceptDataLoss,
        ["startedBy"] = run.StartedBy,
        ["host"] = run.Host,
        ["pid"] = Environment.ProcessId,
        ["operator"] = run.Operator,
        ["reason"] = run.Reason,
        ["only"] = run.Only.Count == 0 ? null : new JsonArray(run.Only.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray()),
        ["without"] = run.Without.Count == 0 ? null : new JsonArray(run.Without.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray()),
        ["plan"] = run.Plan is null ? null : new JsonObject(run.Plan.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))),
    };

    /// <summary>The run a journal belongs to, from its first line.</summary>
    public static RunContext? ContextOf(IReadOnlyList<JournalRecord> records)
    {
        var d = records.FirstOrDefault(r => r.Event == JournalEvent.RunStarted)?.Data;
        if (d is null) return null;
        return new RunContext((string)d["runId"]!, RunKinds.Parse((string)d["kind"]!), (string)d["production"]!, (string)d["target"]!,
            (string?)d["restorePoint"], (bool)d["acceptDataLoss"]! || records.Any(r => r.Event == JournalEvent.DataLossAccepted),
            (string)d["startedBy"]!, (string)d["host"]!)
        {
            // Journals of earlier versions have none of these.
            Operator = (string?)d["operator"],
            Reason = (string?)d["reason"],
            Only = d["only"]?.AsArray().Select(t => (string)t!).ToList() ?? [],
            // Left out at the start (--without-tenant on run), or later on resume.
            Without = (d["without"]?.AsArray().Select(t => (string)t!) ?? [])
                .Concat(records.Where(r => r.Event == JournalEvent.TenantsLeftOut).SelectMany(r => r.Data?["tenants"]?.AsArray().Select(t => (string)t!) ?? []))
                .Distinct().ToList(),
            Plan = d["plan"]?.AsObject().ToDictionary(kv => kv.Key, kv => (double)kv.Value!),
        };
    }
}

/// <summary>Hears a step begin and end (the terminal shows the step running with its elapsed time).</summary>
public interface IStepObserver
{
    void StepStarted(string step);

    void StepEnded(string step);
}
