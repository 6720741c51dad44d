using System.CommandLine;
using Failover.Core.Planning;
using Failover.Core.Policies;
using Failover.Core.Topology;
using Failover.Driver.Composition;
using Failover.Driver.Cloud;
using Failover.Driver.Engine;
using Failover.Driver.Backup;
using Failover.Driver.Reports;
using Failover.Driver.Runbooks;
using Failover.Driver.RunState;
using Serilog;

namespace Failover.Driver.Cli;

/// <summary>`failover run`, `resume`, `abort`, `unlock` and `report`: the journaled failover and its controls.</summary>
internal static class RunCommands
{
    internal static readonly Option<string?> StateDir = new("--state-dir")
    {
        HelpName = "DIR",
        Description = "Where runs, journals, reports and the lock live (default: .failover beside Pulumi.yaml)",
        Recursive = true,
    };

    private static readonly Option<string?> OperatorName = new("--operator")
    {
        HelpName = "NAME",
        Description = $"Who runs this, for the report (default: ${OperatorIdentity.Variable}, else git user.email; the OS user and host are recorded too)",
        Recursive = true,
    };

    /// <summary>The run as started by this operator: their identity and the runbook's estimate of each step, fixed in the journal's first record.</summary>
    internal static RunContext Stamp(App app, ParseResult parse, Topology topology, StackSpec planned, RunContext run) => Stamp(app, topology, planned, run);

    /// <inheritdoc cref="Stamp(App, ParseResult, Topology, StackSpec, RunContext)"/>
    internal static RunContext Stamp(App app, Topology topology, StackSpec planned, RunContext run) => run with
    {
        Operator = app.Operator,
        Plan = Planner.Estimate(topology, planned).Steps.ToDictionary(s => StepContext.Name(s.Kind), s => s.Estimate.TotalSeconds),
    };

    public static IEnumerable<Command> Build(App app)
    {
        yield return Run(app);
        yield return Resume(app);
        yield return Abort(app);
        yield return Unlock(app);
        yield return Report(app);
    }

    public static void AddGlobal(RootCommand root)
    {
        root.Options.Add(StateDir);
        root.Options.Add(OperatorName);
    }

    /// <summary>Environment variable: the lock's lease in seconds, over runtime option lockLease (failover:timeLimits; default 60); the holder renews it every third.</summary>
    public const string LeaseVariable = "FAILOVER_LOCK_LEASE";

    /// <summary>
    /// The run state: --state-dir when given (a folder), else beside the Pulumi state: the S3 prefix of an s3://
    /// backend (Pulumi.yaml's backend.url or failover:stateBackend), or .failover beside Pulumi.yaml.
    /// </summary>
    internal static RunStore Store(App app, ParseResult parse, Topology topology)
    {
        var cwd = app.WorkingDirectory;
        var lease = app.Variable(LeaseVariable) is { Length: > 0 } text
            ? double.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds > 0
                ? TimeSpan.FromSeconds(seconds)
                : throw new UsageException($"{LeaseVariable}={text} is not a number of seconds")
            : app.Options.LockLease;
        if (parse.GetValue(StateDir) is { } dir) return new RunStore(Path.GetFullPath(dir, cwd)) { Lease = lease };
        var project = TopologyLoader.FindProjectFile(topology.StacksDirectory);
        var root = Path.Combine(project is null ? topology.StacksDirectory : Path.GetDirectoryName(project)!, ".failover");
        RunStateLocation? shared;
        try
        {
            shared = RunStateLocation.FromBackend(topology.StateBackendUrl,
                (project is null ? null : ProjectSettings.Read(project, project).Name) ?? "failover");
        }
        catch (FormatException e)
        {
            throw new UsageException($"{e.Message} (Pulumi.yaml backend.url, or failover:stateBackend.url)");
        }
        return shared is null
            ? new RunStore(root) { Lease = lease }
            : new RunStore(root, new S3RunStateStore(shared, timeout: app.Options.RunState)) { Lease = lease };
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
        var reason = ReasonOption();
        var without = WithoutOption();
        var json = App.JsonOption("Print the incident report (or the dry run's steps) as JSON on stdout; progress goes to stderr");
        var command = new Command("run",
            "Fail over: recover the production site on a standby from the latest verified external backup, prove it\n" +
            "healthy, fence the old primary, move DNS and verify it, and write the incident report. Every step is\n" +
            "journaled: after a crash or a closed terminal, `failover resume` continues without repeating anything.\n\n" +
            "Examples:\n" +
            "  failover run --to standby-hel1 --dry-run\n" +
            "  failover run --to standby-hel1\n" +
            "  failover run --to standby-aws-fra --yes --restore-point 2026-11-21T02:00:00Z\n\n" +
            "Exit codes: 0 recovered, 2 usage, 3 invalid stack files or a checkout behind what is deployed, 4 a step failed (see the report; fix and resume),\n" +
            "5 another run holds the lock, 130 interrupted (resume it).")
        {
            to, dryRun, yes, restorePoint, acceptLoss, without, reason, json,
        };
        command.SetAction((parse, ct) => app.ExecuteAsync(parse, async (topology, log) =>
        {
            var target = Target(topology, parse.GetValue(to)!);
            var store = Store(app, parse, topology);
            // A failover in progress is named by its lock (host, pid, start): say who, not only that a run is unfinished.
            store.ThrowIfLocked();
            if (store.Current is { } unfinished)
            {
                // The holder takes the lock before it names its run current: a run that became current since the
                // first look is someone else's running one, named by its lock, not an unfinished run to resume.
                store.ThrowIfLocked();
                var records = store.ReadJournal(unfinished);
                // At 3 a.m. the operator needs the way out, not a resume that waits again.
                if (RunEngine.ContextOf(records) is { Kind: MigrateCommand.Kind } migration && MigrationSteps.AwaitsConfirmation(records))
                    throw new UsageException($"migration {unfinished} cut over to {migration.Target} and waits for `failover migrate --to {migration.Target} --confirm`; " +
                        "confirm it, or end it with `failover abort` (both sites stay as they are), then run the failover");
                throw new UsageException($"run {unfinished} has not finished; continue it with `failover resume`, or stop it for good with `failover abort`");
            }

            var findings = PolicyBook.Evaluate(topology, target).Where(f => f.Severity == Severity.Error).ToList();
            foreach (var f in findings) app.Error($"warning: policy {f.PolicyId}: {f.Message} (the failover goes on; fix it afterwards)");

            var now = app.Time.GetUtcNow();
            var runContext = Stamp(app, parse, topology, target, new RunContext(RunStore.NewRunId(now), RunKind.Failover, topology.Production.Name, target.Name,
                parse.GetValue(restorePoint), parse.GetValue(acceptLoss), System.Environment.UserName, OperatorHost.Name)) with
            {
                Reason = parse.GetValue(reason), Without = LeftOut(topology, parse.GetValue(without)),
            };
            if (parse.GetValue(dryRun))
            {
                var plan = Planner.Plan(topology, target, app.Options);
                var steps = FailoverSteps.For(topology, target,
                    Deferred<FailoverPorts>.Refused("a dry run touches no provider"), store.RunDirectory(runContext.RunId), app.Options);
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
            await GuardAsync(app, topology, log, ct);
            if (!RunHost.Confirmed(app, parse.GetValue(yes),
                    $"This fails {topology.Production.Name} over to {target.Name}: it provisions servers, restores every tenant, fences " +
                    $"{topology.Production.Name} and moves DNS.\nType the target stack name to go on: ", target.Name))
                return ExitCodes.Usage;
            return await Execute(app, topology, target, store, runContext, log, ct);
        }));
        return command;
    }

    /// <summary>A failover, or a restore into the serving site, carried out by the run host; also its resume.</summary>
    internal static Task<int> Execute(App app, Topology topology, StackSpec target, RunStore store, RunContext run, ILogger log, CancellationToken ct)
    {
        // The verb an operator typed: a failover's kind is "failover" but its command is `failover run`.
        var restore = run.Kind == RunKind.Restore;
        var command = restore
            ? $"failover restore {string.Join(" ", run.Only.Select(t => $"--tenant {t}"))}"
            : $"failover {RunKinds.Verb(run.Kind)} --to {run.Target}";
        var dir = store.RunDirectory(run.RunId);
        // A restore into the serving site moves nothing: it gets no DNS adapter at all.
        var ports = new Deferred<RunPorts>(x => app.Ports(Environment(app, topology, target, store, log) with { TouchesDns = !restore }, x));
        var steps = restore
            ? FailoverSteps.ForRestore(topology, target, ports.Role(p => p.ForTenantRestore()), dir)
            : FailoverSteps.For(topology, target, ports.Role(p => p.ForFailover()), dir, app.Options);
        return RunHost.RunAsync(app, topology, store, new HostedRun(run, target, steps, command,
            journal => restore
                ? $"Run {run.RunId}: restore of {string.Join(", ", run.Only)} into {run.Target}, the serving site (journal {journal})"
                : $"Run {run.RunId}: failover of {run.Production} to {run.Target} (journal {journal})",
            ending =>
            {
                if (ending.Result.Outcome != RunOutcome.Completed)
                    return RunHost.Stopped(app, ending, "interrupted: run `failover resume` to continue where it stopped",
                        "Fix the cause, then `failover resume` continues from that step (finished steps are not repeated).");
                app.Print(restore
                    ? $"Restored {string.Join(", ", run.Only)} into {run.Target} and verified; data up to {Fmt(ending.Report.Rpo)} old.\n"
                    : $"Recovered on {run.Target}: RTO {Fmt(ending.Report.Rto)}, RPO {Fmt(ending.Report.Rpo)} (targets {Durations.Format(topology.Targets.Rto)} / {Durations.Format(topology.Targets.Rpo)}).\n");
                return ExitCodes.Ok;
            }), log, ct);
    }

    /// <summary>
    /// The stale-checkout guard before a command changes anything: stops (exit 3) when the stack files differ from the
    /// deployed stacks; when they cannot be compared (no pulumi, no state yet) it warns and lets the command go on.
    /// </summary>
    internal static async Task GuardAsync(App app, Topology topology, ILogger log, CancellationToken ct)
    {
        var warning = await CheckoutGuard.CheckAsync(topology,
            () => RunPortsFactory.Pulumi(ProjectDirectory(topology), app.Variable, app.PulumiEnvironment, app.Secrets, log, app.Time, app.Options), log, ct);
        if (warning is not null) app.Error($"warning: {warning}; make sure this checkout has the latest stack files (git pull)");
    }

    internal static RunEnvironment Environment(App app, Topology topology, StackSpec target, RunStore store, ILogger log) =>
        new(topology, target, store, ProjectDirectory(topology), app.Secrets, log, app.Time, line => app.Print(line + "\n"), app.Variable, app.PulumiEnvironment)
        {
            Transfer = app.Display.Transfer,
            Options = app.Options,
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

    internal static RunLock Lock(RunStore store, RunContext run, string command, ILogger? log = null) => RunHost.Lock(store, run, command, log);

    private static Option<string[]> WithoutOption() => new("--without-tenant")
    {
        HelpName = "TENANT",
        Description = "Fail over without this tenant (no usable backup): the others are restored and served, it stays down until `failover restore --tenant TENANT`; repeatable, journaled, in the report",
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>The tenants named by --without-tenant, each checked against the stack files; at least one tenant must remain.</summary>
    internal static IReadOnlyList<string> LeftOut(Topology topology, string[]? names)
    {
        var list = (names ?? []).Distinct().ToList();
        foreach (var n in list.Where(n => topology.Tenants.All(t => t.Name != n)))
            throw new UsageException($"--without-tenant {n}: no such tenant{NameSuggestion.DidYouMean(n, topology.Tenants.Select(t => t.Name))}; tenants: {string.Join(", ", topology.Tenants.Select(t => t.Name))}");
        if (list.Count > 0 && list.Count == topology.Tenants.Count)
            throw new UsageException("--without-tenant names every tenant: there would be nothing to fail over");
        return list;
    }

    private static Option<string?> ReasonOption() => new("--reason")
    {
        HelpName = "TEXT",
        Description = "Why the risks this run takes are accepted (--accept-data-loss, --restore-point, --without-tenant); the report quotes it",
    };

    private static Command Resume(App app)
    {
        var acceptLoss = new Option<bool>("--accept-data-loss")
        {
            Description = "Allow backups older than the RPO target from here on (journaled; the report says who accepted it and when)",
        };
        var reason = ReasonOption();
        var without = WithoutOption();
        var json = App.JsonOption("Print the incident report as JSON on stdout; progress goes to stderr");
        var command = new Command("resume",
            "Continue the unfinished run from its journal: finished steps and side effects are not repeated. A migration\n" +
            "exits as `failover migrate` does: 6 while the old DNS TTL has not passed, 7 once cut over and waiting for\n" +
            "`failover migrate --to STACK --confirm`. A run stopped by the RPO rule goes on with --accept-data-loss.\n\n" +
            "Examples:\n  failover resume\n  failover resume --accept-data-loss\n  failover resume --json > report.json")
        {
            acceptLoss, without, reason, json,
        };
        command.SetAction((parse, ct) => app.ExecuteAsync(parse, async (topology, log) =>
        {
            var store = Store(app, parse, topology);
            var id = store.Current ?? throw new UsageException("there is no unfinished run to resume (start one with `failover run --to STACK`)");
            var records = store.ReadJournal(id);
            // A journal changed or cut since it was written is not a plan to act on: say which record, change nothing.
            var integrity = store.JournalIntegrity(id);
            if (integrity.IsBroken)
                throw new JournalTamperedException($"the journal of run {id} ({store.JournalLocation(id)}) fails its hash check: {integrity.Sentence}. Nothing was done. " +
                    "Put back the journal from a copy (each report's vault copy holds it), or end the run with `failover abort` (its report then says the chain is broken)");
            if (integrity.Status == ChainStatus.NotChained)
                app.Error($"note: the journal of run {id} is not chained (written by a version before the hash chain); the records this run adds are chained");
            var run = RunEngine.ContextOf(records)
                ?? throw new UsageException($"the journal of run {id} has no start record; abort it with `failover abort`");
            // Killed after its completion line, before the pointer was cleared: nothing is left to do, and nothing is rewritten.
            if (records.LastOrDefault(r => r.Event == JournalEvent.RunCompleted) is { } completed)
            {
                store.ClearCurrent();
                app.Print($"Run {id} already completed at {completed.At:u}; nothing to resume (its journal and report stay as they are: {store.ReportLocation(id)}).\n");
                return ExitCodes.Ok;
            }
            if (parse.GetValue(acceptLoss) && !run.AcceptDataLoss)
            {
                using (Lock(store, run, "failover resume --accept-data-loss"))
                using (var journal = store.OpenJournal(id))
                    journal.Append(new JournalRecord(JournalEvent.DataLossAccepted, app.Time.GetUtcNow(), Data: new() { ["by"] = System.Environment.UserName, ["operator"] = app.Operator, ["reason"] = parse.GetValue(reason) }));
                log.Warning("Run {RunId}: data loss beyond the RPO target accepted by {User}", id, System.Environment.UserName);
                run = run with { AcceptDataLoss = true };
            }
            var leftOut = LeftOut(topology, parse.GetValue(without)).Except(run.Without).ToList();
            if (leftOut.Count > 0)
            {
                if (run.Kind != RunKind.Failover) throw new UsageException("--without-tenant is for a failover; a rehearsal or migration moves every tenant");
                if (run.Without.Concat(leftOut).Distinct().Count() == topology.Tenants.Count)
                    throw new UsageException("--without-tenant would leave every tenant out: there would be nothing to fail over");
                using (Lock(store, run, "failover resume --without-tenant"))
                using (var journal = store.OpenJournal(id))
                    journal.Append(new JournalRecord(JournalEvent.TenantsLeftOut, app.Time.GetUtcNow(), Data: new()
                    {
                        ["tenants"] = new System.Text.Json.Nodes.JsonArray(leftOut.Select(t => (System.Text.Json.Nodes.JsonNode)t).ToArray()),
                        ["by"] = System.Environment.UserName, ["operator"] = app.Operator, ["reason"] = parse.GetValue(reason),
                    }));
                log.Warning("Run {RunId} goes on without {Tenants}", id, string.Join(", ", leftOut));
                run = run with { Without = [.. run.Without, .. leftOut] };
            }
            if (run.Kind == RunKind.Restore) return await RestoreCommand.ResumeAsync(app, topology, store, run, log, ct);
            if (run.Kind == RunKind.Rehearsal) return await RehearseCommand.ResumeAsync(app, topology, store, run, log, ct);
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
            "run can start. What was already done (servers, restores) stays as it is and is listed in the report; a\n" +
            "rehearsal's copy is torn down first (if that fails, the rehearsal stays open).\n\n" +
            "Examples:\n  failover abort");
        command.SetAction((parse, ct) => app.ExecuteAsync(parse, async (topology, log) =>
        {
            var store = Store(app, parse, topology);
            var id = store.Current ?? throw new UsageException("there is no unfinished run to abort");
            var run = RunEngine.ContextOf(store.ReadJournal(id));
            if (run?.Kind == RunKind.Rehearsal && await RehearseCommand.TearDownBeforeAbortAsync(app, topology, store, run, log) is { } failed)
                return failed;
            using (Lock(store, run ?? new RunContext(id, RunKind.Failover, "?", "?", null, false, System.Environment.UserName, OperatorHost.Name), "failover abort", log))
            using (var journal = store.OpenJournal(id))
            {
                // A migration killed during its freeze left production refusing writes: give them back before giving up.
                if (run?.Kind == MigrateCommand.Kind && !await MigrateCommand.ThawBeforeAbortAsync(app, topology, store, run, journal, log))
                {
                    app.Error($"not aborted: run {id} stays open so that its source is thawed; fix the cause and run `failover abort` again");
                    return ExitCodes.Failed;
                }
                journal.Append(new JournalRecord(JournalEvent.RunAborted, app.Time.GetUtcNow(), Data: new() { ["by"] = System.Environment.UserName }));
                if (run is not null)
                {
                    await RunHost.WriteEvidenceAsync(app, topology, store, id, journal, log);
                }
            }
            store.ClearCurrent();
            log.Information("Run {RunId} aborted", id);
            app.Print($"Run {id} aborted. Its report: {store.ReportLocation(id)}\n");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Unlock(App app)
    {
        var force = new Option<bool>("--force") { Description = "Break the lock even if its owner may still be running (only when you are sure)" };
        var command = new Command("unlock",
            "Break a stale run lock: one whose lease ran out without renewal (its machine is gone), or whose process no\n" +
            "longer exists on this host (after a crash or a reboot). It says why the lock was stale. A live lock needs --force.\n" +
            "Stale restic locks in the directory vaults (left by a restic killed with its run) are removed too, each named.\n\n" +
            "Examples:\n  failover unlock\n  failover unlock --force")
        {
            force,
        };
        command.SetAction((parse, ct) => app.ExecuteAsync(parse, async (topology, log) =>
        {
            var store = Store(app, parse, topology);
            if (RunLock.Read(store.State) is not { } held) app.Print($"No run lock is held ({store.State.Location}).\n");
            else
            {
                var owner = held.Owner;
                var stale = owner is not null && RunLock.IsStale(owner);
                if (owner is not null && !stale && !parse.GetValue(force))
                    throw new LockHeldException($"{store.State.Location}/{RunLock.Key}", owner, stale: false);
                // Only the lock judged here: a holder renewing it, or another operator's unlock and new run, changed it.
                if (!store.BreakLock(held.Version))
                {
                    app.Error($"the run lock changed while it was read (renewed, or broken and taken by another operator): nothing was broken; `failover unlock` again looks at the new one");
                    return ExitCodes.Locked;
                }
                log.Warning("Lock broken ({Why}); it was held by {Owner}", stale ? "stale" : "forced", owner?.ToString() ?? "(unreadable)");
                var why = owner is null ? "" : stale
                    ? owner.LeaseUntil is { } until && DateTimeOffset.UtcNow > until ? $": it was stale, its lease ran out at {until:u} without renewal" : ": it was stale, its process no longer exists"
                    : ": forced, its owner may still be running";
                app.Print($"Lock broken{why}{(owner is null ? "" : $" (was: run {owner.RunId}, pid {owner.Pid} on {owner.Host})")}. `failover resume` continues the run.\n");
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

    /// <summary>
    /// `report --verify FILE`: the report's own SHA-256 line against its bytes (needs nothing but the file), then, where the
    /// project's run state is at hand, the run's journal against the chain head the report states.
    /// </summary>
    private static Task<int> VerifyReport(App app, ParseResult parse, string file)
    {
        var path = Path.GetFullPath(file, app.WorkingDirectory);
        if (!File.Exists(path))
        {
            app.Error($"error: no file {path}");
            return Task.FromResult(ExitCodes.Usage);
        }
        var seal = ReportSeal.Verify(File.ReadAllBytes(path));
        if (seal.Stated is null)
        {
            app.Error($"error: {file} has no SHA-256 line at its end (written by a version before the seal, or cut): it cannot be verified");
            return Task.FromResult(ExitCodes.Tampered);
        }
        if (!seal.Matches)
        {
            app.Error($"error: {file} was changed after it was written: its last line states SHA-256 {seal.Stated}, its content hashes to {seal.Actual}");
            return Task.FromResult(ExitCodes.Tampered);
        }
        app.Print($"{file}: unchanged since it was written (SHA-256 {seal.Actual} of every byte above its last line, as it states).\n");
        if (seal.RunId is null || seal.JournalHead is null)
        {
            app.Print("It states no journal chain head (the journal's hash chain was not checked when it was rendered).\n");
            return Task.FromResult(ExitCodes.Ok);
        }
        if (parse.GetValue(App.Stacks) is null && TopologyLoader.FindProjectFile(app.WorkingDirectory) is null)
        {
            app.Print($"Journal not compared: no project here (run from the project folder or pass --stacks DIR). By hand: the last line of run {seal.RunId}'s " +
                      $"journal.jsonl must hash to {seal.JournalHead} (`tail -n 1 journal.jsonl | tr -d '\\n' | sha256sum`) and its chain must hold (`failover report --run {seal.RunId}`).\n");
            return Task.FromResult(ExitCodes.Ok);
        }
        return app.ExecuteAsync(parse, (topology, log) =>
        {
            var store = Store(app, parse, topology);
            var lines = store.JournalLines(seal.RunId);
            if (lines.Count == 0)
            {
                app.Error($"error: no journal of run {seal.RunId} in {store.State.Location}: the report cannot be compared with it here");
                return Task.FromResult(ExitCodes.Failed);
            }
            var integrity = JournalChain.Verify(lines);
            if (integrity.IsBroken)
            {
                app.Error($"error: the journal of run {seal.RunId} fails its hash check: {integrity.Sentence}");
                return Task.FromResult(ExitCodes.Tampered);
            }
            var sealedAt = lines.Select(JournalChain.Hash).ToList().IndexOf(seal.JournalHead);
            if (sealedAt < 0)
            {
                app.Error($"error: the journal of run {seal.RunId} no longer holds the record the report ends on (chain head {seal.JournalHead}): " +
                          "its records were changed or cut since the report was written");
                return Task.FromResult(ExitCodes.Tampered);
            }
            app.Print(sealedAt == lines.Count - 1
                ? $"Journal {store.JournalLocation(seal.RunId)}: the same {lines.Count} records the report covers, {integrity.Sentence}.\n"
                : $"Journal {store.JournalLocation(seal.RunId)}: its first {sealedAt + 1} records are the ones the report covers, unchanged; " +
                  $"{lines.Count - sealedAt - 1} were added after it (`failover report --run {seal.RunId}` renders them). {integrity.Sentence}.\n");
            return Task.FromResult(ExitCodes.Ok);
        });
    }

    private static Command Report(App app)
    {
        var runId = new Option<string?>("--run") { HelpName = "RUN_ID", Description = "The run id (default: the newest run)" };
        var json = App.JsonOption("Print the report as JSON");
        var history = new Option<bool>("--history") { Description = "List the finished rehearsals (from the run state: the shared S3 prefix, or .failover/rehearsals.jsonl)" };
        var verify = new Option<string?>("--verify")
        {
            HelpName = "FILE",
            Description = "Check a filed report.md or report.html: its SHA-256 line against its bytes, and, in the project, the run's journal against the chain head it states",
        };
        var command = new Command("report",
            "Print a run's incident report (timeline, snapshots, RTO and RPO achieved), rebuilt from its journal and its\n" +
            "hash chain checked (exit 9 when a record was changed or removed), or with --history the finished rehearsals,\n" +
            "or with --verify FILE check a filed report (exit 9 when it or its journal changed since it was written).\n\n" +
            "Examples:\n  failover report\n  failover report --run 20261122-031500-a1b2c3 --json\n  failover report --history\n" +
            "  failover report --verify .failover/runs/20261122-031500-a1b2c3/report.md")
        {
            runId, json, history, verify,
        };
        command.SetAction((parse, ct) => parse.GetValue(verify) is { } file ? VerifyReport(app, parse, file) : app.ExecuteAsync(parse, (topology, log) =>
        {
            var store = Store(app, parse, topology);
            if (parse.GetValue(history))
            {
                var entries = store.History.Read();
                if (parse.GetValue(json)) app.Document(Json.Document("rehearsal-history", new { rehearsals = entries }));
                else app.Print(HistoryText(entries));
                return Task.FromResult(ExitCodes.Ok);
            }
            var id = parse.GetValue(runId) ?? store.Runs().FirstOrDefault() ?? throw new UsageException("no run has been recorded yet");
            var records = store.ReadJournal(id);
            if (records.Count == 0 && !store.HasJournal(id)) throw new UsageException($"no run {id} in {store.State.Location} (runs: {string.Join(", ", store.Runs().DefaultIfEmpty("none"))})");
            var integrity = store.JournalIntegrity(id);
            var report = IncidentReport.FromJournal(records, topology.Targets) with { Integrity = integrity, JournalLocation = store.JournalLocation(id) };
            if (parse.GetValue(json)) app.Document(report.JsonText());
            else app.Print(report.Markdown());
            if (integrity.IsBroken) app.Error($"error: the journal of run {id} fails its hash check: {integrity.Sentence}");
            else if (integrity.Status == ChainStatus.NotChained) app.Error($"note: the journal of run {id} is not chained (written by a version before the hash chain): changes to it cannot be detected");
            return Task.FromResult(integrity.IsBroken ? ExitCodes.Tampered : ExitCodes.Ok);
        }));
        return command;
    }
}
