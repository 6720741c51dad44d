using Failover.Core.Planning;
using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Cloud;
using Failover.Driver.Engine;
using Failover.Driver.Reports;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Cli;

/// <summary>How one invocation of a journaled verb ended, as its exit-code table reads it.</summary>
/// <param name="Compensated">Whether the compensation ran and held (a thaw that worked, a teardown that ran).</param>
internal sealed record RunEnding(RunResult Result, IncidentReport Report, IReadOnlyList<JournalRecord> Records, bool Compensated);

/// <summary>A journaled verb (`run`, `restore`, `rehearse`, `migrate`) as the run host carries it out.</summary>
/// <param name="Target">The site whose credentials the steps need.</param>
/// <param name="Command">The command line the lock names, for an operator who finds it held.</param>
/// <param name="Header">The first line, given the journal's path.</param>
/// <param name="Exit">The verb's exit-code table: its closing lines and code for each ending.</param>
internal sealed record HostedRun(RunContext Run, StackSpec Target, IReadOnlyList<IStep> Steps, string Command, Func<string, string> Header, Func<RunEnding, int> Exit)
{
    /// <summary>The steps whose credentials must be at hand before the lock is taken; by default those the journal has not completed.</summary>
    public IReadOnlyList<StepKind>? CredentialSteps { get; init; }

    /// <summary>Whether the run may change stack files (`pulumi config set`, a role rewrite): then it names the ones to commit.</summary>
    public bool ChangesStackFiles { get; init; } = true;

    /// <summary>What the runbook runs when it stops short (a migration's thaw, a rehearsal's teardown); the engine runs and journals it.</summary>
    public Compensation? Compensation { get; init; }

    /// <summary>How the lock is taken when not as usual (a rehearsal breaks its own stale lock to tear its copy down).</summary>
    public Func<RunLock>? Lock { get; init; }

    /// <summary>What the verb records once the report is written (a rehearsal's history line).</summary>
    public Action<Journal, IncidentReport>? AfterReport { get; init; }

    /// <summary>The line naming the report; by default its location in the run state.</summary>
    public string? ReportLine { get; init; }

    /// <summary>
    /// A run closed on the side of another command (a kept rehearsal copy torn down by `rehearse --teardown`): it does not
    /// take the store's current run from another, and prints no JSON document of its own.
    /// </summary>
    public bool Aside { get; init; }
}

/// <summary>
/// The one run host of the journaled verbs: the credential check, the lock, the journal, the engine (which runs the runbook's compensation),
/// the report written once from the journal, the run closed when it ended, and the verb's exit code.
/// </summary>
internal static class RunHost
{
    public static async Task<int> RunAsync(App app, Topology topology, RunStore store, HostedRun hosted, ILogger log, CancellationToken ct)
    {
        var run = hosted.Run;
        CredentialCheck.Require(topology, hosted.Target, hosted.CredentialSteps ?? CredentialCheck.Remaining(hosted.Steps, store, run.RunId), app.Variable,
            RunCommands.ProjectDirectory(topology));
        using var runLock = hosted.Lock?.Invoke() ?? Lock(store, run, hosted.Command, log);
        var stackFiles = hosted.ChangesStackFiles ? CheckoutGuard.Snapshot(topology) : null;
        if (!hosted.Aside) store.SetCurrent(run.RunId);
        using var journal = store.OpenJournal(run.RunId);
        var stackLog = log.ForContext("Stack", run.Target);
        app.Print(hosted.Header(journal.Path) + "\n");
        var result = await Engine(app, hosted.Steps, hosted.Compensation, stackLog).RunAsync(journal, run, ct);
        var report = await WriteEvidenceAsync(app, topology, store, run.RunId, journal, log);
        hosted.AfterReport?.Invoke(journal, report);
        if (journal.Records.Any(r => r.Event is JournalEvent.RunCompleted or JournalEvent.RunAborted) && (!hosted.Aside || store.Current == run.RunId)) store.ClearCurrent();
        app.Print($"\n{hosted.ReportLine ?? $"Report: {store.ReportLocation(run.RunId)}"}\n");
        if (app.JsonOutput && !hosted.Aside) app.Document(report.JsonText());
        if (stackFiles is not null) SayChangedStackFiles(app, topology, stackFiles);
        return hosted.Exit(new RunEnding(result, report, journal.Records, result.Compensated));
    }

    /// <summary>The engine for a runbook's steps and compensation, its progress on the terminal.</summary>
    public static RunEngine Engine(App app, IReadOnlyList<IStep> steps, Compensation? compensation, ILogger log) =>
        new(steps, app.Time, log, line => app.Print(line + "\n"), app.Display) { Operator = app.Operator, Compensation = compensation };

    /// <summary>The operator's go-ahead: --yes, or the expected name typed; otherwise says nothing was changed.</summary>
    public static bool Confirmed(App app, bool yes, string question, string expected)
    {
        if (yes || app.Confirm(question, expected)) return true;
        app.Error("not confirmed: nothing was changed (use --yes in scripts)");
        return false;
    }

    /// <summary>
    /// The report files rewritten from the journal, published to the shared store, and copied with the journal into the
    /// vault (<see cref="ReportArchive"/>). A copy that fails is a warning: the run's outcome stands, the files are here.
    /// </summary>
    public static async Task<IncidentReport> WriteEvidenceAsync(App app, Topology topology, RunStore store, string runId, Journal journal, ILogger log)
    {
        var dir = store.RunDirectory(runId);
        var report = IncidentReport.FromJournal(journal, topology.Targets) with { VaultCopy = ReportArchive.Describe(topology, runId) };
        IncidentReportFiles.Write(dir, report);
        store.PublishReports(runId);
        try
        {
            if (await ReportArchive.CopyAsync(topology, RunCommands.ProjectDirectory(topology), dir, runId, store.JournalLines(runId), app.Secrets, log, CancellationToken.None) is { } snapshot)
                app.Print($"Evidence copied into the vault {ReportArchive.VaultOf(topology)!.Name}: restic snapshot {snapshot} (tags {ReportArchive.Tag}, {ReportArchive.RunTag(runId)}).\n");
            else if (topology.Backup.Vaults.Count > 0 && ServingSite.Of(topology, store).Site is { Site.Provider: Provider.Aws or Provider.Hetzner } serving)
            {
                // The vaults' write keys are on the serving data server only: it files the copy, the driver reads it back.
                var filing = Core.Sites.ReportFiling.Of(runId, topology.Backup.Vaults, CloudReportFiling.Evidence(dir, store.JournalLines(runId)));
                var said = await Composition.RunPortsFactory.ReportFiling(RunCommands.Environment(app, topology, serving, store, log))
                    .FileAsync(topology, serving, filing, CancellationToken.None);
                log.Information("Evidence of run {RunId}: {Filing}", runId, said);
                app.Print(said + "\n");
            }
        }
        catch (Exception e) when (e is ResticException or InvalidOperationException or IOException or RunState.RunStateUnavailableException)
        {
            // The serving site is read from the shared run state, which may be unreachable at this moment: the run stands.
            log.Warning("Evidence of run {RunId} not copied into the vault: {Error}", runId, e.Message);
            app.Error($"warning: the report was not copied into the vault ({e.Message}); it is in {dir}");
        }
        return report;
    }

    /// <summary>After a run: the stack files it changed (`pulumi config set`, a migration's role rewrite) must reach every operator's checkout.</summary>
    public static void SayChangedStackFiles(App app, Topology topology, IReadOnlyDictionary<string, string> before)
    {
        var changed = CheckoutGuard.Changed(topology, before);
        if (changed.Count == 0) return;
        app.Print($"Stack files changed by this run: {string.Join(", ", changed)} (in {topology.StacksDirectory}). Commit and push them now, " +
                  "so that every operator's checkout says what is deployed; until then another checkout is refused as stale.\n");
    }

    public static RunLock Lock(RunStore store, RunContext run, string command, ILogger? log = null) =>
        store.AcquireLock(new LockOwner(OperatorHost.Name, Environment.ProcessId, DateTimeOffset.UtcNow, run.RunId, command), log);

    /// <summary>The closing lines every verb shares: an interruption, an aborted run, a failed step with the way on.</summary>
    public static int Stopped(App app, RunEnding ending, string interrupted, string failedHint)
    {
        switch (ending.Result.Outcome)
        {
            case RunOutcome.Interrupted:
                app.Error(interrupted);
                return ExitCodes.Interrupted;
            case RunOutcome.Aborted:
                app.Error($"error: {ending.Result.Error}");
                return ExitCodes.Usage;
            default:
                // No failed step when the run only finished a compensation a stopped process began.
                app.Error(ending.Result.FailedStep is { } step ? $"error: step {StepContext.Name(step)} failed: {ending.Result.Error}" : $"error: {ending.Result.Error}");
                app.Error(failedHint);
                return ExitCodes.Failed;
        }
    }
}
