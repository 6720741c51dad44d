using System.Text.Json.Nodes;
using Failover.Core.Planning;
using Serilog;

namespace Failover.Driver.Engine;

/// <summary>How a run ended.</summary>
public enum RunOutcome { Completed, Failed, Aborted, Interrupted, Paused }

/// <summary>The end of one engine invocation: how it ended and, if it failed, where and why.</summary>
public sealed record RunResult(RunOutcome Outcome, StepKind? FailedStep = null, string? Error = null);

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

    /// <param name="completes">False for a cleanup run of some steps (a thaw): the run is not marked complete when they finish.</param>
    public async Task<RunResult> RunAsync(Journal journal, RunContext run, CancellationToken cancellation, bool completes = true)
    {
        var records = journal.Records;
        if (records.Any(r => r.Event == JournalEvent.RunAborted))
            return new RunResult(RunOutcome.Aborted, Error: "this run was aborted; start a new one with `failover run`");
        // A run killed after its completion line with nothing of these steps left to do: running it again must not
        // complete it twice. (A kept rehearsal's later teardown is a step still to do, and runs.)
        if (completes && records.Any(r => r.Event == JournalEvent.RunCompleted)
            && steps.All(s => Journal.Live(records).Any(r => r.Event == JournalEvent.StepCompleted && r.Step == StepContext.Name(s.Kind))))
            return new RunResult(RunOutcome.Completed);
        if (records.Count == 0)
            journal.Append(new JournalRecord(JournalEvent.RunStarted, time.GetUtcNow(), Data: RunData(run)));
        else
            journal.Append(new JournalRecord(JournalEvent.RunResumed, time.GetUtcNow(),
                Data: new JsonObject { ["pid"] = Environment.ProcessId, ["host"] = OperatorHost.Name, ["by"] = Environment.UserName, ["operator"] = Operator }));

        var facts = new JsonObject();
        foreach (var done in Journal.Live(journal.Records).Where(r => r.Event == JournalEvent.StepCompleted && r.Data?["facts"] is JsonObject))
            facts[done.Step!] = done.Data!["facts"]!.DeepClone();

        foreach (var step in steps)
        {
            var name = StepContext.Name(step.Kind);
            if (Journal.Live(journal.Records).Any(r => r.Event == JournalEvent.StepCompleted && r.Step == name))
            {
                progress?.Invoke($"  {name,-14} done earlier in this run");
                continue;
            }
            // A Ctrl-C between two steps is an interruption like one inside a step: the host still thaws or tears down.
            if (cancellation.IsCancellationRequested) return new RunResult(RunOutcome.Interrupted, step.Kind, "interrupted");
            CrashPoints.Hit($"step:{name}:before");
            journal.Append(new JournalRecord(JournalEvent.StepStarted, time.GetUtcNow(), name));
            progress?.Invoke($"  {name,-14} {step.Describe(run)}");
            log.Information("Step {Step} started for {Stack}", name, run.Target);
            var context = new StepContext(run, step.Kind, journal, facts, time, log);
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
                log.Information("Step {Step} paused: {Reason}", name, e.Message);
                progress?.Invoke($"  {name,-14} paused: {e.Message}");
                return new RunResult(RunOutcome.Paused, step.Kind, e.Message);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                var message = e is StepFailedException ? e.Message : $"{e.GetType().Name}: {e.Message}";
                journal.Append(new JournalRecord(JournalEvent.StepFailed, time.GetUtcNow(), name, Data: new JsonObject { ["error"] = message }));
                log.Error("Step {Step} failed: {Error}", name, message);
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
            log.Information("Step {Step} completed: {Summary}", name, result.Summary);
            progress?.Invoke($"  {name,-14} ok: {result.Summary}");
        }
        if (completes) journal.Append(new JournalRecord(JournalEvent.RunCompleted, time.GetUtcNow()));
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
