using System.Text.Json;
using Failover.Core.Backup;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Runbooks;

namespace Failover.Driver.Cloud;

/// <summary>
/// On a cloud site the restore runs in cloud-init on the server (one recipe, rendered by Core); the driver
/// waits until the site's health endpoint reports the tenant restored from the expected snapshot, and shows the
/// progress the server writes into the health document meanwhile (<see cref="HealthDocument.ProgressOf"/>).
/// </summary>
/// <param name="startAgain">The command that starts the failover again (`failover run --to STANDBY`), named when a set fails on the server; null for a rehearsal, whose finding that is.</param>
/// <param name="progress">Where the tenant's bytes restored go (the run's display), from its first report on the server; its rate and ETA count from then.</param>
public sealed class CloudTenantRestorer(HttpClient http, TimeProvider time, TimeSpan deadline, TimeSpan interval, string? startAgain,
    Action<TransferProgress>? progress = null) : ISiteRestore
{
    public async Task<string> RestoreAsync(Tenant tenant, TenantSnapshot snapshot, SiteAddress site, Engine.IRunEffects effects, CancellationToken cancellation)
    {
        var url = site.HealthUrl ?? throw new InvalidOperationException("the site exported no healthUrl: cannot see the restore progress");
        var until = time.GetUtcNow() + deadline;
        var last = "no answer yet";
        DateTimeOffset? started = null;
        long total = 0;
        while (true)
        {
            try
            {
                using var response = await http.GetAsync(url, cancellation);
                var body = await response.Content.ReadAsStringAsync(cancellation);
                if (Failed(body, tenant.Name, snapshot.SnapshotId))
                    throw new InvalidOperationException(FailedOnServer(url, tenant, snapshot, startAgain));
                var restored = Restored(body, tenant.Name);
                if (HealthDocument.ProgressOf(body, tenant.Name) is { Total: > 0 } p)
                {
                    started ??= time.GetUtcNow();
                    total = p.Total;
                    progress?.Invoke(new TransferProgress(tenant.Name, p.Done, p.Total, time.GetUtcNow() - started.Value));
                }
                else if (restored is not null && started is { } since) // restored on the server, the others still restoring
                    progress?.Invoke(new TransferProgress(tenant.Name, total, total, time.GetUtcNow() - since));
                // Final: ready (200), or degraded (503) when another tenant failed; this one's restore is then as good.
                if ((response.IsSuccessStatusCode || HealthDocument.IsFinal(body)) && restored is { } id)
                {
                    // The server reports restic's full id; the id asked for may be a prefix of it (restic's short ids).
                    if (id.StartsWith(snapshot.SnapshotId, StringComparison.Ordinal) || snapshot.SnapshotId.StartsWith(id, StringComparison.Ordinal))
                        return $"{tenant.Name} restored from {id} (reported by {url})";
                    throw new InvalidOperationException($"{url} reports {tenant.Name} restored from {id}, not {snapshot.SnapshotId}");
                }
                last = $"HTTP {(int)response.StatusCode}";
            }
            catch (HttpRequestException e) { last = e.Message; }
            catch (JsonException) { last = "the health endpoint answered something that is not JSON"; }
            if (time.GetUtcNow() >= until)
                throw new TimeoutException($"{tenant.Name} was not reported restored by {url} within {Core.Topology.Durations.Format(deadline)} (last: {last})");
            await Task.Delay(interval, time, cancellation);
        }
    }

    /// <summary>
    /// What gets past a tenant the server could not restore. The restore point is fixed in the run's journal, so
    /// `resume` would ask the server for the same set again: a damaged set needs a new run from an older point.
    /// </summary>
    internal static string FailedOnServer(string url, Tenant tenant, TenantSnapshot snapshot, string? startAgain)
    {
        var before = snapshot.Time.ToUniversalTime().AddSeconds(-1).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        var failed = $"{url} reports the restore of {tenant.Name} from snapshot {snapshot.SnapshotId} failed on the server " +
                     "(the reason is in the failover-bootstrap journal there: `journalctl -t failover-bootstrap`). ";
        if (startAgain is null)
            return failed + "A rehearsal that fails here has found a backup set that does not restore: check the vault with `restic check --read-data`.";
        return failed +
               "If that set is damaged (`restic check --read-data` on the vault says so), `resume` asks for the same set again: " +
               "end this run with `failover abort` and start again from the previous set with " +
               $"`{startAgain} --restore-point {before}` (add --accept-data-loss if that is older than the RPO target). " +
               "If the cause was on the server (disk, a hook), fix it and `failover resume`.";
    }

    /// <summary>
    /// The health document lists records whose restore failed: by tenant name, or by the snapshot id (the first
    /// 12 hex digits the user data carries) when that id never resolved to a tenant: {"failed": ["tenant", "9f8e7d6c0a1b"]}.
    /// </summary>
    private static bool Failed(string body, string tenant, string snapshotId)
    {
        if (!body.TrimStart().StartsWith('{')) return false;
        using var doc = JsonDocument.Parse(body);
        var key = Core.Sites.RestoreRecipe.KeyOf(snapshotId);
        return doc.RootElement.TryGetProperty("failed", out var f) && f.ValueKind == JsonValueKind.Array
               && f.EnumerateArray().Any(e => e.GetString() == tenant || e.GetString() == key);
    }

    /// <summary>The health document lists restored tenants: {"snapshots": {"tenant": "id"}}.</summary>
    private static string? Restored(string body, string tenant)
    {
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.TryGetProperty("snapshots", out var s) && s.ValueKind == JsonValueKind.Object
               && s.TryGetProperty(tenant, out var id) ? id.GetString() : null;
    }
}
