using System.CommandLine;
using Failover.Core.Planning;
using Failover.Core.Topology;
using Failover.Driver.Composition;
using Failover.Driver.Engine;
using Failover.Driver.Migration;
using Failover.Driver.Reports;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Cli;

/// <summary>
/// `failover migrate --to STACK`: a planned move of production (or the way back after a failover) with no data lost
/// and the downtime kept to a short write freeze; journaled and resumable like a failover.
/// </summary>
internal static class MigrateCommand
{
    public const RunKind Kind = RunKind.Migration;

    public static Command Build(App app)
    {
        var to = new Option<string>("--to") { HelpName = "STACK", Description = "The stack to move production to (a standby, or the original production after a failover)", Required = true };
        var dryRun = new Option<bool>("--dry-run") { Description = "Show the steps and the stack-file diff, change nothing" };
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not ask for confirmation (scripts)" };
        var wait = new Option<bool>("--wait") { Description = "Wait for the old DNS TTL to pass instead of stopping (exit 6) until the command is run again" };
        var confirm = new Option<bool>("--confirm") { Description = "After the cutover: scale the fenced old site down (its data is kept)" };
        var json = App.JsonOption("Print the migration's report (or the dry run's steps) as JSON on stdout; progress goes to stderr");
        var destroyOld = new Option<bool>("--destroy-old") { Description = "With --confirm: destroy the old site instead of scaling it down" };
        var command = new Command("migrate",
            "Move production to another site on purpose, losing no data: lower the DNS TTL to 60 s and let the old TTL\n" +
            "pass, bring the target up at full size and restore the latest backup while production serves, then freeze\n" +
            "writes on production, take a final backup and restore it on the target (RPO zero), pass the health gate, move\n" +
            "DNS, fence the old site and rewrite the stack files' roles (the diff is shown first). The old site is kept,\n" +
            "fenced, until you confirm; the report states the write freeze as the downtime customers saw. After a failover,\n" +
            "`failover migrate --to <original production>` is the way back. Journaled: running the same command again (or\n" +
            "`failover resume`) continues the run; Ctrl-C during the freeze gives production its writes back.\n\n" +
            "Examples:\n" +
            "  failover migrate --to standby-hel1 --dry-run   the steps, the stack-file diff, and what is missing (exit 1 then)\n" +
            "  failover migrate --to standby-hel1            lowers the TTL, stops (exit 6) saying when to run it again\n" +
            "  failover migrate --to standby-hel1 --yes      later: the migration itself, stops (exit 7) with the old site fenced\n" +
            "  failover migrate --to standby-hel1 --confirm  scale the old site down\n" +
            "  failover migrate --to prod-fsn1 --yes --wait  the way back after a failover, in one go\n\n" +
            "Exit codes: 0 migrated and the old site scaled down, 2 usage, 3 invalid stack files, 4 a step failed (production\n" +
            "thawed if the cutover had not begun; fix and run again), 5 another run holds the lock, 6 waiting for the old TTL\n" +
            "to pass (run again later), 7 cut over, old site fenced until --confirm, 130 interrupted (production thawed if\n" +
            "frozen; run again to continue).")
        {
            to, dryRun, yes, wait, confirm, destroyOld, json,
        };
        command.SetAction((parse, ct) => app.ExecuteAsync(parse, async (topology, log) =>
        {
            var store = RunCommands.Store(app, parse, topology);
            store.ThrowIfLocked();
            var targetName = parse.GetValue(to)!;
            var choices = new MigrationChoices(parse.GetValue(wait), parse.GetValue(confirm), parse.GetValue(destroyOld));
            if (choices.DestroyOld && !choices.Confirmed) throw new UsageException("--destroy-old goes with --confirm: the old site is only removed once you confirm the migration");

            if (store.Current is { } unfinished)
            {
                // The holder takes the lock before it names its run current: a run that became current since the
                // first look is someone else's running one, named by its lock, not an unfinished run to resume.
                store.ThrowIfLocked();
                var current = RunEngine.ContextOf(store.ReadJournal(unfinished));
                if (current?.Kind != Kind || current.Target != targetName)
                    throw new UsageException($"run {unfinished} ({(current is null ? "unknown" : RunKinds.Name(current.Kind))} to {current?.Target ?? "?"}) has not finished; continue it with `failover resume`, or stop it with `failover abort`");
                var (source, target) = Sites(topology, current);
                // --confirm answers the wait after the cutover; given earlier it would let the run remove the old site
                // right after a cutover nobody has looked at yet.
                if (choices.Confirmed && !MigrationSteps.AwaitsConfirmation(store.ReadJournal(unfinished)))
                    throw new UsageException($"migration {unfinished} has not cut over yet: run `failover migrate --to {targetName}` without --confirm; " +
                        "it stops after the cutover (exit 7) and asks for --confirm then");
                app.Print($"Continuing migration {unfinished} from {source.Name} to {target.Name}.\n");
                if (parse.GetValue(dryRun)) return DryRun(app, topology, source, target, store, current, choices);
                return await ExecuteAsync(app, topology, source, target, store, current, choices, log, ct);
            }
            if (choices.Confirmed) throw new UsageException($"there is no migration to {targetName} waiting for confirmation (start one with `failover migrate --to {targetName}`)");

            // Before the source is chosen: a stale checkout would pick it, and its checks, from out-of-date files.
            if (!parse.GetValue(dryRun)) await RunCommands.GuardAsync(app, topology, log, ct);
            var (from, why) = ServingSite.Of(topology, store, await ServingSite.DeployedActiveStackAsync(topology,
                () => RunPortsFactory.Pulumi(RunCommands.ProjectDirectory(topology), app.Variable, app.PulumiEnvironment, app.Secrets, log, app.Time, app.Options), log, ct));
            var to_ = Target(topology, targetName, from);
            // A dry run shows what a real migration would still need, and the steps all the same.
            var missing = parse.GetValue(dryRun) ? Missing(topology, from) : null;
            if (!parse.GetValue(dryRun)) Check(topology, from);
            app.Print($"Source: {why}.\n");
            var run = RunCommands.Stamp(app, parse, topology, to_, new RunContext(RunStore.NewRunId(app.Time.GetUtcNow()), Kind, from.Name, to_.Name, null, false, Environment.UserName, OperatorHost.Name));
            ShowRoleDiff(app, topology, to_);
            if (parse.GetValue(dryRun))
            {
                var code = DryRun(app, topology, from, to_, store, run, choices);
                if (missing is null) return code;
                app.Error($"MISSING before a real migration: {missing.File}: {missing.Key}: {missing.Message}");
                app.Error($"  fix: {missing.Fix}");
                return ExitCodes.Findings;
            }
            if (!RunHost.Confirmed(app, parse.GetValue(yes),
                    $"This moves production from {from.Name} to {to_.Name}: it provisions {to_.Name} at full size, restores every tenant, freezes writes on " +
                    $"{from.Name} for the final sync, moves DNS and rewrites the stack files as shown.\nType the target stack name to go on: ", to_.Name))
                return ExitCodes.Usage;
            return await ExecuteAsync(app, topology, from, to_, store, run, choices, log, ct);
        }));
        return command;
    }

    /// <summary>`failover resume` of a migration: the same run, without a confirmation of the old site's scale-down.</summary>
    public static Task<int> ResumeAsync(App app, Topology topology, RunStore store, RunContext run, ILogger log, CancellationToken ct)
    {
        var (source, target) = Sites(topology, run);
        return ExecuteAsync(app, topology, source, target, store, run, new MigrationChoices(false, false, false), log, ct);
    }

    /// <summary>
    /// Before a migration is aborted: a source left frozen (a killed process) gets its writes back. False when the thaw
    /// failed: the run must not be closed then, or nothing would ever thaw the source.
    /// </summary>
    public static async Task<bool> ThawBeforeAbortAsync(App app, Topology topology, RunStore store, RunContext run, Journal journal, ILogger log)
    {
        var (source, target) = Sites(topology, run);
        var ports = Ports(app, topology, target, store, log);
        var steps = MigrationSteps.For(topology, source, target, ports, store.RunDirectory(run.RunId), new MigrationChoices(false, false, false), _ => { }, app.Options);
        var compensation = MigrationSteps.Compensation(source, ports) with { Say = null };
        if (!MigrationSteps.NeedsThaw(journal.Records) && !compensation.IsPending(journal.Records, steps)) return true;
        app.Print($"The migration froze {source.Name} and had not cut over: thawing it first.\n");
        var thaw = await RunHost.Engine(app, steps, compensation, log).CompensateAsync(journal, run);
        if (!thaw.Compensated) CouldNotThaw(app, source, thaw.CompensationError);
        return thaw.Compensated;
    }

    private static (StackSpec Source, StackSpec Target) Sites(Topology topology, RunContext run) =>
        (topology.Find(run.Production) ?? throw new UsageException($"the migration's source {run.Production} is no longer in the stack files"),
         topology.Find(run.Target) ?? throw new UsageException($"the migration's target {run.Target} is no longer in the stack files"));

    private static StackSpec Target(Topology topology, string name, StackSpec source)
    {
        var sites = string.Join(", ", topology.Stacks.Where(s => s.Role is Role.Production or Role.Standby && s.Name != source.Name).Select(s => s.Name).DefaultIfEmpty("(none)"));
        var target = topology.Find(name) ?? throw new UsageException($"unknown stack '{name}'{NameSuggestion.DidYouMean(name, topology.Stacks.Select(s => s.Name))}; sites to migrate to: {sites}");
        if (target.Role is not (Role.Production or Role.Standby))
            throw new UsageException($"'{name}' is a {target.Role.ToString().ToLowerInvariant()} stack; production moves to a site: {sites}");
        if (target.Name == source.Name)
            throw new UsageException($"{name} is already the site serving; sites to migrate to: {sites}");
        return target;
    }

    /// <summary>What must hold before anything changes: a DNS stack to move, and a way to freeze and back up a cloud source.</summary>
    private static void Check(Topology topology, StackSpec source)
    {
        if (Missing(topology, source) is { } problem) throw new TopologyException(problem);
    }

    /// <summary>The hooks a cloud source lacks for a migration, or null.</summary>
    private static TopologyProblem? Missing(Topology topology, StackSpec source)
    {
        if (topology.DnsStack?.Dns is null) throw new UsageException("no dns stack: a migration moves the service records and cannot without one");
        if (source.Site.Provider == Provider.Local) return null;
        if (source.Migrate.Freeze.Count > 0 && source.Migrate.Backup.Count > 0) return null;
        return new TopologyProblem(source.File, "failover:migrate", null,
            $"{source.Name} is a {source.Site.Provider.ToString().ToLowerInvariant()} site: the driver cannot freeze its writes or back it up by itself",
            "add failover:migrate with freeze, thaw and backup commands (docs/migration.md#hooks)");
    }

    private static void ShowRoleDiff(App app, Topology topology, StackSpec target)
    {
        // From the files as this command loaded them: paths shown as the operator named them.
        var edits = RoleChange.Promote(topology, target.Name, SiteMode.Fenced);
        if (edits.Count == 0) { app.Print($"Stack files: they already name {target.Name} production; nothing to rewrite.\n"); return; }
        app.Print($"Stack files: after the cutover they are rewritten so that {target.Name} is production:\n");
        foreach (var e in edits) app.Print(e.Diff().TrimEnd('\n') + "\n");
    }

    private static int DryRun(App app, Topology topology, StackSpec source, StackSpec target, RunStore store, RunContext run, MigrationChoices choices)
    {
        var steps = MigrationSteps.For(topology, source, target,
            Deferred<MigrationPorts>.Refused("a dry run touches no provider"), store.RunDirectory(run.RunId), choices, _ => { }, app.Options);
        app.Print($"Dry run: nothing will be changed.\nMigration of {source.Name} to {target.Name} would run:\n");
        var n = 0;
        foreach (var step in steps) app.Print($"  {++n,2}. {StepContext.Name(step.Kind),-14} {step.Describe(run)}\n");
        if (app.JsonOutput)
            app.Document(Json.Document("dry-run", new
            {
                verb = "migrate", production = source.Name, target = target.Name,
                steps = steps.Select(s => new { step = StepContext.Name(s.Kind), what = s.Describe(run) }),
            }));
        return ExitCodes.Ok;
    }

    private static Task<int> ExecuteAsync(App app, Topology topology, StackSpec source, StackSpec target, RunStore store, RunContext run,
        MigrationChoices choices, ILogger log, CancellationToken ct)
    {
        var steps = MigrationSteps.For(topology, source, target, Ports(app, topology, target, store, log), store.RunDirectory(run.RunId), choices, line => app.Print(line + "\n"), app.Options);
        return RunHost.RunAsync(app, topology, store, new HostedRun(run, target, steps, $"failover migrate --to {run.Target}",
            journal => $"Run {run.RunId}: migration of {source.Name} to {target.Name} (journal {journal})",
            ending => Exit(app, source, target, ending))
        {
            Compensation = MigrationSteps.Compensation(source, Ports(app, topology, target, store, log)),
        }, log, ct);
    }

    /// <summary>The migration's exit-code table: 0 migrated, 6 waiting for the old TTL, 7 cut over and waiting for --confirm, or stopped.</summary>
    private static int Exit(App app, StackSpec source, StackSpec target, RunEnding ending)
    {
        var (result, report, thawed) = (ending.Result, ending.Report, ending.Compensated);
        if (result.CompensationError is { } error) CouldNotThaw(app, source, error);
        switch (result.Outcome)
        {
            case RunOutcome.Completed:
                app.Print($"Migrated to {target.Name}: writes were frozen for {Fmt(report.FreezeWindow)} (the downtime customers saw), RPO {Fmt(report.Rpo)}; {source.Name} is scaled down.\n");
                return ExitCodes.Ok;
            case RunOutcome.Paused when result.FailedStep == StepKind.LowerTtl:
                app.Error($"waiting: {result.Error}");
                return ExitCodes.Waiting;
            case RunOutcome.Paused:
                app.Print($"Cut over to {target.Name}: writes were frozen for {Fmt(report.FreezeWindow)} (the downtime customers saw), RPO {Fmt(report.Rpo)}.\n");
                app.Error($"waiting for confirmation: {result.Error}");
                return ExitCodes.AwaitingConfirmation;
            default:
                return RunHost.Stopped(app, ending,
                    thawed
                        ? $"interrupted: {source.Name} was thawed and serves; DNS was not touched. Run `failover migrate --to {target.Name}` to go on (the freeze and final sync run again) or `failover abort`."
                        : $"interrupted: run `failover migrate --to {target.Name}` (or `failover resume`) to continue where it stopped",
                    thawed
                        ? $"{source.Name} was thawed and serves; DNS was not touched. Fix the cause, then `failover migrate --to {target.Name}` freezes and syncs again."
                        : "Fix the cause, then `failover resume` continues from that step (finished steps are not repeated).");
        }
    }

    private static void CouldNotThaw(App app, StackSpec source, string? why) =>
        app.Error($"error: {source.Name} could NOT be thawed ({why}): it still refuses writes. Run its failover:migrate thaw commands by hand, or `failover abort` once the cause is fixed.");

    private static Deferred<MigrationPorts> Ports(App app, Topology topology, StackSpec target, RunStore store, ILogger log) =>
        new(async x => (await app.Ports(RunCommands.Environment(app, topology, target, store, log), x)).ForMigration());

    private static string Fmt(TimeSpan? t) => t is { } x ? Durations.Format(x) : "n/a";
}
