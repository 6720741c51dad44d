using Failover.Core.Backup;
using Failover.Core.Topology;
using Failover.Driver.Runbooks;
using Npgsql;

namespace Failover.Driver.Backup;

/// <summary>
/// Restores a tenant on a site the driver can reach directly (the local provider): restic into
/// pg_restore, files, coherence against the manifest. A restore cut short by a crash is redone from
/// scratch: the new site serves nobody before the cutover, so its partial copy can be dropped.
/// </summary>
public sealed class SiteRestorer(ResticVault vault, TenantRestore restore, RestoreOptions options) : ISiteRestore
{
    public async Task<string> RestoreAsync(Tenant tenant, TenantSnapshot snapshot, SiteAddress site, CancellationToken cancellation)
    {
        var (host, port) = PostgresOf(site);
        var database = new PostgresDatabase(host, port, tenant.Name, "postgres", null);
        var files = Path.Combine(site.Outputs["filesDirectory"]?.GetValue<string>()
            ?? throw new InvalidOperationException("the site has no filesDirectory output"), tenant.Name);
        await DropAsync(database, files, cancellation);

        var point = await vault.Catalog.RestorePointAsync(await vault.SetOf(snapshot, cancellation), cancellation);
        var (set, manifest) = (point.Set, point.Manifest);
        var withHooks = options with { PreHooks = tenant.PreRestore, PostHooks = tenant.PostRestore };
        var result = await restore.RestoreAsync(new TenantRestoreJob(new TenantSite(tenant, database, files), point, withHooks), cancellation);
        var hooks = string.Concat(result.Hooks.Select(h => $"; {h.Stage} hook `{h.Command}` exited {h.ExitCode}: {Tail(h.Output)}"));
        if (!result.Succeeded)
            throw new InvalidOperationException((result.Error ?? $"restored data differs from the backup: {string.Join("; ", result.Coherence?.Differences ?? [])}") + hooks);
        return $"{tenant.Name}: {manifest.Database.Tables.Sum(t => t.Rows)} rows in {manifest.Database.Tables.Count} tables and {manifest.Files.Count} files match the manifest of run {set.RunId}{hooks}";
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
