using System.CommandLine;
using Failover.Core.Planning;
using Failover.Core.Policies;
using Failover.Core.Topology;
using Failover.Driver.Engine;
using Failover.Driver.Reports;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Cli;

/// <summary>`failover run`, `resume`, `abort`, `unlock` and `report`: the journaled failover and its controls.</summary>
internal static class RunCommands
{
    private static readonly Option<string?> StateDir = new("--state-dir")
    {
        HelpName = "DIR",
        Description = "Where runs, journals, reports and the lock live (default: .failover beside Pulumi.yaml)",
        Recursive = true,
    };

    public static IEnumerable<Command> Build(App app)
    {
        yield return Run(app);
        yield return Resume(app);
        yield return Abort(app);
        yield return Unlock(app);
        yield return Report(app);
    }

    public static void AddGlobal(RootCommand root) => root.Options.Add(StateDir);

    internal static RunStore Store(ParseResult parse, Topology topology, string cwd)
    {
        if (parse.GetValue(StateDir) is { } dir) return new RunStore(Path.GetFullPath(dir, cwd));
        var project = TopologyLoader.FindProjectFile(topology.StacksDirectory);
        return new RunStore(Path.Combine(project is null ? topology.StacksDirectory : Path.GetDirectoryName(project)!, ".failover"));
    }

    private static StackSpec Target(Topology topology, string name)
    {
        var target = topology.Find(name) ?? throw new UsageException(
            $"unknown stack '{name}'{NameSuggestion.DidYouMean(name, topology.Stacks.Select(s => s.Name))}; standbys: {string.Join(", ", topology.Standbys.Select(s => s.Name).DefaultIfEmpty("(none)"))}");
        if (target.Role is not Role.Standby)
            throw new UsageException($"'{name}' is a {target.Role.ToString().ToLowerInvariant()} stack; a failover goes to a standby: " +
                string.Join(", ", topology.Standbys.Select(s => s.Name).DefaultIfEmpty("(none)")));
        return target;
    }

    private static Command Run(App app)
    {
        var to = new Option<string>("--to") { HelpName = "STACK", Description = "The standby stack to recover on", Required = true };
        var dryRun = new Option<bool>("--dry-run") { Description = "Show what would be done, change nothing" };
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not ask for confirmation (scripts)" };
        var restorePoint = new Option<string?>("--restore-point")
        {
            HelpName = "TIME|SNAPSHOT",
            Description = "Restore from backups at or before this time (2026-11-21T02:00:00Z) or this snapshot id: after ransomware the latest backup may be encrypted",
        };
        var acceptLoss = new Option<bool>("--accept-data-loss") { Description = "Allow backups older than the RPO target (the report says so)" };
        var json = App.JsonOption("Print the incident report (or the dry run's steps) as JSON on stdout; progress goes to stderr");
        var command = new Command("run",
            "Fail over: recover the production site on a standby from the latest verified external backup, prove it\n" +
            "healthy, fence the old primary, move DNS and verify it, and write the incident report. Every step is\n" +
            "journaled: after a crash or a closed terminal, `failover resume` continues without repeating anything.\n\n" +
            "Examples:\n" +
            "  failover run --to standby-hel1 --dry-run\n" +
            "  failover run --to standby-hel1\n" +
            "  failover run --to standby-aws-fra --yes --restore-point 2026-11-21T02:00:00Z\n\n" +
            "Exit codes: 0 recovered, 2 usage, 3 invalid stack files, 4 a step failed (see the report; fix and resume),\n" +
            "5 another run holds the lock, 130 interrupted (resume it).")
        {
            to, dryRun, yes, restorePoint, acceptLoss, json,
        };
        command.SetAction((parse, ct) => app.ExecuteAsync(parse, async (topology, log) =>
        {
            var target = Target(topology, parse.GetValue(to)!);
            var store = Store(parse, topology, app.WorkingDirectory);
            // A failover in progress is named by its lock (host, pid, start): say who, not only that a run is unfinished.
            if (File.Exists(store.LockPath))
            {
                var owner = RunLock.Inspect(store.LockPath);
                throw new LockHeldException(store.LockPath, owner, owner is not null && RunLock.IsStale(owner));
            }
            if (store.Current is { } unfinished)
            {
                var records = Journal.Read(store.JournalPath(unfinished));
                // At 3 a.m. the operator needs the way out, not a resume that waits again.
                if (RunEngine.ContextOf(records) is { Kind: MigrateCommand.Kind } migration && MigrationSteps.AwaitsConfirmation(records))
                    throw new UsageException($"migration {unfinished} cut over to {migration.Target} and waits for `failover migrate --to {migration.Target} --confirm`; " +
                        "confirm it, or end it with `failover abort` (both sites stay as they are), then run the failover");
                throw new UsageException($"run {unfinished} has not finished; continue it with `failover resume`, or stop it for good with `failover abort`");
            }

            var findings = PolicyBook.Evaluate(topology, target).Where(f => f.Severity == Severity.Error).ToList();
            foreach (var f in findings) app.Error($"warning: policy {f.PolicyId}: {f.Message} (the failover goes on; fix it afterwards)");

            var now = app.Time.GetUtcNow();
            var runContext = new RunContext(RunStore.NewRunId(now), "failover", topology.Production.Name, target.Name,
                parse.GetValue(restorePoint), parse.GetValue(acceptLoss), System.Environment.UserName, System.Environment.MachineName);
            if (parse.GetValue(dryRun))
            {
                var plan = Planner.Plan(topology, target);
                var steps = FailoverSteps.For(topology, target,
                    new Lazy<RunPorts>(() => throw new InvalidOperationException("a dry run touches no provider")), store.RunDirectory(runContext.RunId));
                app.Print($"Dry run: nothing will be changed.\nFailover of {topology.Production.Name} to {target.Name} would run:\n");
                foreach (var (step, estimate) in steps.Zip(plan.Steps))
                    app.Print($"  {estimate.Order}. {StepContext.Name(step.Kind),-14} ~{Durations.Format(estimate.Estimate),-8} {step.Describe(runContext)}\n");
                app.Print($"Estimated RTO {Durations.Format(plan.Rto.Value)} (target {Durations.Format(plan.Rto.Target)}).\n");
                if (app.JsonOutput)
                    app.Document(Json.Document("dry-run", new
                    {
                        verb = "run", production = topology.Production.Name, target = target.Name,
                        steps = steps.Zip(plan.Steps).Select(p => new { step = StepContext.Name(p.First.Kind), estimateSeconds = (int)p.Second.Estimate.TotalSeconds, what = p.First.Describe(runContext) }),
                        rtoSeconds = (int)plan.Rto.Value.TotalSeconds,
                    }));
                return ExitCodes.Ok;
            }
            if (!parse.GetValue(yes) && !app.Confirm(
                    $"This fails {topology.Production.Name} over to {target.Name}: it provisions servers, restores every tenant, fences " +
                    $"{topology.Production.Name} and moves DNS.\nType the target stack name to go on: ", target.Name))
            {
                app.Error("not confirmed: nothing was changed (use --yes in scripts)");
                return ExitCodes.Usage;
            }
            return await Execute(app, topology, target, store, runContext, log, ct);
        }));
        return command;
    }

    internal static async Task<int> Execute(App app, Topology topology, StackSpec target, RunStore store, RunContext run, ILogger log, CancellationToken ct)
    {
        // The verb an operator typed: a failover's kind is "failover" but its command is `failover run`.
        var command = $"failover {(run.Kind == "failover" ? "run" : run.Kind)} --to {run.Target}";
        var dir = store.RunDirectory(run.RunId);
        var ports = new Lazy<RunPorts>(() => app.Ports(Environment(app, topology, target, store, log)));
        var steps = FailoverSteps.For(topology, target, ports, dir);
        CredentialCheck.Require(topology, target, CredentialCheck.Remaining(steps, store, run.RunId), app.Variable, ProjectDirectory(topology));
        using var runLock = Lock(store, run, command);
        store.SetCurrent(run.RunId);
        using var journal = Journal.Open(store.JournalPath(run.RunId));
        var engine = new RunEngine(steps, app.Time, log.ForContext("Stack", run.Target), line => app.Print(line + "\n"), app.Display);
        app.Print($"Run {run.RunId}: failover of {run.Production} to {run.Target} (journal {journal.Path})\n");
        var result = await engine.RunAsync(journal, run, ct);
        var report = Finish(app, topology, store, run, result, journal);
        switch (result.Outcome)
        {
            case RunOutcome.Completed:
                app.Print($"Recovered on {run.Target}: RTO {Fmt(report.Rto)}, RPO {Fmt(report.Rpo)} (targets {Durations.Format(topology.Targets.Rto)} / {Durations.Format(topology.Targets.Rpo)}).\n");
                return ExitCodes.Ok;
            case RunOutcome.Interrupted:
                app.Error("interrupted: run `failover resume` to continue where it stopped");
                return ExitCodes.Interrupted;
            case RunOutcome.Aborted:
                app.Error($"error: {result.Error}");
                return ExitCodes.Usage;
            default:
                app.Error($"error: step {StepContext.Name(result.FailedStep!.Value)} failed: {result.Error}");
                app.Error("Fix the cause, then `failover resume` continues from that step (finished steps are not repeated).");
                return ExitCodes.Failed;
        }
    }

    /// <summary>After an engine invocation: the report rewritten from the journal, the run closed when it ended, the report's path printed.</summary>
    internal static IncidentReport Finish(App app, Topology topology, RunStore store, RunContext run, RunResult result, Journal journal)
    {
        var dir = store.RunDirectory(run.RunId);
        var report = IncidentReport.FromJournal(journal.Records, topology.Targets);
        IncidentReportFiles.Write(dir, report);
        if (result.Outcome is RunOutcome.Completed or RunOutcome.Aborted) store.ClearCurrent();
        app.Print($"\nReport: {Path.Combine(dir, "report.md")}\n");
        if (app.JsonOutput) app.Document(report.JsonText());
        return report;
    }

    internal static RunEnvironment Environment(App app, Topology topology, StackSpec target, RunStore store, ILogger log) =>
        new(topology, target, store, ProjectDirectory(topology), app.Secrets, log, app.Time, line => app.Print(line + "\n"), app.Variable, app.PulumiEnvironment)
        {
            Transfer = app.Display.Transfer,
        };

    internal static string ProjectDirectory(Topology topology) =>
        TopologyLoader.FindProjectFile(topology.StacksDirectory) is { } p ? Path.GetDirectoryName(p)! : topology.StacksDirectory;

    private static string HistoryText(IReadOnlyList<RehearsalEntry> entries)
    {
        if (entries.Count == 0) return "No rehearsal has finished yet (`failover rehearse --site STANDBY`).\n";
        var sb = new System.Text.StringBuilder($"  {"run",-24} {"site",-18} {"started (UTC)",-20} {"outcome",-9} {"RTO",-8} {"RPO",-8} report\n");
        foreach (var e in entries)
            sb.Append($"  {e.RunId,-24} {e.Site,-18} {e.Started.UtcDateTime:yyyy-MM-dd HH:mm:ss} {e.Outcome,-9} {Fmt(Seconds(e.RtoSeconds)),-8} {Fmt(Seconds(e.RpoSeconds)),-8} {e.Report}\n");
        return sb.ToString();
    }

    private static TimeSpan? Seconds(double? s) => s is { } x ? TimeSpan.FromSeconds(x) : null;

    private static string Fmt(TimeSpan? t) => t is { } x ? Durations.Format(x) : "n/a";

    private static RunLock Lock(RunStore store, RunContext run, string command) =>
        RunLock.Acquire(store.LockPath, new LockOwner(System.Environment.MachineName, System.Environment.ProcessId, DateTimeOffset.UtcNow, run.RunId, command));

    private static Command Resume(App app)
    {
        var acceptLoss = new Option<bool>("--accept-data-loss")
        {
            Description = "Allow backups older than the RPO target from here on (journaled; the report says who accepted it and when)",
        };
        var json = App.JsonOption("Print the incident report as JSON on stdout; progress goes to stderr");
        var command = new Command("resume",
            "Continue the unfinished run from its journal: finished steps and side effects are not repeated. A migration\n" +
            "exits as `failover migrate` does: 6 while the old DNS TTL has not passed, 7 once cut over and waiting for\n" +
            "`failover migrate --to STACK --confirm`. A run stopped by the RPO rule goes on with --accept-data-loss.\n\n" +
            "Examples:\n  failover resume\n  failover resume --accept-data-loss\n  failover resume --json > report.json")
        {
            acceptLoss, json,
        };
        command.SetAction((parse, ct) => app.ExecuteAsync(parse, async (topology, log) =>
        {
            var store = Store(parse, topology, app.WorkingDirectory);
            var id = store.Current ?? throw new UsageException("there is no unfinished run to resume (start one with `failover run --to STACK`)");
            var records = Journal.Read(store.JournalPath(id));
            var run = RunEngine.ContextOf(records)
                ?? throw new UsageException($"the journal of run {id} has no start record; abort it with `failover abort`");
            // Killed after its completion line, before the pointer was cleared: nothing is left to do, and nothing is rewritten.
            if (records.LastOrDefault(r => r.Event == JournalEvent.RunCompleted) is { } completed)
            {
                store.ClearCurrent();
                app.Print($"Run {id} already completed at {completed.At:u}; nothing to resume (its journal and report stay as they are: {Path.Combine(store.RunDirectory(id), "report.md")}).\n");
                return ExitCodes.Ok;
            }
            if (parse.GetValue(acceptLoss) && !run.AcceptDataLoss)
            {
                using (Lock(store, run, "failover resume --accept-data-loss"))
                using (var journal = Journal.Open(store.JournalPath(id)))
                    journal.Append(new JournalRecord(JournalEvent.DataLossAccepted, app.Time.GetUtcNow(), Data: new() { ["by"] = System.Environment.UserName }));
                log.Warning("Run {RunId}: data loss beyond the RPO target accepted by {User}", id, System.Environment.UserName);
                run = run with { AcceptDataLoss = true };
            }
            if (run.Kind == "rehearsal") return await RehearseCommand.ResumeAsync(app, topology, store, run, log, ct);
            if (run.Kind == MigrateCommand.Kind) return await MigrateCommand.ResumeAsync(app, topology, store, run, log, ct);
            var target = Target(topology, run.Target);
            return await Execute(app, topology, target, store, run, log, ct);
        }));
        return command;
    }

    private static Command Abort(App app)
    {
        var command = new Command("abort",
            "Stop the unfinished run for good: it is marked aborted in its journal, its report is written, and a new\n" +
            "run can start. What was already done (servers, restores) stays as it is and is listed in the report.\n\n" +
            "Examples:\n  failover abort");
        command.SetAction((parse, ct) => app.ExecuteAsync(parse, async (topology, log) =>
        {
            var store = Store(parse, topology, app.WorkingDirectory);
            var id = store.Current ?? throw new UsageException("there is no unfinished run to abort");
            var run = RunEngine.ContextOf(Journal.Read(store.JournalPath(id)));
            using (Lock(store, run ?? new RunContext(id, "failover", "?", "?", null, false, System.Environment.UserName, System.Environment.MachineName), "failover abort"))
            using (var journal = Journal.Open(store.JournalPath(id)))
            {
                // A migration killed during its freeze left production refusing writes: give them back before giving up.
                if (run?.Kind == MigrateCommand.Kind && !await MigrateCommand.ThawBeforeAbortAsync(app, topology, store, run, journal, log))
                {
                    app.Error($"not aborted: run {id} stays open so that its source is thawed; fix the cause and run `failover abort` again");
                    return ExitCodes.Failed;
                }
                journal.Append(new JournalRecord(JournalEvent.RunAborted, app.Time.GetUtcNow(), Data: new() { ["by"] = System.Environment.UserName }));
                if (run is not null) IncidentReportFiles.Write(store.RunDirectory(id), IncidentReport.FromJournal(journal.Records, topology.Targets));
            }
            store.ClearCurrent();
            log.Information("Run {RunId} aborted", id);
            app.Print($"Run {id} aborted. Its report: {Path.Combine(store.RunDirectory(id), "report.md")}\n");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Unlock(App app)
    {
        var force = new Option<bool>("--force") { Description = "Break the lock even if its owner may still be running (only when you are sure)" };
        var command = new Command("unlock",
            "Break a stale run lock: one whose process no longer exists (after a crash or a reboot). A lock held by a\n" +
            "running process, or taken on another host, needs --force. Stale restic locks in the directory vaults\n" +
            "(left by a restic killed with its run) are removed too, each named.\n\n" +
            "Examples:\n  failover unlock\n  failover unlock --force")
        {
            force,
        };
        command.SetAction((parse, ct) => app.ExecuteAsync(parse, async (topology, log) =>
        {
            var store = Store(parse, topology, app.WorkingDirectory);
            if (!File.Exists(store.LockPath)) app.Print("No run lock is held.\n");
            else
            {
                var owner = RunLock.Inspect(store.LockPath);
                if (owner is not null && !RunLock.IsStale(owner) && !parse.GetValue(force))
                    throw new LockHeldException(store.LockPath, owner, stale: false);
                RunLock.Break(store.LockPath);
                log.Warning("Lock broken; it was held by {Owner}", owner?.ToString() ?? "(unreadable)");
                app.Print($"Lock broken{(owner is null ? "" : $" (was: run {owner.RunId}, pid {owner.Pid} on {owner.Host})")}. `failover resume` continues the run.\n");
            }
            await RemoveStaleResticLocksAsync(app, topology, log, ct);
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>
    /// restic's stale locks (taken on this host by a process that is gone) in every directory vault the tool can open:
    /// the ones a restic killed with its run left behind. restic's own `unlock` removes exactly those; live locks stay.
    /// </summary>
    private static async Task RemoveStaleResticLocksAsync(App app, Topology topology, ILogger log, CancellationToken ct)
    {
        var project = ProjectDirectory(topology);
        foreach (var stack in topology.Stacks.Where(s => s.Vault is { Kind: VaultKind.Directory, Path: not null }))
        {
            var path = Path.GetFullPath(stack.Vault!.Path!, project);
            if (!File.Exists(path + ".password") || !File.Exists(Path.Combine(path, "config"))) continue;
            var repository = new Backup.ResticRepository(new Backup.ResticSettings(path, File.ReadAllText(path + ".password").Trim()), app.Secrets, log);
            var removed = await repository.RemoveStaleLocksAsync(app.Time, ct);
            foreach (var l in removed)
            {
                log.Warning("Removed stale restic lock in {Vault}: {Lock}", stack.Name, l.ToString());
                app.Print($"Removed a stale restic lock in vault {stack.Name}: {l} (its process is gone).\n");
            }
        }
    }

    private static Command Report(App app)
    {
        var runId = new Option<string?>("--run") { HelpName = "RUN_ID", Description = "The run id (default: the newest run)" };
        var json = App.JsonOption("Print the report as JSON");
        var history = new Option<bool>("--history") { Description = "List the finished rehearsals (.failover/rehearsals.jsonl)" };
        var command = new Command("report",
            "Print a run's incident report (timeline, snapshots, RTO and RPO achieved), rebuilt from its journal,\n" +
            "or with --history the finished rehearsals.\n\n" +
            "Examples:\n  failover report\n  failover report --run 20261122-031500-a1b2c3 --json\n  failover report --history")
        {
            runId, json, history,
        };
        command.SetAction((parse, ct) => app.ExecuteAsync(parse, (topology, log) =>
        {
            var store = Store(parse, topology, app.WorkingDirectory);
            if (parse.GetValue(history))
            {
                var entries = new RehearsalHistory(RehearseCommand.HistoryPath(store)).Read();
                if (parse.GetValue(json)) app.Document(Json.Document("rehearsal-history", new { rehearsals = entries }));
                else app.Print(HistoryText(entries));
                return Task.FromResult(ExitCodes.Ok);
            }
            var id = parse.GetValue(runId) ?? store.Runs().FirstOrDefault() ?? throw new UsageException("no run has been recorded yet");
            var path = store.JournalPath(id);
            if (!File.Exists(path)) throw new UsageException($"no run {id} in {store.Root} (runs: {string.Join(", ", store.Runs().DefaultIfEmpty("none"))})");
            var report = IncidentReport.FromJournal(Journal.Read(path), topology.Targets);
            if (parse.GetValue(json)) app.Document(report.JsonText());
            else app.Print(report.Markdown());
            return Task.FromResult(ExitCodes.Ok);
        }));
        return command;
    }
}
