using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Failover.Core.Planning;
using Failover.Core.Topology;
using Failover.Driver.Engine;
using Failover.Driver.Local;
using Failover.Driver.Reports;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Cli;

/// <summary>
/// `failover rehearse`: a failover on an isolated copy of a standby (select-backup, provision, restore, gate,
/// report, teardown), never fencing production nor touching DNS, with an evidence report and a history line.
/// </summary>
internal static class RehearseCommand
{
    private const string SiteFile = "rehearsal.json";

    public static Command Build(App app)
    {
        var site = new Option<string?>("--site") { Description = "The standby to rehearse on (an isolated copy of it is used)" };
        var keep = new Option<bool>("--keep") { Description = "Leave the copy running to look at; remove it later with `failover rehearse --teardown`" };
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not ask for confirmation (scripts, timers)" };
        var address = new Option<string?>("--address") { Description = "Loopback address of the local copy (default: the standby's last octet + 100)" };
        var teardown = new Option<bool>("--teardown") { Description = "Only remove rehearsal copies left running (--keep, or an interrupted rehearsal)" };
        var command = new Command("rehearse",
            "Rehearse a failover on an isolated copy of a standby: the latest verified backups are restored on the copy,\n" +
            "every tenant verified and the health gate run, then the copy is torn down. Production is not fenced and DNS\n" +
            "is not touched. The evidence report (report.md, report.json, report.html) is written in the run folder and\n" +
            "one line is appended to .failover/rehearsals.jsonl (`failover report --history`).\n\n" +
            "Examples:\n" +
            "  failover rehearse --site local-standby --yes\n" +
            "  failover rehearse --site local-standby --keep\n" +
            "  failover rehearse --teardown\n\n" +
            "Exit codes: 0 rehearsal passed, 2 usage, 3 invalid stack files, 4 a step failed (see the report),\n" +
            "5 another run holds the lock, 130 interrupted (`failover resume` tears the copy down).")
        {
            site, keep, yes, address, teardown,
        };
        command.SetAction((parse, ct) => app.ExecuteAsync(parse, async (topology, log) =>
        {
            var store = RunCommands.Store(parse, topology, app.WorkingDirectory);
            if (parse.GetValue(teardown)) return await TeardownLeftoversAsync(app, topology, store, log);
            var standby = Standby(topology, parse.GetValue(site) ?? throw new UsageException("--site is required: the standby to rehearse on"));
            if (store.Current is { } unfinished)
            {
                var context = RunEngine.ContextOf(Journal.Read(store.JournalPath(unfinished)));
                if (context?.Kind != "rehearsal")
                    throw new UsageException($"run {unfinished} has not finished; continue it with `failover resume`, or stop it with `failover abort`");
                app.Print($"Rehearsal {unfinished} was interrupted: tearing its copy down first.\n");
                var code = await TeardownAsync(app, topology, store, context, log);
                if (code != ExitCodes.Ok) return code;
            }
            if (!parse.GetValue(yes) && !app.Confirm(
                    $"This rehearses a failover on a copy of {standby.Name}: it restores every tenant there. Production and DNS are not touched.\n" +
                    $"Type the standby name to go on: ", standby.Name))
            {
                app.Error("not confirmed: nothing was changed (use --yes in scripts)");
                return ExitCodes.Usage;
            }
            var copy = RehearsalSteps.LocalCopy(topology, standby, parse.GetValue(address));
            var run = new RunContext(RunStore.NewRunId(app.Time.GetUtcNow()), "rehearsal", topology.Production.Name, copy.Name,
                null, false, Environment.UserName, Environment.MachineName);
            Directory.CreateDirectory(store.RunDirectory(run.RunId));
            File.WriteAllText(Path.Combine(store.RunDirectory(run.RunId), SiteFile),
                new JsonObject { ["standby"] = standby.Name, ["address"] = copy.Site.Address, ["keep"] = parse.GetValue(keep) }.ToJsonString());
            return await ExecuteAsync(app, topology, copy, store, run, parse.GetValue(keep), log, ct);
        }));
        return command;
    }

    private static StackSpec Standby(Topology topology, string name)
    {
        var standby = topology.Find(name) ?? throw new UsageException(
            $"unknown stack '{name}'; standbys: {string.Join(", ", topology.Standbys.Select(s => s.Name).DefaultIfEmpty("(none)"))}");
        if (standby.Role is not Role.Standby) throw new UsageException($"'{name}' is not a standby; a rehearsal copies a standby");
        // The cloud path (PulumiSites on a `<standby>-rehearsal` stack, `pulumi destroy` in teardown) is not built yet.
        if (standby.Site.Provider != Provider.Local)
            throw new UsageException($"rehearsals are not yet supported for cloud stacks ({name} is on {standby.Site.Provider.ToString().ToLowerInvariant()}); rehearse a local topology, or use `failover plan --to {name}`");
        return standby;
    }

    /// <summary>Continues an interrupted rehearsal from its journal (`failover resume`): the remaining steps, then the teardown.</summary>
    internal static Task<int> ResumeAsync(App app, Topology topology, RunStore store, RunContext run, ILogger log, CancellationToken ct)
    {
        var (copy, keep) = CopyOf(topology, store, run);
        return ExecuteAsync(app, topology, copy, store, run, keep, log, ct);
    }

    private static (StackSpec Copy, bool Keep) CopyOf(Topology topology, RunStore store, RunContext run)
    {
        var file = Path.Combine(store.RunDirectory(run.RunId), SiteFile);
        var saved = File.Exists(file) ? JsonNode.Parse(File.ReadAllText(file)) : null;
        var standby = topology.Find((string?)saved?["standby"] ?? RehearsalSteps.StandbyOf(run.Target))
            ?? throw new UsageException($"the standby of rehearsal {run.RunId} is no longer in the stack files");
        return (RehearsalSteps.LocalCopy(topology, standby, (string?)saved?["address"]), (bool?)saved?["keep"] ?? false);
    }

    private static LocalSites SitesOf(RunStore store, string runId) => new(Path.Combine(store.Root, "rehearsals", runId), oneSite: true);

    private static async Task<int> ExecuteAsync(App app, Topology topology, StackSpec copy, RunStore store, RunContext run, bool keep, ILogger log, CancellationToken ct)
    {
        using var runLock = Lock(store, run);
        store.SetCurrent(run.RunId);
        var dir = store.RunDirectory(run.RunId);
        using var journal = Journal.Open(store.JournalPath(run.RunId));
        var sites = SitesOf(store, run.RunId);
        var env = RunCommands.Environment(app, topology, copy, store, log) with { TouchesDns = false };
        var ports = app.Ports(env) with { Sites = sites };
        var steps = RehearsalSteps.For(topology, copy, ports, sites, dir).Where(s => !keep || s.Kind != StepKind.Teardown).ToList();
        var stackLog = log.ForContext("Stack", copy.Name);
        app.Print($"Rehearsal {run.RunId}: {topology.Production.Name} recovered on {copy.Name} ({copy.Site.Address}); production and DNS are not touched (journal {journal.Path})\n");
        var result = await new RunEngine(steps, app.Time, stackLog, line => app.Print(line + "\n")).RunAsync(journal, run, ct);
        if (result.Outcome is RunOutcome.Failed or RunOutcome.Interrupted && !keep)
        {
            // Teardown always: a failed or interrupted rehearsal must not leave its copy running.
            app.Print("  tearing the copy down after the failure\n");
            await new RunEngine([RehearsalSteps.Teardown(copy, sites)], app.Time, stackLog, line => app.Print(line + "\n"))
                .RunAsync(journal, run, CancellationToken.None);
        }
        var report = IncidentReport.FromJournal(journal.Records, topology.Targets);
        IncidentReportFiles.Write(dir, report);
        var tornDown = journal.Records.Any(r => r.Event == JournalEvent.StepCompleted && r.Step == StepContext.Name(StepKind.Teardown));
        if (tornDown && Directory.Exists(sites.StateDirectory) && !Directory.EnumerateFileSystemEntries(sites.StateDirectory).Any())
            Directory.Delete(sites.StateDirectory);
        if (journal.Records.Any(r => r.Event == JournalEvent.RunCompleted))
        {
            store.ClearCurrent();
            new RehearsalHistory(HistoryPath(store)).Append(new RehearsalEntry(run.RunId, RehearsalSteps.StandbyOf(copy.Name), report.Started,
                report.Ended ?? app.Time.GetUtcNow(), report.Outcome, report.Rto?.TotalSeconds, report.Rpo?.TotalSeconds, Path.Combine(dir, "report.html")));
            stackLog.Information("Rehearsal {RunId} finished: {Outcome}", run.RunId, report.Outcome);
        }
        app.Print($"\nEvidence: {Path.Combine(dir, "report.html")} (and report.md, report.json)\n");
        if (keep) app.Print($"Kept: {copy.Name} runs on {copy.Site.Address} ({sites.StateDirectory}). Remove it with `failover rehearse --teardown`.\n");
        if (report.Outcome == "resolved")
        {
            app.Print($"Rehearsal passed: RTO {Fmt(report.Rto)}, RPO {Fmt(report.Rpo)} (targets {Durations.Format(topology.Targets.Rto)} / {Durations.Format(topology.Targets.Rpo)}).\n");
            return ExitCodes.Ok;
        }
        if (result.Outcome == RunOutcome.Interrupted)
        {
            app.Error("interrupted: the copy was torn down; start a new rehearsal");
            return ExitCodes.Interrupted;
        }
        app.Error($"rehearsal failed at {(result.FailedStep is { } f ? StepContext.Name(f) : "?")}: {result.Error}");
        return ExitCodes.Failed;
    }

    /// <summary>Tears down an interrupted rehearsal without running the rest of it.</summary>
    private static async Task<int> TeardownAsync(App app, Topology topology, RunStore store, RunContext run, ILogger log)
    {
        var (copy, _) = CopyOf(topology, store, run);
        using var runLock = Lock(store, run);
        using var journal = Journal.Open(store.JournalPath(run.RunId));
        var sites = SitesOf(store, run.RunId);
        var stackLog = log.ForContext("Stack", copy.Name);
        await new RunEngine([RehearsalSteps.Teardown(copy, sites)], app.Time, stackLog, line => app.Print(line + "\n")).RunAsync(journal, run, CancellationToken.None);
        if (Directory.Exists(sites.StateDirectory) && !Directory.EnumerateFileSystemEntries(sites.StateDirectory).Any()) Directory.Delete(sites.StateDirectory);
        var report = IncidentReport.FromJournal(journal.Records, topology.Targets);
        IncidentReportFiles.Write(store.RunDirectory(run.RunId), report);
        if (store.Current == run.RunId) store.ClearCurrent();
        return ExitCodes.Ok;
    }

    private static async Task<int> TeardownLeftoversAsync(App app, Topology topology, RunStore store, ILogger log)
    {
        var root = Path.Combine(store.Root, "rehearsals");
        var left = Directory.Exists(root) ? Directory.GetDirectories(root).Select(Path.GetFileName).OfType<string>().ToList() : [];
        foreach (var id in left)
        {
            var run = RunEngine.ContextOf(Journal.Read(store.JournalPath(id)));
            if (run is null) { Directory.Delete(Path.Combine(root, id), true); continue; }
            await TeardownAsync(app, topology, store, run, log);
            app.Print($"Rehearsal {id}: copy removed.\n");
        }
        if (Directory.Exists(root) && !Directory.EnumerateFileSystemEntries(root).Any()) Directory.Delete(root);
        if (left.Count == 0) app.Print("No rehearsal copy is left running.\n");
        return ExitCodes.Ok;
    }

    public static string HistoryPath(RunStore store) => Path.Combine(store.Root, "rehearsals.jsonl");

    /// <summary>The lock, breaking a stale one left by this same rehearsal (a killed process): its cleanup must not wait for an operator.</summary>
    private static RunLock Lock(RunStore store, RunContext run)
    {
        if (File.Exists(store.LockPath) && RunLock.Inspect(store.LockPath) is { } owner && owner.RunId == run.RunId && RunLock.IsStale(owner))
            RunLock.Break(store.LockPath);
        return RunLock.Acquire(store.LockPath, new LockOwner(Environment.MachineName, Environment.ProcessId, DateTimeOffset.UtcNow, run.RunId, $"failover rehearse ({run.RunId})"));
    }

    private static string Fmt(TimeSpan? t) => t is { } x ? Durations.Format(x) : "n/a";
}
