using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Failover.Core.Planning;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Composition;
using Failover.Driver.Engine;
using Failover.Driver.Local;
using Failover.Driver.Reports;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Cli;

/// <summary>
/// `failover rehearse`: a failover on an isolated copy of a standby, local or a `&lt;standby&gt;-rehearsal` Pulumi stack
/// (select-backup, provision, restore, gate, report, teardown), never fencing production nor touching DNS, with an
/// evidence report and a history line.
/// </summary>
internal static class RehearseCommand
{
    private const string SiteFile = "rehearsal.json";

    public static Command Build(App app)
    {
        var site = new Option<string?>("--site") { HelpName = "STACK", Description = "The standby to rehearse on (an isolated copy of it is used)" };
        var keep = new Option<bool>("--keep") { Description = "Leave the copy running to look at; remove it later with `failover rehearse --teardown`" };
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not ask for confirmation (scripts, timers)" };
        var address = new Option<string?>("--address") { HelpName = "ADDRESS", Description = "Local standbys only: loopback address of the copy (default: the standby's last octet + 100)" };
        var json = App.JsonOption("Print the evidence report as JSON on stdout; progress goes to stderr");
        var teardown = new Option<bool>("--teardown") { Description = "Only remove rehearsal copies left running (--keep, or an interrupted rehearsal)" };
        var command = new Command("rehearse",
            "Rehearse a failover on an isolated copy of a standby: the latest verified backups are restored on the copy,\n" +
            "every tenant verified and the health gate run, then the copy is torn down, also after a failed step or an\n" +
            "interruption. Production is not fenced and DNS is not touched. A local standby's copy runs on its own loopback\n" +
            "address; a cloud standby's is the Pulumi stack STACK-rehearsal, created from the standby's config (role\n" +
            "rehearsal, mode mvd, its own resource names) and removed with `pulumi destroy` and `pulumi stack rm`.\n" +
            "The evidence report (report.md, report.json, report.html) is written in the run folder and one line is\n" +
            "appended to the rehearsal history (`failover report --history`): .failover/rehearsals.jsonl, or with an S3\n" +
            "state backend the shared run state, where the journal and reports are too, for every operator.\n\n" +
            "Examples:\n" +
            "  failover rehearse --site local-standby --yes\n" +
            "  failover rehearse --site standby-hel1 --yes      (cloud: the stack standby-hel1-rehearsal)\n" +
            "  failover rehearse --site local-standby --keep\n" +
            "  failover rehearse --teardown                      (remove kept or interrupted copies)\n\n" +
            "Exit codes: 0 rehearsal passed, 2 usage, 3 invalid stack files, 4 a step or the teardown failed (see the report),\n" +
            "5 another run holds the lock, 130 interrupted (`failover resume` tears the copy down).")
        {
            site, keep, yes, address, teardown, json,
        };
        command.SetAction((parse, ct) => app.ExecuteAsync(parse, async (topology, log) =>
        {
            var store = RunCommands.Store(app, parse, topology);
            if (parse.GetValue(teardown)) return await TeardownLeftoversAsync(app, topology, store, log);
            var standby = Standby(topology, parse.GetValue(site) ?? throw new UsageException("--site is required: the standby to rehearse on"));
            if (store.Current is { } unfinished)
            {
                // A running command is named by its lock; only this rehearsal's own stale lock is left for its teardown to break.
                if (store.LockHolder is not { } holder || holder.RunId != unfinished || !RunLock.IsStale(holder)) store.ThrowIfLocked();
                var context = RunEngine.ContextOf(store.ReadJournal(unfinished));
                if (context?.Kind != RunKind.Rehearsal)
                    throw new UsageException($"run {unfinished} has not finished; continue it with `failover resume`, or stop it with `failover abort`");
                app.Print($"Rehearsal {unfinished} was interrupted: tearing its copy down first.\n");
                var code = await TeardownAsync(app, topology, store, context, log);
                if (code != ExitCodes.Ok) return code;
            }
            await RunCommands.GuardAsync(app, topology, log, ct);
            if (!RunHost.Confirmed(app, parse.GetValue(yes),
                    $"This rehearses a failover on a copy of {standby.Name}: it restores every tenant there. Production and DNS are not touched.\n" +
                    $"Type the standby name to go on: ", standby.Name))
                return ExitCodes.Usage;
            var copy = CopyStack(topology, standby, parse.GetValue(address));
            var run = RunCommands.Stamp(app, parse, topology, standby, new RunContext(RunStore.NewRunId(app.Time.GetUtcNow()), RunKind.Rehearsal, topology.Production.Name, copy.Name,
                null, false, Environment.UserName, OperatorHost.Name));
            store.WriteRunFile(run.RunId, SiteFile,
                new JsonObject { ["standby"] = standby.Name, ["address"] = copy.Site.Address, ["keep"] = parse.GetValue(keep) }.ToJsonString());
            return await ExecuteAsync(app, topology, CopyOf(app, topology, store, run, standby, copy, log), store, run, parse.GetValue(keep), log, ct);
        }));
        return command;
    }

    private static StackSpec Standby(Topology topology, string name)
    {
        var standby = topology.Find(name) ?? throw new UsageException(
            $"unknown stack '{name}'{NameSuggestion.DidYouMean(name, topology.Stacks.Select(s => s.Name))}; standbys: {string.Join(", ", topology.Standbys.Select(s => s.Name).DefaultIfEmpty("(none)"))}");
        if (standby.Role is not Role.Standby) throw new UsageException($"'{name}' is not a standby; a rehearsal copies a standby");
        return standby;
    }

    /// <summary>The copy's stack: a local standby's on its own loopback address, a cloud standby's as `&lt;standby&gt;-rehearsal`.</summary>
    private static StackSpec CopyStack(Topology topology, StackSpec standby, string? address)
    {
        if (standby.Site.Provider == Provider.Local) return RehearsalSteps.LocalCopy(topology, standby, address);
        if (address is not null)
            throw new UsageException($"--address is for local standbys; {standby.Name} is on {standby.Site.Provider.ToString().ToLowerInvariant()} and its copy gets its own addresses from the provider");
        return RehearsalCopy.Of(topology, standby);
    }

    private static IRehearsalCopy CopyOf(App app, Topology topology, RunStore store, RunContext run, StackSpec standby, StackSpec copy, ILogger log) =>
        RunPortsFactory.RehearsalCopyOf(RehearsalEnvironment(app, topology, copy, store, log), standby, StateDirectory(store, run.RunId));

    private static RunEnvironment RehearsalEnvironment(App app, Topology topology, StackSpec copy, RunStore store, ILogger log) =>
        RunCommands.Environment(app, topology, copy, store, log) with { TouchesDns = false };

    /// <summary>Continues an interrupted rehearsal from its journal (`failover resume`): the remaining steps, then the teardown.</summary>
    internal static Task<int> ResumeAsync(App app, Topology topology, RunStore store, RunContext run, ILogger log, CancellationToken ct)
    {
        var (copy, keep) = Saved(app, topology, store, run, log);
        return ExecuteAsync(app, topology, copy, store, run, keep, log, ct);
    }

    /// <summary>The copy of a started rehearsal, from what its run folder saved (standby, local address, --keep).</summary>
    private static (IRehearsalCopy Copy, bool Keep) Saved(App app, Topology topology, RunStore store, RunContext run, ILogger log)
    {
        var saved = store.ReadRunFile(run.RunId, SiteFile) is { } text ? JsonNode.Parse(text) : null;
        var standby = topology.Find((string?)saved?["standby"] ?? RehearsalCopy.StandbyOf(run.Target))
            ?? throw new UsageException($"the standby of rehearsal {run.RunId} is no longer in the stack files");
        var copy = CopyStack(topology, standby, (string?)saved?["address"]);
        return (CopyOf(app, topology, store, run, standby, copy, log), (bool?)saved?["keep"] ?? false);
    }

    /// <summary>A local copy's PostgreSQL and files: short paths, as PostgreSQL's socket path is limited.</summary>
    private static string StateDirectory(RunStore store, string runId) => Path.Combine(store.Root, "rehearsals", runId);

    private static Task<int> ExecuteAsync(App app, Topology topology, IRehearsalCopy copy, RunStore store, RunContext run, bool keep, ILogger log, CancellationToken ct)
    {
        var dir = store.RunDirectory(run.RunId);
        var ports = new Deferred<RehearsalPorts>(async x => (await app.Ports(RehearsalEnvironment(app, topology, copy.Stack, store, log), x)).ForRehearsal(copy));
        var steps = RehearsalSteps.For(topology, copy, ports, dir).Where(s => !keep || s.Kind != StepKind.Teardown).ToList();
        return RunHost.RunAsync(app, topology, store, new HostedRun(run, copy.Stack, steps, $"failover rehearse ({run.RunId})",
            journal => $"Rehearsal {run.RunId}: {topology.Production.Name} recovered on {copy.Stack.Name} on {copy.Where}; production and DNS are not touched (journal {journal})",
            ending => Exit(app, topology, copy, keep, ending))
        {
            // A rehearsal never touches DNS: what its steps read is the vault (and the provider, through Pulumi).
            CredentialSteps = [StepKind.SelectBackup, StepKind.Provision, StepKind.Restore, StepKind.Teardown],
            ChangesStackFiles = false,
            Lock = () => Lock(store, run, log),
            // Teardown always: a failed or interrupted rehearsal must not leave its copy running.
            Compensation = keep ? null : RehearsalSteps.Compensation(copy),
            AfterReport = (journal, report) =>
            {
                if (TornDown(journal.Records)) RemoveEmptyStateDirectory(store, run.RunId);
                if (!journal.Records.Any(r => r.Event == JournalEvent.RunCompleted)) return;
                store.History.Append(new RehearsalEntry(run.RunId, RehearsalCopy.StandbyOf(copy.Stack.Name), report.Started,
                    report.Ended ?? app.Time.GetUtcNow(), report.Outcome, report.Rto?.TotalSeconds, report.Rpo?.TotalSeconds,
                    store.State.IsShared ? $"{store.State.Location}/runs/{run.RunId}/report.html" : Path.Combine(dir, "report.html")));
                log.ForContext("Stack", copy.Stack.Name).Information("Rehearsal {RunId} finished: {Outcome}", run.RunId, report.Outcome);
            },
            ReportLine = $"Evidence: {Path.Combine(dir, "report.html")} (and report.md, report.json)",
        }, log, ct);
    }

    /// <summary>The rehearsal's exit-code table: passed, or failed or interrupted with the copy torn down or not.</summary>
    private static int Exit(App app, Topology topology, IRehearsalCopy copy, bool keep, RunEnding ending)
    {
        var (result, report) = (ending.Result, ending.Report);
        var tornDown = TornDown(ending.Records);
        if (keep) app.Print($"Kept: {copy.Stack.Name} is left running on {copy.Where}. Remove it with: {copy.RemoveCommand}\n");
        if (report.Outcome == "resolved")
        {
            app.Print($"Rehearsal passed: RTO {Fmt(report.Rto)}, RPO {Fmt(report.Rpo)} (targets {Durations.Format(topology.Targets.Rto)} / {Durations.Format(topology.Targets.Rpo)}).\n");
            return ExitCodes.Ok;
        }
        if (!keep && !tornDown)
            app.Error($"the copy {copy.Stack.Name} could not be torn down: fix the cause, then `failover rehearse --teardown` (or `failover resume`) removes it");
        if (result.Outcome == RunOutcome.Interrupted)
        {
            app.Error(tornDown ? "interrupted: the copy was torn down; start a new rehearsal" : "interrupted");
            return ExitCodes.Interrupted;
        }
        // No failed step when this invocation only finished the teardown a stopped process began.
        app.Error(result.FailedStep is { } f ? $"rehearsal failed at {StepContext.Name(f)}: {result.Error}" : $"rehearsal stopped: {result.Error}");
        return ExitCodes.Failed;
    }

    private static bool TornDown(IReadOnlyList<JournalRecord> records) =>
        records.Any(r => r.Event == JournalEvent.StepCompleted && r.Step == StepContext.Name(StepKind.Teardown));

    /// <summary>The local copy's folder once torn down (opening the copy again recreates it empty), and their parent when it is empty.</summary>
    private static void RemoveEmptyStateDirectory(RunStore store, string runId)
    {
        foreach (var folder in new[] { StateDirectory(store, runId), Path.Combine(store.Root, "rehearsals") })
            if (Directory.Exists(folder) && !Directory.EnumerateFileSystemEntries(folder).Any()) Directory.Delete(folder);
    }

    /// <summary>
    /// Tears down an interrupted or kept rehearsal without running the rest of it, through the run host like the rehearsal
    /// itself: its lock, journal, report rewritten and copied into the vault.
    /// </summary>
    private static Task<int> TeardownAsync(App app, Topology topology, RunStore store, RunContext run, ILogger log)
    {
        var (copy, _) = Saved(app, topology, store, run, log);
        return RunHost.RunAsync(app, topology, store, new HostedRun(run, copy.Stack, [RehearsalSteps.Teardown(copy)], $"failover rehearse --teardown ({run.RunId})",
            journal => $"Teardown of rehearsal {run.RunId}: removing {copy.Stack.Name} on {copy.Where} (journal {journal})",
            ending =>
            {
                if (ending.Result.Outcome == RunOutcome.Completed) return ExitCodes.Ok;
                app.Error($"the copy {copy.Stack.Name} of rehearsal {run.RunId} could not be removed: {ending.Result.Error}. Fix the cause and run `failover rehearse --teardown` again.");
                return ExitCodes.Failed;
            })
        {
            CredentialSteps = [StepKind.Teardown],
            ChangesStackFiles = false,
            Lock = () => Lock(store, run, log),
            AfterReport = (_, _) => RemoveEmptyStateDirectory(store, run.RunId),
            ReportLine = $"Evidence: {Path.Combine(store.RunDirectory(run.RunId), "report.html")} (and report.md, report.json)",
            // A kept copy is not the current run (an interrupted one is, until its teardown held); a rehearsal run after it prints the document.
            Aside = true,
        }, log, CancellationToken.None);
    }

    /// <summary>
    /// `failover abort` of an interrupted rehearsal: its copy is torn down first, as a rehearsal must not leave a copy
    /// running, and nothing removes an aborted one's later (the engine takes no step of an aborted run, so neither can
    /// `rehearse --teardown`). Null: go on and abort; otherwise the exit code of a teardown that failed (the run stays open).
    /// </summary>
    internal static async Task<int?> TearDownBeforeAbortAsync(App app, Topology topology, RunStore store, RunContext run, ILogger log)
    {
        if (TornDown(store.ReadJournal(run.RunId))) return null;
        var (copy, keep) = Saved(app, topology, store, run, log);
        app.Print($"Rehearsal {run.RunId} is aborted once its copy {copy.Stack.Name} on {copy.Where} is torn down" +
                  (keep ? " (it was started with --keep, but nothing could remove the copy of an aborted rehearsal later)" : "") + ".\n");
        if (await TeardownAsync(app, topology, store, run, log) == ExitCodes.Ok) return null;
        app.Error($"not aborted: rehearsal {run.RunId} stays open so that its copy can be removed; fix the cause and run `failover abort` again");
        return ExitCodes.Failed;
    }

    /// <summary>Every rehearsal whose copy was not torn down (--keep, or an interrupted one), from the journals.</summary>
    private static async Task<int> TeardownLeftoversAsync(App app, Topology topology, RunStore store, ILogger log)
    {
        var removed = 0;
        foreach (var id in store.Runs().Reverse())
        {
            var records = store.ReadJournal(id);
            if (RunEngine.ContextOf(records) is not { Kind: RunKind.Rehearsal } run || TornDown(records)) continue;
            if (records.Any(r => r.Event == JournalEvent.RunAborted))
            {
                app.Error($"rehearsal {id} was aborted before its teardown: remove its copy {run.Target} by hand");
                continue;
            }
            var code = await TeardownAsync(app, topology, store, run, log);
            if (code != ExitCodes.Ok) return code;
            app.Print($"Rehearsal {id}: copy {run.Target} removed.\n");
            removed++;
        }
        // Folders of local copies whose run never journaled its start.
        var root = Path.Combine(store.Root, "rehearsals");
        foreach (var orphan in Directory.Exists(root) ? Directory.GetDirectories(root) : [])
            if (!store.HasJournal(Path.GetFileName(orphan))) Directory.Delete(orphan, true);
        if (Directory.Exists(root) && !Directory.EnumerateFileSystemEntries(root).Any()) Directory.Delete(root);
        if (removed == 0) app.Print("No rehearsal copy is left running.\n");
        return ExitCodes.Ok;
    }

    /// <summary>The rehearsal history file of a directory store.</summary>
    public static string HistoryPath(RunStore store) => Path.Combine(store.Root, "rehearsals.jsonl");

    /// <summary>The lock, breaking a stale one left by this same rehearsal (a killed process): its cleanup must not wait for an operator.</summary>
    private static RunLock Lock(RunStore store, RunContext run, ILogger log)
    {
        if (RunLock.Read(store.State) is { Owner: { } owner } held && owner.RunId == run.RunId && RunLock.IsStale(owner))
        {
            log.Warning("Breaking the stale lock of rehearsal {RunId} left by {Host} pid {Pid} to tear its copy down", run.RunId, owner.Host, owner.Pid);
            store.BreakLock(held.Version);
        }
        return RunCommands.Lock(store, run, $"failover rehearse ({run.RunId})", log);
    }

    private static string Fmt(TimeSpan? t) => t is { } x ? Durations.Format(x) : "n/a";
}
