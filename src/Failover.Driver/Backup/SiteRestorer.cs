using System.Text.Json.Nodes;
using Failover.Core.Backup;
using Failover.Core.Topology;
using Failover.Driver.Engine;
using Failover.Driver.Runbooks;

namespace Failover.Driver.Backup;

/// <summary>
/// Restores a tenant on a site the driver can reach directly (the local provider) by walking its
/// <see cref="RestorePlan"/> with <see cref="TenantRestore"/>: the backup run and its manifest, each pre-restore hook,
/// then the data (restic into pg_restore, files, every table and file against the manifest), then each post-restore
/// hook, every hook and the data its own journaled effect: a resumed run repeats none that finished. Data cut short by
/// a crash is redone from scratch (the new site serves nobody before the cutover, so its partial copy can be dropped);
/// a hook cut short runs again, after whatever the killed one left running is killed.
/// </summary>
/// <param name="restoreFrom">The restore reading one vault's repository: each snapshot is restored from the vault that holds it.</param>
public sealed class SiteRestorer(VaultSet vaults, Func<IBackupRepository, TenantRestore> restoreFrom, RestoreOptions options) : ISiteRestore
{
    public async Task<string> RestoreAsync(Tenant tenant, TenantSnapshot snapshot, SiteAddress site, IRunEffects effects, CancellationToken cancellation)
    {
        var (vault, repository) = await vaults.VaultOfAsync(snapshot, cancellation);
        var restore = restoreFrom(repository);
        var (host, port) = PostgresOf(site);
        var database = new PostgresDatabase(host, port, tenant.Name, "postgres", null);
        var files = Path.Combine(site.Outputs["filesDirectory"]?.GetValue<string>()
            ?? throw new InvalidOperationException("the site has no filesDirectory output"), tenant.Name);
        var target = new TenantSite(tenant, database, files);
        var journal = new EffectJournal(vault, target, snapshot, effects);
        var result = await restore.RestoreAsync(target, RestorePointSource.Of(vault, snapshot),
            options with { PreHooks = tenant.PreRestore, PostHooks = tenant.PostRestore }, journal, cancellation);
        if (!result.Succeeded)
        {
            var failed = result.Verdicts.LastOrDefault(v => !v.Passed);
            // A manifest that cannot be read makes the set unusable: the run falls back to the previous good one.
            if (failed?.Step == RestorePlan.NameOf(RestoreStepKind.FetchManifest))
                throw new SnapshotDamagedException(snapshot, $"its manifest cannot be read: {failed.Reason}");
            if (result.Hooks.LastOrDefault() is { Succeeded: false } hook)
                throw new InvalidOperationException($"{hook.Stage}-restore hook failed: {hook.Command} exited {hook.ExitCode}: {Tail(hook.Output)}");
            throw new InvalidOperationException(result.Error ?? $"restored data differs from the backup: {string.Join("; ", result.Coherence?.Differences ?? [])}");
        }
        return journal.Summary + string.Concat(result.Hooks.Select(h => $"; {h.Stage} hook `{h.Command}` exited {h.ExitCode}: {Tail(h.Output)}"));
    }

    /// <summary>
    /// Each hook its own effect (FAILOVER_HOOK_EFFECT names it to the processes it starts), the data steps one: the
    /// effect names (<c>hook:STAGE:TENANT:I</c>, <c>data:TENANT:SNAPSHOT</c>) are those journals already hold.
    /// </summary>
    private sealed class EffectJournal(ResticVault vault, TenantSite target, TenantSnapshot snapshot, IRunEffects effects) : IRestoreJournal
    {
        public string Summary { get; private set; } = "";

        public async Task<HookOutcome> HookAsync(RestoreStep step, Func<string?, CancellationToken, Task<HookOutcome>> run, CancellationToken cancellation)
        {
            var effect = EffectKey.RestoreHook(RestorePlan.StageOf(step.Kind), target.Tenant.Name, step.Hook);
            var marker = $"{effects.RunId}/{effect}";
            try
            {
                var recorded = await effects.Once(effect, async x =>
                {
                    // A killed run's hook may still be running (or what it started): it must be gone before the hook runs again.
                    await HookLeftovers.KillAsync(marker, x);
                    var outcome = await run(marker, x);
                    // A failed hook is not done: a resumed run runs it again.
                    if (!outcome.Succeeded) throw new HookFailed(outcome);
                    return new JsonObject { ["stage"] = outcome.Stage, ["command"] = outcome.Command, ["exitCode"] = outcome.ExitCode, ["output"] = outcome.Output };
                }, cancellation);
                return new HookOutcome((string)recorded!["stage"]!, (string)recorded["command"]!, (int)recorded["exitCode"]!, (string)recorded["output"]!);
            }
            catch (HookFailed e) { return e.Outcome; }
        }

        public async Task<string> DataAsync(Func<CancellationToken, Task<string>> run, CancellationToken cancellation)
        {
            var data = await effects.Once(EffectKey.RestoreData(target.Tenant.Name, snapshot.SnapshotId), async x =>
            {
                await DropAsync(target.Database, target.FilesDirectory, x);
                try { return (JsonNode)await run(x); }
                catch (RestoreStepFailedException)
                {
                    // A failure is the snapshot's when the set no longer reads back intact (a pack the sampled check missed).
                    if (await vault.Catalog.ReadBackProblemAsync(await vault.SetOf(snapshot, x), x) is { } damage)
                        throw new SnapshotDamagedException(snapshot, damage);
                    throw;
                }
            }, cancellation);
            return Summary = (string)data!;
        }
    }

    private sealed class HookFailed(HookOutcome outcome) : Exception(outcome.Command)
    {
        public HookOutcome Outcome { get; } = outcome;
    }

    /// <summary>The last line a hook printed: enough for the report, the full output is in the log.</summary>
    private static string Tail(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "(no output)";

    internal static (string Host, int Port) PostgresOf(SiteAddress site)
    {
        var text = site.Outputs["postgres"]?.GetValue<string>() ?? throw new InvalidOperationException("the site has no postgres output");
        var colon = text.LastIndexOf(':');
        return (text[..colon], int.Parse(text[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    private static async Task DropAsync(PostgresDatabase database, string files, CancellationToken cancellation)
    {
        await PostgresTools.DropAsync(database, cancellation);
        if (Directory.Exists(files)) Directory.Delete(files, recursive: true);
    }
}
