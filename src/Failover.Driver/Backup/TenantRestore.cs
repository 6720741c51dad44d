using Failover.Core.Backup;
using Failover.Driver.Logging;
using Serilog;

namespace Failover.Driver.Backup;

/// <summary>One tenant to restore: the chosen backup, where to put it, and how.</summary>
public sealed record TenantRestoreJob(TenantSite Target, RestorePoint Point, RestoreOptions Options);

/// <summary>What restoring one tenant achieved: coherence with the manifest, hook output, or the error that stopped it.</summary>
public sealed record TenantRestoreResult(string Tenant, string RunId, Coherence? Coherence, IReadOnlyList<HookOutcome> Hooks, string? Error)
{
    public bool Succeeded => Error is null && Coherence is { IsCoherent: true } && Hooks.All(h => h.Succeeded);

    /// <summary>The verdict of each step of the <see cref="RestorePlan"/> that ran, in order; the last is the failed one when it failed.</summary>
    public IReadOnlyList<StepVerdict> Verdicts { get; init; } = [];

    public static TenantRestoreResult Failed(string tenant, string runId, string error, IReadOnlyList<HookOutcome>? hooks = null) =>
        new(tenant, runId, null, hooks ?? [], error);
}

/// <summary>Restores one tenant from a restore point already read.</summary>
public interface ITenantRestorer
{
    Task<TenantRestoreResult> RestoreAsync(TenantRestoreJob job, CancellationToken cancellation);
}

/// <summary>Where a restore finds the tenant's backup run (the plan's find-run step) and its manifest (fetch-manifest).</summary>
public sealed record RestorePointSource(Func<CancellationToken, Task<BackupSet>> FindRun, Func<BackupSet, CancellationToken, Task<RestorePoint>> FetchManifest)
{
    /// <summary>A restore point already chosen and read.</summary>
    public static RestorePointSource Of(RestorePoint point) => new(_ => Task.FromResult(point.Set), (_, _) => Task.FromResult(point));

    /// <summary>The run's vault: the set of a chosen database snapshot, and its manifest from the catalog.</summary>
    public static RestorePointSource Of(ResticVault vault, Runbooks.TenantSnapshot snapshot) =>
        new(ct => vault.SetOf(snapshot, ct), vault.Catalog.RestorePointAsync);
}

/// <summary>
/// How the executor's effects are kept: each hook, and the data steps together (create-database to verify-files),
/// may be journaled so that a resumed run repeats none that finished. <see cref="None"/> runs them as they come.
/// </summary>
public interface IRestoreJournal
{
    /// <summary>Runs a hook step; <c>run</c> takes the marker its processes carry (or null).</summary>
    Task<HookOutcome> HookAsync(RestoreStep step, Func<string?, CancellationToken, Task<HookOutcome>> run, CancellationToken cancellation);

    /// <summary>Runs the data steps; <c>run</c> returns the summary on success and throws <see cref="RestoreStepFailedException"/> on a failed step.</summary>
    Task<string> DataAsync(Func<CancellationToken, Task<string>> run, CancellationToken cancellation);

    public static readonly IRestoreJournal None = new Unjournaled();

    private sealed class Unjournaled : IRestoreJournal
    {
        public Task<HookOutcome> HookAsync(RestoreStep step, Func<string?, CancellationToken, Task<HookOutcome>> run, CancellationToken cancellation) => run(null, cancellation);
        public Task<string> DataAsync(Func<CancellationToken, Task<string>> run, CancellationToken cancellation) => run(cancellation);
    }
}

/// <summary>A step of the restore plan failed: its verdict, and the coherence a check step found.</summary>
public sealed class RestoreStepFailedException(StepVerdict verdict, Coherence? coherence = null) : Exception($"{verdict.Step}: {verdict.Reason}")
{
    public StepVerdict Verdict { get; } = verdict;
    public Coherence? Coherence { get; } = coherence;
}

/// <summary>
/// The driver's executor of a tenant's <see cref="RestorePlan"/> (the same steps, order and verdicts as the bash that
/// cloud-init runs): find the run, fetch its manifest, pre hooks, database (restic dump into pg_restore), files
/// (restic restore), every table's rows and checksum and every file against the manifest, then post hooks. The
/// files are fetched alongside the database from create-database on (they are independent, and restic reads under a
/// shared lock), their verdict taken at the plan's restore-files step. The first failed step ends the restore.
/// </summary>
public sealed class TenantRestore(IBackupRepository repository, PostgresTools postgres, RestoreHooks hooks, SecretRegistry secrets, ILogger log,
    Action<TransferProgress>? progress = null) : ITenantRestorer
{
    public Task<TenantRestoreResult> RestoreAsync(TenantRestoreJob job, CancellationToken cancellation) =>
        RestoreAsync(job.Target, RestorePointSource.Of(job.Point), job.Options, IRestoreJournal.None, cancellation);

    public async Task<TenantRestoreResult> RestoreAsync(TenantSite target, RestorePointSource source, RestoreOptions options, IRestoreJournal journal, CancellationToken cancellation)
    {
        var tenant = target.Tenant.Name;
        var plan = RestorePlan.For(tenant, options.PreHooks, options.PostHooks, options.DatabaseJobs);
        var tenantLog = log.ForContext("Tenant", tenant);
        secrets.Add(target.Database.Password);
        var verdicts = new List<StepVerdict>();
        var hookOutcomes = new List<HookOutcome>();
        BackupSet? set = null;
        RestorePoint? point = null;

        TenantRestoreResult Result(string? error, Coherence? coherence) =>
            new(tenant, set?.RunId ?? "", coherence, hookOutcomes, error) { Verdicts = verdicts };

        // Runs one step: its verdict recorded, an exception turned into a failed verdict (redacted), the failure thrown on.
        async Task<T> Step<T>(RestoreStep step, Func<Task<T>> run)
        {
            tenantLog.Information("Restoring {Tenant}: {Step}", tenant, step.Title);
            try
            {
                var value = await run();
                verdicts.Add(StepVerdict.Pass(step));
                return value;
            }
            catch (RestoreStepFailedException e)
            {
                verdicts.Add(e.Verdict);
                throw;
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellation.IsCancellationRequested)
            {
                var verdict = StepVerdict.Fail(step, secrets.Redact(e.Message));
                verdicts.Add(verdict);
                throw new RestoreStepFailedException(verdict);
            }
        }

        var steps = plan.Steps;
        var dataSteps = steps.Where(s => s.Kind is not (RestoreStepKind.FindRun or RestoreStepKind.FetchManifest or RestoreStepKind.PreHook or RestoreStepKind.PostHook)).ToList();
        try
        {
            foreach (var step in steps)
            {
                switch (step.Kind)
                {
                    case RestoreStepKind.FindRun:
                        set = await Step(step, () => source.FindRun(cancellation));
                        tenantLog = tenantLog.ForContext("RunId", set.RunId);
                        break;
                    case RestoreStepKind.FetchManifest:
                        point = await Step(step, () => source.FetchManifest(set!, cancellation));
                        break;
                    case RestoreStepKind.PreHook or RestoreStepKind.PostHook:
                        await HookStepAsync(step);
                        break;
                    case var _ when step == dataSteps[0]:
                        // The data steps are one effect: a crash in between redoes them all from an empty target.
                        var ran = false;
                        await journal.DataAsync(async ct =>
                        {
                            ran = true;
                            return await DataStepsAsync(target, point!, plan, options.ScratchDirectory, dataSteps, Step<int>, ct);
                        }, cancellation);
                        if (!ran) verdicts.AddRange(dataSteps.Select(StepVerdict.Pass)); // done by an earlier run
                        break;
                }
            }
        }
        catch (RestoreStepFailedException e)
        {
            var failed = e.Verdict;
            if (e.Coherence is { } differences)
            {
                tenantLog.Error("Restored {Tenant} differs from its backup: {Differences}", tenant, differences.Differences);
                return Result(null, differences);
            }
            var hook = steps.FirstOrDefault(s => s.Name == failed.Step && s.Kind is RestoreStepKind.PreHook or RestoreStepKind.PostHook);
            var error = hook is null ? $"{failed.Step}: {failed.Reason}" : $"{RestorePlan.StageOf(hook.Kind)}-restore hook failed: {plan.CommandOf(hook)}";
            tenantLog.Error("Restore of {Tenant} failed at {Step}: {Error}", tenant, failed.Step, failed.Reason);
            return Result(error, null);
        }
        tenantLog.Information("Restored {Tenant} from run {RunId}: {Tables} tables and {Files} files match the manifest",
            tenant, set!.RunId, point!.Manifest.Database.Tables.Count, point.Manifest.Files.Count);
        return Result(null, new Coherence([]));

        async Task HookStepAsync(RestoreStep step)
        {
            var stage = RestorePlan.StageOf(step.Kind);
            var command = plan.CommandOf(step);
            var outcome = await journal.HookAsync(step, (marker, ct) => hooks.RunOneAsync(stage, command, target, options.HookTimeout, ct, options.Rehearsal, marker), cancellation);
            hookOutcomes.Add(outcome);
            var verdict = RestoreHooks.Verdict(step, outcome, options.HookTimeout);
            if (!verdict.Passed) tenantLog.Error("{Stage}-restore hook of {Tenant} failed: {Command}: {Reason}", stage, tenant, command, verdict.Reason);
            await Step(step, () => verdict.Passed ? Task.FromResult(0) : throw new RestoreStepFailedException(verdict));
        }
    }

    /// <summary>create-database through verify-files; returns the summary the journal keeps.</summary>
    private async Task<string> DataStepsAsync(TenantSite target, RestorePoint point, RestorePlan plan, string? scratchDirectory, IReadOnlyList<RestoreStep> steps,
        Func<RestoreStep, Func<Task<int>>, Task<int>> step, CancellationToken cancellation)
    {
        var manifest = point.Manifest;
        var meter = new TransferMeter(target.Tenant.Name, manifest.Bytes, progress);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        Task<FilesManifest>? files = null;
        string? scratch = null;
        var prepared = false;
        var restored = false;
        try
        {
            foreach (var s in steps)
            {
                await step(s, async () =>
                {
                    switch (s.Kind)
                    {
                        case RestoreStepKind.CreateDatabase:
                            if (Directory.Exists(target.FilesDirectory) && Directory.EnumerateFileSystemEntries(target.FilesDirectory).Any())
                                throw new InvalidOperationException($"target files directory {target.FilesDirectory} is not empty; restore only into an empty directory");
                            Directory.CreateDirectory(target.FilesDirectory);
                            await postgres.PrepareTargetAsync(target.Database, cancellation);
                            prepared = true;
                            files = Task.Run(async () =>
                            {
                                await repository.RestoreAsync(point.Set.Files!.Id, target.FilesDirectory, stop.Token, meter.Files);
                                meter.Files(manifest.Files.Bytes);
                                return await FileTree.ScanAsync(target.FilesDirectory, stop.Token);
                            }, stop.Token);
                            break;
                        case RestoreStepKind.FetchDump:
                            // pg_restore --jobs needs a seekable file: restore the dump into scratch space first.
                            scratch = Path.Combine(scratchDirectory ?? Path.GetTempPath(), $"failover-restore-{point.Set.Tenant}-{Guid.NewGuid():N}");
                            Directory.CreateDirectory(scratch);
                            await repository.RestoreAsync(point.Set.Database!.Id, scratch, cancellation);
                            meter.Database(manifest.Database.DumpBytes);
                            break;
                        case RestoreStepKind.RestoreDatabase when scratch is null:
                            // Straight from restic into pg_restore: no scratch space, and on small hosts as fast as --jobs.
                            await repository.DumpAsync(point.Set.Database!.Id, BackupLayout.DumpPath(point.Set.Tenant),
                                (stdout, ct) => postgres.RestoreStreamAsync(target.Database, new CountingStream(stdout, meter.Database), ct), cancellation);
                            meter.Database(0);
                            break;
                        case RestoreStepKind.RestoreDatabase:
                            await postgres.RestoreFileAsync(target.Database, Path.Combine(scratch!, BackupLayout.DumpFileName(point.Set.Tenant)), plan.DatabaseJobs, cancellation);
                            break;
                        case RestoreStepKind.RemoveDump:
                            Directory.Delete(scratch!, recursive: true);
                            scratch = null;
                            break;
                        case RestoreStepKind.RestoreFiles:
                            await files!;
                            break;
                        case RestoreStepKind.VerifyDatabase:
                            Check(s, Coherence.CompareTables(manifest, await postgres.TablesAsync(target.Database, cancellation)));
                            break;
                        case RestoreStepKind.VerifyFiles:
                            Check(s, Coherence.CompareFiles(manifest, await files!));
                            break;
                    }
                    return 0;
                });
            }
            restored = true;
        }
        finally
        {
            if (scratch is not null && Directory.Exists(scratch)) Directory.Delete(scratch, recursive: true);
            if (files is { IsCompleted: false })
            {
                // A step failed while the files were still coming: they must not go on writing after the restore has ended.
                stop.Cancel();
                try { await files; } catch (Exception) { /* the failed step is the verdict */ }
            }
            // A failed data step leaves nothing half-restored to be served (the plan's rule for both executors): what this
            // restore brought is dropped. Never a target it refused (one holding data it did not bring); an interrupted
            // restore is redone from an empty target anyway.
            if (prepared && !restored && !cancellation.IsCancellationRequested)
            {
                await PostgresTools.DropAsync(target.Database, CancellationToken.None);
                if (Directory.Exists(target.FilesDirectory)) Directory.Delete(target.FilesDirectory, recursive: true);
            }
        }
        return $"{target.Tenant.Name}: {manifest.Database.Tables.Sum(t => t.Rows)} rows in {manifest.Database.Tables.Count} tables and {manifest.Files.Count} files match the manifest of run {point.Set.RunId}";

        static void Check(RestoreStep step, Coherence coherence)
        {
            if (!coherence.IsCoherent) throw new RestoreStepFailedException(StepVerdict.Fail(step, RestoreFindings.Join(coherence.Differences)), coherence);
        }
    }
}
