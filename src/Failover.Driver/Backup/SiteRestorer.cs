using System.Text.Json.Nodes;
using Failover.Core.Backup;
using Failover.Core.Topology;
using Failover.Driver.Engine;
using Failover.Driver.Runbooks;
using Npgsql;

namespace Failover.Driver.Backup;

/// <summary>
/// Restores a tenant on a site the driver can reach directly (the local provider): each pre-restore hook, then the
/// data (restic into pg_restore, files, coherence against the manifest), then each post-restore hook, every part
/// its own journaled effect: a resumed run repeats none that finished. Data cut short by a crash is redone from
/// scratch (the new site serves nobody before the cutover, so its partial copy can be dropped); a hook cut short
/// runs again, after whatever the killed one left running is killed.
/// </summary>
public sealed class SiteRestorer(ResticVault vault, TenantRestore restore, RestoreOptions options, RestoreHooks hooks) : ISiteRestore
{
    public async Task<string> RestoreAsync(Tenant tenant, TenantSnapshot snapshot, SiteAddress site, IRunEffects effects, CancellationToken cancellation)
    {
        var (host, port) = PostgresOf(site);
        var database = new PostgresDatabase(host, port, tenant.Name, "postgres", null);
        var files = Path.Combine(site.Outputs["filesDirectory"]?.GetValue<string>()
            ?? throw new InvalidOperationException("the site has no filesDirectory output"), tenant.Name);
        var target = new TenantSite(tenant, database, files);
        var outcomes = new List<HookOutcome>();

        outcomes.AddRange(await HooksAsync("pre", tenant.PreRestore, target, effects, cancellation));
        var data = await effects.Once($"data:{tenant.Name}:{snapshot.SnapshotId}", async x => await RestoreDataAsync(target, snapshot, x), cancellation);
        outcomes.AddRange(await HooksAsync("post", tenant.PostRestore, target, effects, cancellation));
        return (string)data! + string.Concat(outcomes.Select(h => $"; {h.Stage} hook `{h.Command}` exited {h.ExitCode}: {Tail(h.Output)}"));
    }

    private async Task<JsonNode?> RestoreDataAsync(TenantSite target, TenantSnapshot snapshot, CancellationToken cancellation)
    {
        await DropAsync(target.Database, target.FilesDirectory, cancellation);
        var set = await vault.SetOf(snapshot, cancellation);
        RestorePoint point;
        try { point = await vault.Catalog.RestorePointAsync(set, cancellation); }
        catch (Exception e) when (e is ResticException or InvalidDataException or System.Text.Json.JsonException)
        {
            throw new SnapshotDamagedException(snapshot, $"its manifest cannot be read: {e.Message}");
        }
        var result = await restore.RestoreAsync(new TenantRestoreJob(target, point, options with { PreHooks = [], PostHooks = [] }), cancellation);
        if (!result.Succeeded)
        {
            var error = result.Error ?? $"restored data differs from the backup: {string.Join("; ", result.Coherence?.Differences ?? [])}";
            // A failure is the snapshot's when the set no longer reads back intact (a pack the sampled check missed).
            if (await vault.Catalog.ReadBackProblemAsync(set, cancellation) is { } damage)
                throw new SnapshotDamagedException(snapshot, damage);
            throw new InvalidOperationException(error);
        }
        var manifest = point.Manifest;
        return $"{target.Tenant.Name}: {manifest.Database.Tables.Sum(t => t.Rows)} rows in {manifest.Database.Tables.Count} tables and {manifest.Files.Count} files match the manifest of run {set.RunId}";
    }

    /// <summary>Each command its own effect (FAILOVER_HOOK_EFFECT names it to the processes it starts); the first that fails stops the restore.</summary>
    private async Task<List<HookOutcome>> HooksAsync(string stage, IReadOnlyList<string> commands, TenantSite target, IRunEffects effects, CancellationToken cancellation)
    {
        var outcomes = new List<HookOutcome>();
        for (var i = 0; i < commands.Count; i++)
        {
            var effect = $"hook:{stage}:{target.Tenant.Name}:{i}";
            var marker = $"{effects.RunId}/{effect}";
            var recorded = await effects.Once(effect, async x =>
            {
                // A killed run's hook may still be running (or what it started): it must be gone before the hook runs again.
                await HookLeftovers.KillAsync(marker, x);
                var outcome = await hooks.RunOneAsync(stage, commands[i], target, options.HookTimeout, x, options.Rehearsal, marker);
                if (!outcome.Succeeded)
                    throw new InvalidOperationException($"{stage}-restore hook failed: {outcome.Command} exited {outcome.ExitCode}: {Tail(outcome.Output)}");
                return new JsonObject { ["stage"] = stage, ["command"] = outcome.Command, ["exitCode"] = outcome.ExitCode, ["output"] = outcome.Output };
            }, cancellation);
            outcomes.Add(new HookOutcome((string)recorded!["stage"]!, (string)recorded["command"]!, (int)recorded["exitCode"]!, (string)recorded["output"]!));
        }
        return outcomes;
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
        await using (var admin = new NpgsqlConnection(database.WithName("postgres").ConnectionString))
        {
            await admin.OpenAsync(cancellation);
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{database.Name}\" WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync(cancellation);
        }
        if (Directory.Exists(files)) Directory.Delete(files, recursive: true);
    }
}
