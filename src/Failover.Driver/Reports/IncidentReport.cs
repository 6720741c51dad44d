using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Failover.Core.Planning;
using Failover.Core.Topology;
using Failover.Driver.Engine;
using Failover.Driver.Runbooks;

namespace Failover.Driver.Reports;

/// <summary>One step's window in the timeline.</summary>
public sealed record StepWindow(string Step, DateTimeOffset Start, DateTimeOffset? End, string Status, string Summary, IReadOnlyList<string> Notes);

/// <summary>The tenant data a run restored: which snapshot, taken when, back when, and what the restore said.</summary>
public sealed record RestoredSnapshot(string Tenant, string SnapshotId, DateTimeOffset Time, DateTimeOffset? RestoredAt = null, string? Result = null);

/// <summary>A policy finding as it stood when the report was written.</summary>
public sealed record ReportFinding(string Policy, string Severity, string Message);

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
    /// <summary>When the health gate passed; for a rehearsal, the moment the service would have been back.</summary>
    public DateTimeOffset? GateHealthy { get; init; }

    /// <summary>The policy findings recorded by the report step (empty before it ran).</summary>
    public IReadOnlyList<ReportFinding> Findings { get; init; } = [];

    /// <summary>The version of the tool that ran the report step, or this one.</summary>
    public string Version { get; init; } = ToolVersion;

    /// <summary>The journal's hash chain as it stood when the report was made; null when the journal's lines were not at hand.</summary>
    public JournalIntegrity? Integrity { get; init; }

    /// <summary>Where the journal is kept (a file, or the shared run state).</summary>
    public string? JournalLocation { get; init; }

    /// <summary>Where a copy of this report and its journal goes, with its retention (<see cref="ReportArchive"/>); null when none is made.</summary>
    public string? VaultCopy { get; init; }

    /// <summary>Risks the operator took on purpose, each with who, when and why (--accept-data-loss, --restore-point, --without-tenant, policies overridden).</summary>
    public IReadOnlyList<string> AcceptedRisks { get; init; } = [];

    /// <summary>The report of a journal read from its store, with its hash chain checked.</summary>
    public static IncidentReport FromJournal(Journal journal, Targets? targets) =>
        FromJournal(journal.Records, targets) with { Integrity = journal.Integrity, JournalLocation = journal.Path };

    public bool IsRehearsal => Run.Kind == RunKind.Rehearsal;

    public bool IsMigration => Run.Kind == RunKind.Migration;

    /// <summary>A migration's last write freeze began here (the start of the downtime customers saw).</summary>
    public DateTimeOffset? FrozenAt { get; init; }

    /// <summary>A migration's final backup was restored on the target and verified against its manifests.</summary>
    public bool FinalSyncVerified { get; init; }

    /// <summary>A migration's downtime: from the write freeze to the verified cutover.</summary>
    public TimeSpan? FreezeWindow => CutoverVisible - FrozenAt;

    /// <summary>Service back: the verified cutover of a failover, the healthy gate of a rehearsal (which never touches DNS).</summary>
    public DateTimeOffset? RecoveredAt => IsRehearsal || IsRestore ? GateHealthy : CutoverVisible;

    /// <summary>`failover restore`: named tenants restored into the serving site after a failover went on without them.</summary>
    public bool IsRestore => Run.Kind == RunKind.Restore;

    public TimeSpan? Rto => RecoveredAt - Started;

    /// <summary>The worst tenant's data loss: recovery time minus its snapshot's time.</summary>
    /// <remarks>A migration whose final backup was taken during the freeze and verified on the target lost nothing: zero.</remarks>
    public TimeSpan? Rpo => IsMigration && FinalSyncVerified && RecoveredAt is not null ? TimeSpan.Zero
        : RecoveredAt is { } c && Snapshots.Count > 0 ? c - Snapshots.Min(s => s.Time) : null;

    public static string ToolVersion =>
        typeof(IncidentReport).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion ?? "unknown";

    public static IReadOnlyList<ReportFinding> FindingsOf(JsonObject? reportFacts) =>
        reportFacts?["findings"]?.AsArray().Select(f => new ReportFinding((string)f!["policy"]!, (string)f["severity"]!, (string)f["message"]!)).ToList() ?? [];

    private string RtoLabel => IsRehearsal || IsRestore ? "RTO (start to healthy gate)" : "RTO (start to verified cutover)";
    private string RpoLabel => IsRehearsal || IsRestore ? "RPO (gate minus oldest snapshot)" : IsMigration ? "RPO (writes lost: final backup taken during the freeze)" : "RPO (cutover minus oldest snapshot)";

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
            var paused = group.LastOrDefault(r => r.Event == JournalEvent.StepPaused);
            var stepNotes = group.Where(r => r.Event == JournalEvent.Note).Select(r => (string)r.Data!["text"]!)
                .Concat(completed?.Data?["notes"]?.AsArray().Select(n => (string)n!) ?? []).Distinct().ToList();
            var resumedEffects = group.Where(r => r.Event == JournalEvent.EffectStarted && r.Data?["retry"] is not null).Select(r => r.Effect!).ToList();
            if (resumedEffects.Count > 0) stepNotes.Add($"re-applied after an interruption: {string.Join(", ", resumedEffects)}");
            notes.AddRange(stepNotes.Select(n => $"{group.Key}: {n}"));
            steps.Add(completed is not null
                ? new StepWindow(group.Key, start, completed.At, "ok", (string?)completed.Data?["summary"] ?? "", stepNotes)
                : failed is not null && (paused is null || failed.At > paused.At)
                    ? new StepWindow(group.Key, start, failed.At, "failed", (string?)failed.Data?["error"] ?? "", stepNotes)
                    : paused is not null
                        ? new StepWindow(group.Key, start, null, "waiting", (string?)paused.Data?["reason"] ?? "", stepNotes)
                        : new StepWindow(group.Key, start, null, "unfinished", "", stepNotes));
        }
        // A step may have completed more than once (a migration's freeze, after a thaw): its last completion counts.
        var facts = new Dictionary<string, JsonObject?>();
        foreach (var r in Journal.Live(records).Where(r => r.Event == JournalEvent.StepCompleted)) facts[r.Step!] = r.Data?["facts"] as JsonObject;
        var snapshots = new List<RestoredSnapshot>();
        // A migration's data on the target is its final sync's; the first restore only shortened the freeze.
        var finalSync = StepFacts.Of(facts, StepKind.FinalSync, FinalSyncFacts.From);
        IReadOnlyList<TenantSnapshot> chosen = finalSync?.Snapshots.Snapshots ?? StepFacts.Of(facts, StepKind.SelectBackup, ChosenSnapshots.From)?.Snapshots ?? [];
        IReadOnlyDictionary<string, RestoredTenant> restoredTenants = finalSync?.Tenants ?? StepFacts.Of(facts, StepKind.Restore, RestoreFacts.From)?.Tenants ?? new Dictionary<string, RestoredTenant>();
        foreach (var s in chosen)
        {
            var restored = restoredTenants.GetValueOrDefault(s.Tenant);
            // A damaged snapshot replaced at restore time: the data is the fallback's, and so is the RPO.
            var used = restored?.Fallback ?? s;
            snapshots.Add(new RestoredSnapshot(s.Tenant, used.SnapshotId, used.Time, restored?.End, restored?.Result));
        }
        DateTimeOffset? visible = StepFacts.Of(facts, StepKind.Cutover, CutoverFacts.From)?.VisibleAt;
        var end = records.LastOrDefault(r => r.Event is JournalEvent.RunCompleted or JournalEvent.RunAborted);
        // A rehearsal completes its teardown even after a failed step: completed with a failed step is a failure.
        var outcome = records.Any(r => r.Event == JournalEvent.RunAborted) ? "aborted"
            : steps.Any(s => s.Status == "failed") ? "failed"
            : steps.Any(s => s.Status == "waiting") ? "waiting"
            : records.Any(r => r.Event == JournalEvent.RunCompleted) ? "resolved"
            : "in progress";
        if (records.FirstOrDefault(r => r.Event == JournalEvent.DataLossAccepted) is { } accepted)
            notes.Add($"data loss accepted on resume by {(string?)accepted.Data?["by"] ?? "the operator"} at {accepted.At:u} (--accept-data-loss): backups older than the RPO target were allowed");
        else if (run.AcceptDataLoss) notes.Add("run started with --accept-data-loss: backups older than the RPO target were allowed");
        if (run.RestorePoint is not null) notes.Add($"restore point chosen by the operator: {run.RestorePoint}");
        if (ResumedAfterInterruption(records) is var resumes and > 0)
            notes.Add($"the run was resumed {resumes} time(s) after an interruption");
        var gate = records.LastOrDefault(r => r.Event == JournalEvent.StepCompleted && r.Step == "gate")?.At;
        var report = facts.GetValueOrDefault("report");
        var findings = FindingsOf(report);
        return new IncidentReport(run, started, end?.At, outcome, steps, snapshots.OrderBy(s => s.Tenant, StringComparer.Ordinal).ToList(), visible, targets, notes)
        {
            GateHealthy = gate,
            FrozenAt = StepFacts.Of(facts, StepKind.Freeze, FreezeFacts.From)?.FrozenAt,
            FinalSyncVerified = finalSync?.Verified == true,
            Findings = findings,
            Version = (string?)report?["toolVersion"] ?? ToolVersion,
            AcceptedRisks = RisksOf(run, records, notes, findings),
        };
    }

    /// <summary>What the operator chose to live with, each with who and the reason given; the evidence is the note it quotes.</summary>
    private static List<string> RisksOf(RunContext run, IReadOnlyList<JournalRecord> records, IReadOnlyList<string> notes, IReadOnlyList<ReportFinding> findings)
    {
        var risks = new List<string>();
        string Why(string? reason) => reason is { Length: > 0 } r ? $"; reason given: \"{r}\"" : "; no reason given (--reason)";
        var starter = run.Operator ?? run.StartedBy;
        var beyondCount = notes.Count(n => n.Contains("(--accept-data-loss)", StringComparison.Ordinal));
        var beyond = beyondCount == 0 ? "" : $". It applied to {beyondCount} tenant backup(s) older than the RPO target (each listed under noteworthy)";
        if (records.FirstOrDefault(r => r.Event == JournalEvent.DataLossAccepted) is { } accepted)
            risks.Add($"Data loss beyond the RPO target accepted on resume by {(string?)accepted.Data?["operator"] ?? (string?)accepted.Data?["by"] ?? "the operator"} at {T(accepted.At)} (--accept-data-loss){Why((string?)accepted.Data?["reason"])}" +
                      beyond);
        else if (run.AcceptDataLoss)
            risks.Add($"Data loss beyond the RPO target accepted at the start by {starter} (--accept-data-loss){Why(run.Reason)}" +
                      (beyondCount > 0 ? beyond : ". No tenant's backup was in fact older than the target"));
        if (run.RestorePoint is not null)
            risks.Add($"Restored from an older restore point {run.RestorePoint} chosen by {starter} (--restore-point): every change after it is lost{Why(run.Reason)}");
        string LeftOut(IReadOnlyCollection<string> tenants, string by, string? reason) =>
            $"Failed over without {string.Join(", ", tenants)} (--without-tenant, by {by}): {(tenants.Count == 1 ? "it stays" : "they stay")} down until `failover restore --tenant` brings {(tenants.Count == 1 ? "it" : "them")} back{Why(reason)}";
        var atStart = records.FirstOrDefault(r => r.Event == JournalEvent.RunStarted)?.Data?["without"]?.AsArray().Select(t => (string)t!).ToList() ?? [];
        if (atStart.Count > 0) risks.Add(LeftOut(atStart, starter, run.Reason));
        foreach (var r in records.Where(r => r.Event == JournalEvent.TenantsLeftOut))
            risks.Add(LeftOut(r.Data?["tenants"]?.AsArray().Select(t => (string)t!).ToList() ?? [],
                $"{(string?)r.Data?["operator"] ?? (string?)r.Data?["by"] ?? "the operator"} on resume at {T(r.At)}", (string?)r.Data?["reason"]));
        foreach (var f in findings.Where(f => f.Severity == "error"))
            risks.Add($"Went on despite the error-level policy finding `{f.Policy}`: {f.Message}");
        return risks;
    }

    /// <summary>
    /// Resumes by another process than the one before (a crash, a closed terminal). The same process going on
    /// (a rehearsal tearing its copy down after a failed step) is not a resume.
    /// </summary>
    private static int ResumedAfterInterruption(IReadOnlyList<JournalRecord> records)
    {
        string? previous = null;
        var count = 0;
        foreach (var r in records.Where(r => r.Event is JournalEvent.RunStarted or JournalEvent.RunResumed))
        {
            var process = $"{(string?)r.Data?["host"]}/{r.Data?["pid"]}";
            if (r.Event == JournalEvent.RunResumed && process != previous) count++;
            previous = process;
        }
        return count;
    }

    private static string T(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
    private static string D(TimeSpan? t) => t is { } x ? Durations.Format(x) : "n/a";

    private string Judge(TimeSpan? achieved, TimeSpan? target) =>
        achieved is null || target is null ? "" : achieved <= target ? "met" : "MISSED";

    /// <summary>
    /// The one verdict sentence of the run, the same in Markdown and HTML (the parts between ** are bold). It says
    /// whether service is back, against the targets, and what was left out.
    /// </summary>
    public string Verdict => IsRehearsal ? RehearsalVerdict : IsMigration ? MigrationVerdict : IsRestore ? RestoreVerdict : FailoverVerdict + LeftOutText;

    private string RestoreVerdict => Outcome switch
    {
        "resolved" => $"**Restored.** {string.Join(", ", Run.Only)} restored into {Run.Target}, verified against {(Run.Only.Count == 1 ? "its" : "their")} backup manifests, and its health gate passed at {T(GateHealthy ?? Ended ?? Started)}, " +
                      $"{D(Rto)} after the restore started; data up to {T(Snapshots.Count > 0 ? Snapshots.Min(s => s.Time) : Started)} ({D(Rpo)} before the gate).",
        "failed" => $"**Restore failed** at step `{Steps.Last(s => s.Status == "failed").Step}`: {Steps.Last(s => s.Status == "failed").Summary}. Fix the cause and run `failover resume`.",
        "aborted" => "**Aborted** by the operator.",
        _ => "**In progress.** `failover resume` continues it.",
    };

    /// <summary><see cref="Verdict"/> without its emphasis: the sentence a test or an auditor compares.</summary>
    public string VerdictText => Verdict.Replace("**", "");

    private string FailoverVerdict => Outcome switch
    {
        "resolved" => $"**Resolved.** Service answered from {Run.Target} at {T(CutoverVisible ?? Ended ?? Started)}, {D(Rto)} after the failover started (RTO target {D(Targets?.Rto)}: {Judge(Rto, Targets?.Rto)}). " +
                      (Rpo is { } rpo ? $"Data was restored up to {T(Snapshots.Min(s => s.Time))}: up to {D(rpo)} of changes before the cutover were lost (RPO target {D(Targets?.Rpo)}: {Judge(rpo, Targets?.Rpo)})." : ""),
        "failed" => $"**Failed.** The run stopped at step `{Steps.Last(s => s.Status == "failed").Step}`: {Steps.Last(s => s.Status == "failed").Summary}. Nothing after that step was done. Fix the cause and run `failover resume`.",
        "aborted" => "**Aborted** by the operator. Steps after the abort were not run.",
        _ => "**In progress.** The run has not finished; `failover resume` continues it.",
    };

    private string LeftOutText => Run.Without.Count == 0 ? ""
        : $" **Left out: {string.Join(", ", Run.Without)}** (no usable backup): {(Run.Without.Count == 1 ? "it is" : "they are")} not served until `failover restore {string.Join(" ", Run.Without.Select(t => $"--tenant {t}"))}` restores {(Run.Without.Count == 1 ? "it" : "them")}.";

    /// <summary>Who ran the run (and who resumed it), for the report's header.</summary>
    private string RunBy => OperatorIdentity.Describe(Run.Operator, Run.StartedBy, Run.Host);

    /// <summary>The run's scope: what it covered, for an auditor who was not there.</summary>
    private IReadOnlyList<string> Scope
    {
        get
        {
            var list = new List<string>
            {
                IsRehearsal ? $"A rehearsal of losing {Run.Production}: recovered on {Run.Target}, an isolated copy of {Core.Sites.RehearsalCopy.StandbyOf(Run.Target)}."
                : IsMigration ? $"A planned migration of production from {Run.Production} to {Run.Target}."
                : IsRestore ? $"A restore of {string.Join(", ", Run.Only)} into {Run.Target}, the site serving then (left out of a failover); nothing else on it was changed."
                : $"A failover of {Run.Production} to {Run.Target}.",
                $"Tenants restored: {(Snapshots.Count == 0 ? "none" : $"{Snapshots.Count} ({string.Join(", ", Snapshots.Select(s => s.Tenant))})")}" +
                (Run.Without.Count > 0 ? $"; left out: {string.Join(", ", Run.Without)}." : "."),
                $"Steps run: {string.Join(", ", Steps.Select(s => $"{s.Step} ({s.Status})"))}.",
            };
            return list;
        }
    }

    /// <summary>What this run did not prove, said plainly so nobody files it as more than it is.</summary>
    private IReadOnlyList<string> NotTested
    {
        get
        {
            var list = new List<string>();
            if (IsRehearsal)
            {
                list.Add("The DNS cutover and the fencing of production: a rehearsal never touches production or its DNS.");
                list.Add("The backup agent on the recovered site and writes by real clients after the recovery.");
            }
            list.Add("Application traffic beyond the health gate's HTTP, TCP and PostgreSQL probes and the row and checksum proof of each tenant against its backup manifest.");
            if (!IsRehearsal && !IsMigration && !IsRestore) list.Add("Detection: the time before the run started (T+0 is the start of the run) is not counted in the RTO.");
            foreach (var t in Run.Without) list.Add($"Tenant {t}: left out of the run (--without-tenant); not restored.");
            foreach (var s in Steps.Where(s => s.Status is "failed" or "unfinished" or "waiting")) list.Add($"Step {s.Step} did not finish ({s.Status}): what comes after it was not done.");
            return list;
        }
    }

    /// <summary>The follow-ups the report already knows of: each a row of the CAPA table, to be given an owner and a date.</summary>
    private IReadOnlyList<string> FollowUps
    {
        get
        {
            var list = new List<string>();
            if (Judge(Rto, Targets?.Rto) == "MISSED") list.Add($"RTO target missed: {D(Rto)} against {D(Targets?.Rto)}");
            if (Judge(Rpo, Targets?.Rpo) == "MISSED") list.Add($"RPO target missed: {D(Rpo)} against {D(Targets?.Rpo)}");
            foreach (var s in Steps.Where(s => s.Status == "failed")) list.Add($"Step {s.Step} failed: {s.Summary}");
            foreach (var t in Run.Without) list.Add($"Tenant {t} had no usable backup and was left out: restore it (`failover restore --tenant {t}`) and find why its backup was unusable");
            foreach (var r in AcceptedRisks) list.Add($"Accepted risk to review: {r}");
            foreach (var n in Notes.Where(n => n.Contains("could not be fenced", StringComparison.Ordinal))) list.Add(n);
            if (Integrity is { IsBroken: true } i) list.Add($"The journal's hash chain is broken: {i.Sentence}");
            return list;
        }
    }

    private string Sha(string? hex) => hex ?? "n/a";

    /// <summary>The evidence lines: the journal's chain and hashes, how to verify this report, and where its copy is kept.</summary>
    private IReadOnlyList<(string Text, string? Code)> Evidence
    {
        get
        {
            var list = new List<(string, string?)>();
            if (Integrity is { } i)
            {
                list.Add(($"Journal{(JournalLocation is null ? "" : $" {JournalLocation}")}: {i.Records} records, {i.Sentence}.", null));
                list.Add(("Journal chain head (SHA-256 of its last record, which names the hash of each record before it): ", Sha(i.Head)));
                list.Add(("SHA-256 of the journal as a file (each record followed by a newline; `sha256sum journal.jsonl`): ", Sha(i.Digest)));
            }
            else list.Add(("The journal's hash chain was not checked for this rendering.", null));
            list.Add(("This report's SHA-256 is on its last line: the SHA-256 of every byte above that line. Verify it with `failover report --verify FILE` " +
                      "(which also compares the journal), or `head -n -1 FILE | sha256sum`.", null));
            list.Add((VaultCopy ?? "No copy of this report is kept in a vault.", null));
            return list;
        }
    }

    public string Markdown() => ReportSeal.SealMarkdown(MarkdownBody());

    private string MarkdownBody()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# {Title}").AppendLine();
        sb.AppendLine(Verdict).AppendLine();
        sb.AppendLine($"Run `{Run.RunId}`, started {T(Started)} by {RunBy}, failover {Version}.").AppendLine();
        sb.AppendLine("## Scope").AppendLine();
        foreach (var s in Scope) sb.AppendLine($"- {s}");
        sb.AppendLine().AppendLine("### Not tested by this run").AppendLine();
        foreach (var s in NotTested) sb.AppendLine($"- {s}");
        sb.AppendLine();
        sb.AppendLine("## Timeline (UTC)").AppendLine();
        sb.AppendLine("| step | start | end | planned | took | status | what happened |").AppendLine("|---|---|---|---|---|---|---|");
        foreach (var s in Steps)
            sb.AppendLine($"| {s.Step} | {T(s.Start)} | {(s.End is { } e ? T(e) : "-")} | {D(Planned(s.Step))} | {D(s.End - s.Start)} | {s.Status} | {s.Summary.Replace("|", "\\|")} |");
        sb.AppendLine();
        sb.AppendLine("## Recovery against targets").AppendLine();
        sb.AppendLine("| | achieved | target | |").AppendLine("|---|---|---|---|");
        sb.AppendLine($"| {RtoLabel} | {D(Rto)} | {D(Targets?.Rto)} | {Judge(Rto, Targets?.Rto)} |");
        sb.AppendLine($"| {RpoLabel} | {D(Rpo)} | {D(Targets?.Rpo)} | {Judge(Rpo, Targets?.Rpo)} |");
        if (IsMigration) sb.AppendLine($"| Downtime customers saw (write freeze to verified cutover) | {D(FreezeWindow)} | | |");
        sb.AppendLine();
        if (Snapshots.Count > 0)
        {
            sb.AppendLine("## Tenants").AppendLine();
            sb.AppendLine("Each tenant's data is back on the new site at *restored*; customers reach it from the verified cutover on.").AppendLine();
            sb.AppendLine("| tenant | snapshot | taken | data lost (RPO) | restored after | restore and hooks |").AppendLine("|---|---|---|---|---|---|");
            foreach (var s in Snapshots.OrderBy(s => s.RestoredAt ?? DateTimeOffset.MaxValue))
                sb.AppendLine($"| {s.Tenant} | `{s.SnapshotId}` | {T(s.Time)} | {D(RecoveredAt - s.Time)} | {D(s.RestoredAt - Started)} | {(s.Result ?? "").Replace("|", "\\|")} |");
            sb.AppendLine();
        }
        sb.AppendLine("## Accepted risks").AppendLine();
        if (AcceptedRisks.Count == 0) sb.AppendLine("None: no risk was accepted on purpose.");
        foreach (var r in AcceptedRisks) sb.AppendLine($"- {r}");
        sb.AppendLine();
        sb.AppendLine("## Skipped, forced or noteworthy").AppendLine();
        if (Notes.Count == 0) sb.AppendLine("Nothing was skipped or forced.");
        foreach (var n in Notes) sb.AppendLine($"- {n}");
        if (Findings.Count > 0)
        {
            sb.AppendLine().AppendLine("## Policy findings at the time").AppendLine();
            foreach (var f in Findings) sb.AppendLine($"- {f.Severity} `{f.Policy}`: {f.Message}");
        }
        sb.AppendLine().AppendLine("## Follow-ups (CAPA)").AppendLine();
        sb.AppendLine("Corrective and preventive actions: fill in an action, an owner and a due date for each row, and add what the review finds.").AppendLine();
        sb.AppendLine("| # | finding | corrective / preventive action | owner | due | status |").AppendLine("|---|---|---|---|---|---|");
        var row = 0;
        foreach (var f in FollowUps) sb.AppendLine($"| {++row} | {f.Replace("|", "\\|")} | | | | open |");
        for (var blank = 0; blank < 2; blank++) sb.AppendLine($"| {++row} | | | | | |");
        sb.AppendLine().AppendLine("## Evidence").AppendLine();
        foreach (var (text, code) in Evidence) sb.AppendLine($"- {text}{(code is null ? "" : $"`{code}`")}");
        sb.AppendLine();
        return sb.ToString();
    }

    /// <summary>The runbook's estimate of a step when the run started; null for a journal of an earlier version or a step the runbook does not estimate.</summary>
    private TimeSpan? Planned(string step) => Run.Plan?.TryGetValue(step, out var s) == true ? TimeSpan.FromSeconds(s) : null;

    private string Title => IsRehearsal
        ? $"Rehearsal report: {Run.Production} recovered on an isolated copy of {Core.Sites.RehearsalCopy.StandbyOf(Run.Target)}"
        : IsMigration ? $"Migration report: production moved from {Run.Production} to {Run.Target}"
        : IsRestore ? $"Restore report: {string.Join(", ", Run.Only)} restored into {Run.Target}"
        : "Incident report: " + (Run.Kind == RunKind.Failover ? $"{Run.Production} lost: service recovered on {Run.Target}" : $"{RunKinds.Name(Run.Kind)}: {Run.Production} → {Run.Target}");

    private string FreezeText => FrozenAt is { } f && CutoverVisible is { } v
        ? $"Writes were frozen on {Run.Production} from {T(f)} to the verified cutover at {T(v)}: **{D(FreezeWindow)} of downtime** customers saw. " +
          (FinalSyncVerified ? "The final backup was taken during the freeze and verified on the target: RPO 0, no committed write lost." : "")
        : "";

    private string MigrationVerdict => Outcome switch
    {
        "resolved" => $"**Migrated.** Production serves from {Run.Target}. {FreezeText} {Run.Production} was scaled down after the operator confirmed.",
        "waiting" when CutoverVisible is not null => $"**Cut over, waiting for confirmation.** Production serves from {Run.Target}. {FreezeText} {Run.Production} is fenced and kept until `failover migrate --to {Run.Target} --confirm`.",
        "waiting" => $"**Waiting.** {Steps.Last(s => s.Status == "waiting").Summary}",
        "failed" => $"**Failed** at step `{Steps.Last(s => s.Status == "failed").Step}`: {Steps.Last(s => s.Status == "failed").Summary}. " +
                    (CutoverVisible is null ? $"DNS still points at {Run.Production}." : ""),
        "aborted" => "**Aborted** by the operator. Steps after the abort were not run.",
        _ => $"**In progress.** {FreezeText} `failover migrate --to {Run.Target}` or `failover resume` continues it.",
    };

    // A rehearsal run with --keep has no teardown step: its copy is still running when the run completes.
    private string CopyFate => Steps.Any(s => s.Step == "teardown" && s.Status == "ok")
        ? "the copy was torn down."
        : $"the copy {Run.Target} was kept running (--keep): `failover rehearse --teardown` removes it.";

    private string RehearsalVerdict => Outcome switch
    {
        "resolved" => $"**Rehearsal passed.** Every tenant was restored on {Run.Target} and its health gate passed {D(Rto)} after the start " +
                      $"(RTO target {D(Targets?.Rto)}: {Judge(Rto, Targets?.Rto)}); data up to {D(Rpo)} old (RPO target {D(Targets?.Rpo)}: {Judge(Rpo, Targets?.Rpo)}). " +
                      $"Production DNS was not touched; {CopyFate}",
        "failed" => $"**Rehearsal failed** at step `{Steps.First(s => s.Status == "failed").Step}`: {Steps.First(s => s.Status == "failed").Summary}. A real failover would have stopped there.",
        "aborted" => "**Aborted** by the operator.",
        _ => "**In progress.** `failover resume` continues it and tears the copy down.",
    };

    /// <summary>One self-contained page (inline CSS, no scripts, no external assets) to hand to an auditor; its last line is its SHA-256.</summary>
    public string Html() => ReportSeal.SealHtml(HtmlBody());

    private string HtmlBody()
    {
        static string E(string? s) => System.Net.WebUtility.HtmlEncode(s ?? "");
        // The verdict's **bold** parts, encoded first so nothing in a summary can open a tag.
        static string Bold(string s) => System.Text.RegularExpressions.Regex.Replace(E(s), @"\*\*(.+?)\*\*", "<strong>$1</strong>");
        var sb = new StringBuilder();
        sb.AppendLine("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">");
        sb.AppendLine($"<title>{E(Title)}</title>");
        sb.AppendLine("<style>body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}" +
                      "table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}" +
                      "th{background:#f3f3f3}.ok,.met{color:#176317;font-weight:600}.failed,.MISSED{color:#a31515;font-weight:600}" +
                      "code{font-size:12px}.verdict{padding:.6em 1em;border-left:4px solid #888;background:#fafafa}" +
                      "#timeline-chart{margin:.5em 0 1em}.lane{display:flex;align-items:center;height:24px}.lane-name{width:9em;font-size:12px}" +
                      ".track{flex:1;position:relative;height:16px;background:#eef1f4}.bar{position:absolute;top:0;height:16px;min-width:3px}" +
                      "#capa td{height:1.4em}#report-sha256{margin-top:2em;font-size:12px;color:#555;word-break:break-all}" +
                      $".bar-ok{{background:{BarColours["ok"]}}}.bar-failed{{background:{BarColours["failed"]}}}.bar-unfinished{{background:{BarColours["unfinished"]}}}.bar-waiting{{background:{BarColours["waiting"]}}}</style></head><body>");
        sb.AppendLine($"<h1>{E(Title)}</h1>");
        sb.AppendLine($"<p class=\"verdict\" id=\"verdict\">{Bold(Verdict)}</p>");
        sb.AppendLine($"<p>Run <code>{E(Run.RunId)}</code>, started {T(Started)} by <b>{E(RunBy)}</b>; failover {E(Version)}.</p>");
        sb.AppendLine("<h2>Scope</h2><ul id=\"scope\">");
        foreach (var s in Scope) sb.AppendLine($"<li>{E(s)}</li>");
        sb.AppendLine("</ul><h3>Not tested by this run</h3><ul id=\"not-tested\">");
        foreach (var s in NotTested) sb.AppendLine($"<li>{E(s)}</li>");
        sb.AppendLine("</ul>");
        sb.AppendLine("<h2>Timeline (UTC)</h2>");
        AppendChart(sb);
        sb.AppendLine("<table id=\"timeline\"><tr><th>step</th><th>start</th><th>end</th><th>planned</th><th>took</th><th>status</th><th>what happened</th></tr>");
        foreach (var s in Steps)
            sb.AppendLine($"<tr><td>{E(s.Step)}</td><td>{T(s.Start)}</td><td>{(s.End is { } e ? T(e) : "-")}</td><td>{D(Planned(s.Step))}</td><td>{D(s.End - s.Start)}</td><td class=\"{E(s.Status)}\">{E(s.Status)}</td><td>{E(s.Summary)}</td></tr>");
        sb.AppendLine("</table><h2>Recovery against targets</h2><table><tr><th></th><th>achieved</th><th>target</th><th></th></tr>");
        sb.AppendLine($"<tr><td>{E(RtoLabel)}</td><td>{D(Rto)}</td><td>{D(Targets?.Rto)}</td><td class=\"{Judge(Rto, Targets?.Rto)}\">{Judge(Rto, Targets?.Rto)}</td></tr>");
        sb.AppendLine($"<tr><td>{E(RpoLabel)}</td><td>{D(Rpo)}</td><td>{D(Targets?.Rpo)}</td><td class=\"{Judge(Rpo, Targets?.Rpo)}\">{Judge(Rpo, Targets?.Rpo)}</td></tr>");
        if (IsMigration) sb.AppendLine($"<tr><td>Downtime customers saw (write freeze to verified cutover)</td><td>{D(FreezeWindow)}</td><td></td><td></td></tr>");
        sb.AppendLine("</table>");
        if (Snapshots.Count > 0)
        {
            sb.AppendLine("<h2>Tenants</h2><table id=\"tenants\"><tr><th>tenant</th><th>snapshot</th><th>taken</th><th>data age (RPO)</th><th>restored after</th><th>restore and verification</th></tr>");
            foreach (var s in Snapshots.OrderBy(s => s.RestoredAt ?? DateTimeOffset.MaxValue))
                sb.AppendLine($"<tr><td>{E(s.Tenant)}</td><td><code>{E(s.SnapshotId)}</code></td><td>{T(s.Time)}</td><td>{D(RecoveredAt - s.Time)}</td><td>{D(s.RestoredAt - Started)}</td><td>{E(s.Result)}</td></tr>");
            sb.AppendLine("</table>");
        }
        sb.AppendLine("<h2>Accepted risks</h2><ul id=\"accepted-risks\">");
        if (AcceptedRisks.Count == 0) sb.AppendLine("<li>None: no risk was accepted on purpose.</li>");
        foreach (var r in AcceptedRisks) sb.AppendLine($"<li>{E(r)}</li>");
        sb.AppendLine("</ul><h2>Skipped, forced or noteworthy</h2><ul>");
        if (Notes.Count == 0) sb.AppendLine("<li>Nothing was skipped or forced.</li>");
        foreach (var n in Notes) sb.AppendLine($"<li>{E(n)}</li>");
        sb.AppendLine("</ul><h2>Policy findings at the time</h2><ul>");
        if (Findings.Count == 0) sb.AppendLine("<li>None recorded.</li>");
        foreach (var f in Findings) sb.AppendLine($"<li><b>{E(f.Severity)}</b> <code>{E(f.Policy)}</code>: {E(f.Message)}</li>");
        sb.AppendLine("</ul><h2>Follow-ups (CAPA)</h2><p>Corrective and preventive actions: fill in an action, an owner and a due date for each row, and add what the review finds.</p>");
        sb.AppendLine("<table id=\"capa\"><tr><th>#</th><th>finding</th><th>corrective / preventive action</th><th>owner</th><th>due</th><th>status</th></tr>");
        var row = 0;
        foreach (var f in FollowUps) sb.AppendLine($"<tr><td>{++row}</td><td>{E(f)}</td><td></td><td></td><td></td><td>open</td></tr>");
        for (var blank = 0; blank < 2; blank++) sb.AppendLine($"<tr><td>{++row}</td><td></td><td></td><td></td><td></td><td></td></tr>");
        sb.AppendLine("</table><h2>Evidence</h2><ul id=\"evidence\">");
        foreach (var (text, code) in Evidence) sb.AppendLine($"<li>{E(text)}{(code is null ? "" : $"<code>{E(code)}</code>")}</li>");
        // </body></html> are optional in HTML: the page ends with its hash line, which covers every byte above it.
        sb.AppendLine("</ul>");
        return sb.ToString();
    }

    /// <summary>The colour of a step's bar in the HTML timeline, by status.</summary>
    public static readonly IReadOnlyDictionary<string, string> BarColours = new Dictionary<string, string>
    {
        ["ok"] = "#2f6fdb", ["failed"] = "#c62828", ["unfinished"] = "#b7791f", ["waiting"] = "#7b5cc4",
    };

    /// <summary>One lane per step, its bar placed and sized by its window within the run: where the time went, at a glance.</summary>
    private void AppendChart(StringBuilder sb)
    {
        var end = Steps.Select(s => s.End ?? s.Start).Append(Ended ?? Started).Max();
        var total = Math.Max((end - Started).TotalSeconds, 1);
        string Percent(double seconds) => (100 * Math.Clamp(seconds / total, 0, 1)).ToString("0.##", CultureInfo.InvariantCulture);
        sb.AppendLine("<div id=\"timeline-chart\">");
        foreach (var s in Steps)
            sb.AppendLine($"<div class=\"lane\"><span class=\"lane-name\">{System.Net.WebUtility.HtmlEncode(s.Step)}</span><span class=\"track\">" +
                          $"<span class=\"bar bar-{s.Status}\" title=\"{System.Net.WebUtility.HtmlEncode(s.Step)}: {D((s.End ?? end) - s.Start)}\" " +
                          $"style=\"left:{Percent((s.Start - Started).TotalSeconds)}%;width:{Percent(((s.End ?? end) - s.Start).TotalSeconds)}%\"></span></span></div>");
        sb.AppendLine("</div>");
    }

    public string JsonText() => Json.Document("incident-report", new
    {
        run = RunEngine.RunData(Run),
        outcome = Outcome,
        verdict = VerdictText,
        @operator = Run.Operator,
        acceptedRisks = AcceptedRisks,
        leftOut = Run.Without,
        restoredTenants = IsRestore ? Run.Only : null,
        journal = Integrity is null ? null : new
        {
            location = JournalLocation, records = Integrity.Records, chain = Integrity.Status, head = Integrity.Head, sha256 = Integrity.Digest,
            brokenAt = Integrity.BrokenAt, problem = Integrity.Problem,
        },
        vaultCopy = VaultCopy,
        started = Started,
        ended = Ended,
        cutoverVisible = CutoverVisible,
        gateHealthy = GateHealthy,
        frozenAt = FrozenAt,
        freezeWindowSeconds = FreezeWindow?.TotalSeconds,
        finalSyncVerified = IsMigration ? FinalSyncVerified : (bool?)null,
        toolVersion = Version,
        findings = Findings.Select(f => new { policy = f.Policy, severity = f.Severity, message = f.Message }),
        rtoSeconds = Rto?.TotalSeconds,
        rpoSeconds = Rpo?.TotalSeconds,
        targets = Targets is null ? null : new { rtoSeconds = Targets.Rto.TotalSeconds, rpoSeconds = Targets.Rpo.TotalSeconds },
        rtoMet = Rto is { } r && Targets is not null ? r <= Targets.Rto : (bool?)null,
        rpoMet = Rpo is { } p && Targets is not null ? p <= Targets.Rpo : (bool?)null,
        steps = Steps.Select(s => new { step = s.Step, start = s.Start, end = s.End, plannedSeconds = Planned(s.Step)?.TotalSeconds, seconds = (s.End - s.Start)?.TotalSeconds, status = s.Status, summary = s.Summary, notes = s.Notes }),
        snapshots = Snapshots.Select(s => new
        {
            tenant = s.Tenant, snapshotId = s.SnapshotId, time = s.Time, rpoSeconds = (RecoveredAt - s.Time)?.TotalSeconds,
            restoredAt = s.RestoredAt, restoredAfterSeconds = (s.RestoredAt - Started)?.TotalSeconds, result = s.Result,
        }),
        notes = Notes,
    });
}

/// <summary>Writes a report as report.md, report.json and report.html in a run's folder.</summary>
public static class IncidentReportFiles
{
    public static IReadOnlyList<string> Write(string directory, IncidentReport report)
    {
        Directory.CreateDirectory(directory);
        var md = Path.Combine(directory, "report.md");
        var json = Path.Combine(directory, "report.json");
        File.WriteAllText(md, report.Markdown());
        var html = Path.Combine(directory, "report.html");
        File.WriteAllText(json, report.JsonText() + "\n");
        File.WriteAllText(html, report.Html());
        return [md, json, html];
    }
}
