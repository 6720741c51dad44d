using System.Text.Json.Nodes;
using Failover.Core.Planning;
using Serilog;

namespace Failover.Driver.Engine;

/// <summary>One step of a runbook as the engine runs it: idempotent, its side effects journaled.</summary>
public interface IStep
{
    StepKind Kind { get; }

    /// <summary>What the step would do, for --dry-run; no side effects.</summary>
    string Describe(RunContext run);

    Task<StepResult> ExecuteAsync(StepContext context, CancellationToken cancellation);
}

/// <summary>What a finished step hands on: a one-line summary and facts for later steps and the report.</summary>
public sealed record StepResult(string Summary, JsonObject? Facts = null, IReadOnlyList<string>? Notes = null)
{
    /// <summary>Skipped or forced things the report must state (an unreachable old primary, accepted data loss).</summary>
    public IReadOnlyList<string> Notes { get; init; } = Notes ?? [];
}

/// <summary>A step refused to go on; the run stops here, before anything later (DNS) is touched.</summary>
public sealed class StepFailedException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>What a run is: a failover after a loss, a rehearsal on a copy, a planned migration, or a restore of named tenants into the serving site.</summary>
public enum RunKind { Failover, Rehearsal, Migration, Restore }

/// <summary>The words a run kind is journaled and invoked by; journals keep the lower-case word.</summary>
public static class RunKinds
{
    /// <summary>The word in the journal's first record (<c>"kind"</c>), unchanged since the first journals.</summary>
    public static string Name(RunKind kind) => kind switch
    {
        RunKind.Rehearsal => "rehearsal",
        RunKind.Migration => "migration",
        RunKind.Restore => "restore",
        _ => "failover",
    };

    /// <summary>The verb that starts a run of this kind: <c>failover run</c>, <c>rehearse</c>, <c>migrate</c>.</summary>
    public static string Verb(RunKind kind) => kind switch
    {
        RunKind.Rehearsal => "rehearse",
        RunKind.Migration => "migrate",
        RunKind.Restore => "restore",
        _ => "run",
    };

    public static RunKind Parse(string name) => name switch
    {
        "failover" => RunKind.Failover,
        "rehearsal" => RunKind.Rehearsal,
        "migration" => RunKind.Migration,
        "restore" => RunKind.Restore,
        _ => throw new InvalidDataException($"unknown run kind '{name}' in the journal's first record"),
    };
}

/// <summary>The run's identity and the operator's choices, fixed when the run starts.</summary>
public sealed record RunContext(
    string RunId,
    RunKind Kind,
    string Production,
    string Target,
    string? RestorePoint,
    bool AcceptDataLoss,
    string StartedBy,
    string Host)
{
    /// <summary>Who ran it, beyond the OS user: --operator, FAILOVER_OPERATOR or git user.email (<see cref="OperatorIdentity"/>); null when none was found.</summary>
    public string? Operator { get; init; }

    /// <summary>The runbook's estimate of each step in seconds, by step name, as planned when the run started (the report's "planned").</summary>
    public IReadOnlyDictionary<string, double>? Plan { get; init; }

    /// <summary>Tenants the operator left out of this run (--without-tenant: no usable backup); restored later with `failover restore`.</summary>
    public IReadOnlyList<string> Without { get; init; } = [];

    /// <summary>A `failover restore` run: the only tenants it restores (into the serving site); empty for every other run.</summary>
    public IReadOnlyList<string> Only { get; init; } = [];

    /// <summary>The tenants this run works on: the named ones of a restore, else every tenant but those left out.</summary>
    public IReadOnlyList<Failover.Core.Topology.Tenant> TenantsOf(Failover.Core.Topology.Topology topology) =>
        Only.Count > 0 ? topology.Tenants.Where(t => Only.Contains(t.Name)).ToList() : topology.Tenants.Where(t => !Without.Contains(t.Name)).ToList();

    /// <summary>Why the operator accepted the run's risks (--reason), quoted in the report's accepted risks.</summary>
    public string? Reason { get; init; }
}

/// <summary>The journal as an adapter sees it: effects done once per run, under the run's id.</summary>
public interface IRunEffects
{
    string RunId { get; }

    /// <summary>See <see cref="StepContext.Once"/>.</summary>
    Task<JsonNode?> Once(EffectKey effect, Func<CancellationToken, Task<JsonNode?>> act, CancellationToken cancellation);
}

/// <summary>What a step sees while it runs: the run, the facts of earlier steps, the clock and the journal.</summary>
public sealed class StepContext(RunContext run, StepKind step, Journal journal, JsonObject facts, TimeProvider time, ILogger log) : IRunEffects
{
    public string RunId => Run.RunId;

    public RunContext Run { get; } = run;
    public StepKind Step { get; } = step;
    public TimeProvider Time { get; } = time;
    public ILogger Log { get; } = log.ForContext("Step", step.ToString().ToLowerInvariant());

    /// <summary>Everything journaled so far in this run.</summary>
    public IReadOnlyList<JournalRecord> Records => journal.Records;

    /// <summary>Facts earlier steps handed on (snapshot ids, addresses), by step name.</summary>
    public JsonObject Facts { get; } = facts;

    /// <summary>
    /// Runs a side effect once per run: if the journal shows it done, its recorded result is returned and
    /// nothing runs. If the process died while it ran, it runs again, so every effect must be safe to repeat
    /// (check-then-act, or naturally idempotent like a DNS REPLACE).
    /// </summary>
    public async Task<JsonNode?> Once(EffectKey key, Func<CancellationToken, Task<JsonNode?>> act, CancellationToken cancellation)
    {
        var effect = key.Value;
        var stepName = Name(Step);
        var live = Journal.Live(journal.Records);
        var done = live.LastOrDefault(r => r.Event == JournalEvent.EffectDone && r.Step == stepName && r.Effect == effect);
        if (done is not null)
        {
            Log.Debug("Effect {Effect} already done in this run; not repeated", effect);
            return done.Data?["result"]?.DeepClone();
        }
        var interrupted = live.Any(r => r.Event == JournalEvent.EffectStarted && r.Step == stepName && r.Effect == effect);
        journal.Append(new JournalRecord(JournalEvent.EffectStarted, Time.GetUtcNow(), stepName, effect,
            interrupted ? new JsonObject { ["retry"] = true } : null));
        CrashPoints.Hit($"effect:{effect}:before");
        var result = await act(cancellation);
        CrashPoints.Hit($"effect:{effect}:after");
        journal.Append(new JournalRecord(JournalEvent.EffectDone, Time.GetUtcNow(), stepName, effect,
            new JsonObject { ["result"] = result?.DeepClone() }));
        return result;
    }

    public void Note(string text)
    {
        journal.Append(new JournalRecord(JournalEvent.Note, Time.GetUtcNow(), Name(Step), Data: new JsonObject { ["text"] = text }));
        Log.Warning("{Step}: {Note}", Name(Step), text);
    }

    public static string Name(StepKind kind) => kind switch
    {
        StepKind.SelectBackup => "select-backup",
        StepKind.LowerTtl => "lower-ttl",
        StepKind.FinalSync => "final-sync",
        StepKind.ScaleDown => "scale-down",
        _ => kind.ToString().ToLowerInvariant(),
    };
}

/// <summary>
/// Test hook for crash injection: when FAILOVER_CRASH_AT names the point being passed, the process kills
/// itself on the spot, as `kill -9` would. Points: step:NAME:before|after, effect:KEY:before|after, and
/// compensation:completed:before (a compensation's steps done, its completion line not yet written).
/// </summary>
public static class CrashPoints
{
    public const string Variable = "FAILOVER_CRASH_AT";

    public static void Hit(string point)
    {
        var wanted = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrEmpty(wanted) || !string.Equals(wanted, point, StringComparison.Ordinal)) return;
        Console.Error.WriteLine($"[crash injection] killed at {point}");
        Console.Error.Flush();
        System.Diagnostics.Process.GetCurrentProcess().Kill();
    }
}
