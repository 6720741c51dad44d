using System.Text.Json.Nodes;
using Failover.Core.Planning;

namespace Failover.Driver.Engine;

/// <summary>
/// The steps a runbook declares for a run that stops short, so that it leaves nothing half-done: a migration's thaw, a
/// rehearsal's teardown. The engine runs them itself, journaled like the runbook's own steps (each effect once), between a
/// <see cref="JournalEvent.CompensationStarted"/> and a <see cref="JournalEvent.CompensationCompleted"/> line, so that a
/// process killed in between finishes them on its next run before anything else.
/// </summary>
/// <param name="Steps">What it runs, in order.</param>
/// <param name="Needed">Whether a stopped run (its result, its journal) calls for it.</param>
public sealed record Compensation(IReadOnlyList<IStep> Steps, Func<RunResult, IReadOnlyList<JournalRecord>, bool> Needed)
{
    /// <summary>The line printed before it runs.</summary>
    public string? Say { get; init; }

    /// <summary>The steps it undoes: voided by its completion line, so that going on runs them again (a thaw voids the freeze and the final sync).</summary>
    public IReadOnlyList<StepKind> Reopens { get; init; } = [];

    /// <summary>Whether finishing it completes the run (a teardown does; a thaw does not: the migration may go on).</summary>
    public bool Completes { get; init; }

    /// <summary>The site its log lines name (the migration's source), else the run's target.</summary>
    public string? Stack { get; init; }

    /// <summary>
    /// Whether a compensation began and did not finish (the process died during it): its start line has no completion line
    /// after it, or a step of its own (one the runbook does not run) is still live, as in journals written before the
    /// start line existed, where a thaw's records stayed live until the reopen line that followed it.
    /// </summary>
    public bool IsPending(IReadOnlyList<JournalRecord> records, IReadOnlyList<IStep> runbook)
    {
        var started = LastIndex(records, JournalEvent.CompensationStarted);
        if (started > LastIndex(records, JournalEvent.CompensationCompleted)) return true;
        var own = Steps.Select(s => StepContext.Name(s.Kind)).Except(runbook.Select(s => StepContext.Name(s.Kind))).ToHashSet();
        return Journal.Live(records).Any(r => r.Step is not null && own.Contains(r.Step) && r.Event is not JournalEvent.Note);
    }

    /// <summary>
    /// Whether a compensation that completes the run (a teardown) finished but the run's completion line after it was never
    /// written (the process died, or the write failed, in between): the run must be completed now, its steps never run again
    /// (they would bring up a copy that nothing tears down).
    /// </summary>
    public bool CompletedWithoutRun(IReadOnlyList<JournalRecord> records) =>
        Completes && LastIndex(records, JournalEvent.CompensationCompleted) > LastIndex(records, JournalEvent.RunCompleted);

    /// <summary>The line that ends it: it names the steps it reopens (<see cref="Journal.Live"/> voids their records).</summary>
    public JournalRecord Completion(DateTimeOffset at) => new(JournalEvent.CompensationCompleted, at, Data: new JsonObject
    {
        ["steps"] = new JsonArray(Reopens.Select(k => (JsonNode)JsonValue.Create(StepContext.Name(k))!).ToArray()),
    });

    private static int LastIndex(IReadOnlyList<JournalRecord> records, JournalEvent e)
    {
        for (var i = records.Count - 1; i >= 0; i--)
            if (records[i].Event == e) return i;
        return -1;
    }
}
