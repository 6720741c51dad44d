using System.Text.Json;
using Failover.Core.Topology;
using Failover.Driver.Runbooks;

namespace Failover.Driver.Cloud;

/// <summary>
/// On a cloud site the restore runs in cloud-init on the server (one recipe, rendered by Core); the driver
/// waits until the site's health endpoint reports the tenant restored from the expected snapshot.
/// </summary>
public sealed class CloudTenantRestorer(HttpClient http, TimeProvider time, TimeSpan deadline, TimeSpan interval) : ISiteRestore
{
    public async Task<string> RestoreAsync(Tenant tenant, TenantSnapshot snapshot, SiteAddress site, Engine.IRunEffects effects, CancellationToken cancellation)
    {
        var url = site.HealthUrl ?? throw new InvalidOperationException("the site exported no healthUrl: cannot see the restore progress");
        var until = time.GetUtcNow() + deadline;
        var last = "no answer yet";
        while (true)
        {
            try
            {
                using var response = await http.GetAsync(url, cancellation);
                var body = await response.Content.ReadAsStringAsync(cancellation);
                if (Failed(body, tenant.Name, snapshot.SnapshotId))
                    throw new InvalidOperationException($"{url} reports the restore of {tenant.Name} failed on the server (see the failover-bootstrap journal there)");
                if (response.IsSuccessStatusCode && Restored(body, tenant.Name) is { } id)
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
