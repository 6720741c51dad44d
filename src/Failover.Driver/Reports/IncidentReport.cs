using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Failover.Core.Topology;
using Failover.Driver.Engine;

namespace Failover.Driver.Reports;

/// <summary>One step's window in the timeline.</summary>
public sealed record StepWindow(string Step, DateTimeOffset Start, DateTimeOffset? End, string Status, string Summary, IReadOnlyList<string> Notes);

/// <summary>The tenant data a run restored: which snapshot, taken when, back when, and what the restore said.</summary>
public sealed record RestoredSnapshot(string Tenant, string SnapshotId, DateTimeOffset Time, DateTimeOffset? RestoredAt = null, string? Result = null);

/// <summary>
/// The incident timeline of a run, rebuilt from its journal: each step's window, the snapshots used, RPO
/// achieved (cutover minus snapshot time), RTO achieved (start to verified cutover), against the targets,
/// with anything skipped or forced. Readable like a status-page post.
/// </summary>
public sealed record IncidentReport(
    RunContext Run,
    DateTimeOffset Started,
    DateTimeOffset? Ended,
    string Outcome,
    IReadOnlyList<StepWindow> Steps,
    IReadOnlyList<RestoredSnapshot> Snapshots,
    DateTimeOffset? CutoverVisible,
    Targets? Targets,
    IReadOnlyList<string> Notes)
{
    public TimeSpan? Rto => CutoverVisible - Started;

    /// <summary>The worst tenant's data loss: cutover time minus its snapshot's time.</summary>
    public TimeSpan? Rpo => CutoverVisible is { } c && Snapshots.Count > 0 ? c - Snapshots.Min(s => s.Time) : null;

    public static IncidentReport FromJournal(IReadOnlyList<JournalRecord> records, Targets? targets)
    {
        var run = RunEngine.ContextOf(records) ?? throw new InvalidOperationException("the journal has no RunStarted line");
        var started = records.First(r => r.Event == JournalEvent.RunStarted).At;
        var steps = new List<StepWindow>();
        var notes = new List<string>();
        foreach (var group in records.Where(r => r.Step is not null).GroupBy(r => r.Step!))
        {
            var start = group.First(r => r.Event is JournalEvent.StepStarted or JournalEvent.EffectStarted or JournalEvent.StepCompleted).At;
            var completed = group.LastOrDefault(r => r.Event == JournalEvent.StepCompleted);
            var failed = group.LastOrDefault(r => r.Event == JournalEvent.StepFailed);
            var stepNotes = group.Where(r => r.Event == JournalEvent.Note).Select(r => (string)r.Data!["text"]!)
                .Concat(completed?.Data?["notes"]?.AsArray().Select(n => (string)n!) ?? []).Distinct().ToList();
            var resumedEffects = group.Where(r => r.Event == JournalEvent.EffectStarted && r.Data?["retry"] is not null).Select(r => r.Effect!).ToList();
            if (resumedEffects.Count > 0) stepNotes.Add($"re-applied after an interruption: {string.Join(", ", resumedEffects)}");
            notes.AddRange(stepNotes.Select(n => $"{group.Key}: {n}"));
            steps.Add(completed is not null
                ? new StepWindow(group.Key, start, completed.At, "ok", (string?)completed.Data?["summary"] ?? "", stepNotes)
                : failed is not null
                    ? new StepWindow(group.Key, start, failed.At, "failed", (string?)failed.Data?["error"] ?? "", stepNotes)
                    : new StepWindow(group.Key, start, null, "unfinished", "", stepNotes));
        }
        var facts = records.Where(r => r.Event == JournalEvent.StepCompleted).ToDictionary(r => r.Step!, r => r.Data?["facts"] as JsonObject);
        var snapshots = new List<RestoredSnapshot>();
        if (facts.GetValueOrDefault("select-backup")?["snapshots"] is JsonObject snaps)
            foreach (var (tenant, s) in snaps)
            {
                var restored = facts.GetValueOrDefault("restore")?["tenants"]?[tenant];
                snapshots.Add(new RestoredSnapshot(tenant, (string)s!["id"]!, DateTimeOffset.Parse((string)s["time"]!, CultureInfo.InvariantCulture),
                    restored?["end"] is JsonNode restoredEnd ? DateTimeOffset.Parse((string)restoredEnd!, CultureInfo.InvariantCulture) : null,
                    (string?)restored?["result"]));
            }
        DateTimeOffset? visible = facts.GetValueOrDefault("cutover")?["visibleAt"] is JsonNode v
            ? DateTimeOffset.Parse((string)v!, CultureInfo.InvariantCulture) : null;
        var end = records.LastOrDefault(r => r.Event is JournalEvent.RunCompleted or JournalEvent.RunAborted);
        var outcome = records.Any(r => r.Event == JournalEvent.RunAborted) ? "aborted"
            : records.Any(r => r.Event == JournalEvent.RunCompleted) ? "resolved"
            : steps.Any(s => s.Status == "failed") ? "failed" : "in progress";
        if (run.AcceptDataLoss) notes.Add("run started with --accept-data-loss: backups older than the RPO target were allowed");
        if (run.RestorePoint is not null) notes.Add($"restore point chosen by the operator: {run.RestorePoint}");
        if (records.Any(r => r.Event == JournalEvent.RunResumed))
            notes.Add($"the run was resumed {records.Count(r => r.Event == JournalEvent.RunResumed)} time(s) after an interruption");
        return new IncidentReport(run, started, end?.At, outcome, steps, snapshots.OrderBy(s => s.Tenant, StringComparer.Ordinal).ToList(), visible, targets, notes);
    }

    private static string T(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
    private static string D(TimeSpan? t) => t is { } x ? Durations.Format(x) : "n/a";

    private string Verdict(TimeSpan? achieved, TimeSpan? target) =>
        achieved is null || target is null ? "" : achieved <= target ? "met" : "MISSED";

    public string Markdown()
    {
        var sb = new StringBuilder();
        var title = Run.Kind == "failover" ? $"{Run.Production} lost: service recovered on {Run.Target}" : $"{Run.Kind}: {Run.Production} → {Run.Target}";
        sb.AppendLine($"# Incident report: {title}").AppendLine();
        sb.AppendLine(Outcome switch
        {
            "resolved" => $"**Resolved.** Service answered from {Run.Target} at {T(CutoverVisible ?? Ended ?? Started)}, {D(Rto)} after the failover started (RTO target {D(Targets?.Rto)}: {Verdict(Rto, Targets?.Rto)}). " +
                          (Rpo is { } rpo ? $"Data was restored up to {T(Snapshots.Min(s => s.Time))}: up to {D(rpo)} of changes before the cutover were lost (RPO target {D(Targets?.Rpo)}: {Verdict(rpo, Targets?.Rpo)})." : ""),
            "failed" => $"**Failed.** The run stopped at step `{Steps.Last(s => s.Status == "failed").Step}`: {Steps.Last(s => s.Status == "failed").Summary}. Nothing after that step was done. Fix the cause and run `failover resume`.",
            "aborted" => "**Aborted** by the operator. Steps after the abort were not run.",
            _ => "**In progress.** The run has not finished; `failover resume` continues it.",
        }).AppendLine();
        sb.AppendLine($"Run `{Run.RunId}`, started {T(Started)} by {Run.StartedBy} on {Run.Host}.").AppendLine();
        sb.AppendLine("## Timeline (UTC)").AppendLine();
        sb.AppendLine("| step | start | end | took | status | what happened |").AppendLine("|---|---|---|---|---|---|");
        foreach (var s in Steps)
            sb.AppendLine($"| {s.Step} | {T(s.Start)} | {(s.End is { } e ? T(e) : "-")} | {D(s.End - s.Start)} | {s.Status} | {s.Summary.Replace("|", "\\|")} |");
        sb.AppendLine();
        sb.AppendLine("## Recovery against targets").AppendLine();
        sb.AppendLine("| | achieved | target | |").AppendLine("|---|---|---|---|");
        sb.AppendLine($"| RTO (start to verified cutover) | {D(Rto)} | {D(Targets?.Rto)} | {Verdict(Rto, Targets?.Rto)} |");
        sb.AppendLine($"| RPO (cutover minus oldest snapshot) | {D(Rpo)} | {D(Targets?.Rpo)} | {Verdict(Rpo, Targets?.Rpo)} |").AppendLine();
        if (Snapshots.Count > 0)
        {
            sb.AppendLine("## Tenants").AppendLine();
            sb.AppendLine("Each tenant's data is back on the new site at *restored*; customers reach it from the verified cutover on.").AppendLine();
            sb.AppendLine("| tenant | snapshot | taken | data lost (RPO) | restored after | restore and hooks |").AppendLine("|---|---|---|---|---|---|");
            foreach (var s in Snapshots.OrderBy(s => s.RestoredAt ?? DateTimeOffset.MaxValue))
                sb.AppendLine($"| {s.Tenant} | `{s.SnapshotId}` | {T(s.Time)} | {D(CutoverVisible - s.Time)} | {D(s.RestoredAt - Started)} | {(s.Result ?? "").Replace("|", "\\|")} |");
            sb.AppendLine();
        }
        sb.AppendLine("## Skipped, forced or noteworthy").AppendLine();
        if (Notes.Count == 0) sb.AppendLine("Nothing was skipped or forced.");
        foreach (var n in Notes) sb.AppendLine($"- {n}");
        return sb.ToString();
    }

    public string JsonText() => Json.Serialize(new
    {
        run = RunEngine.RunData(Run),
        outcome = Outcome,
        started = Started,
        ended = Ended,
        cutoverVisible = CutoverVisible,
        rtoSeconds = Rto?.TotalSeconds,
        rpoSeconds = Rpo?.TotalSeconds,
        targets = Targets is null ? null : new { rtoSeconds = Targets.Rto.TotalSeconds, rpoSeconds = Targets.Rpo.TotalSeconds },
        rtoMet = Rto is { } r && Targets is not null ? r <= Targets.Rto : (bool?)null,
        rpoMet = Rpo is { } p && Targets is not null ? p <= Targets.Rpo : (bool?)null,
        steps = Steps.Select(s => new { step = s.Step, start = s.Start, end = s.End, seconds = (s.End - s.Start)?.TotalSeconds, status = s.Status, summary = s.Summary, notes = s.Notes }),
        snapshots = Snapshots.Select(s => new
        {
            tenant = s.Tenant, snapshotId = s.SnapshotId, time = s.Time, rpoSeconds = (CutoverVisible - s.Time)?.TotalSeconds,
            restoredAt = s.RestoredAt, restoredAfterSeconds = (s.RestoredAt - Started)?.TotalSeconds, result = s.Result,
        }),
        notes = Notes,
    });
}

/// <summary>Writes a report as report.md and report.json in a run's folder.</summary>
public static class IncidentReportFiles
{
    public static IReadOnlyList<string> Write(string directory, IncidentReport report)
    {
        Directory.CreateDirectory(directory);
        var md = Path.Combine(directory, "report.md");
        var json = Path.Combine(directory, "report.json");
        File.WriteAllText(md, report.Markdown());
        File.WriteAllText(json, report.JsonText() + "\n");
        return [md, json];
    }
}
