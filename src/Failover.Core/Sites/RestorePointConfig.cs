using System.Text.Json;
using Failover.Core.Topology;

namespace Failover.Core.Sites;

/// <summary>
/// A standby's restore point as its stack config holds it, where infra/ renders the restore from (every
/// <c>failover:snapshots.TENANT</c> key of the stack): exactly one key per tenant of the restore point. A key left by an
/// earlier run (a tenant removed since, or left out of this run) would be restored as it stands, or refused by the data
/// server because the driver pins only this run's records.
/// </summary>
public static class RestorePointConfig
{
    public const string Key = StackFileReader.Namespace + "snapshots";

    /// <summary>The path key of one tenant's snapshot id (`pulumi config set --path`).</summary>
    public static string PathOf(string tenant) => $"{Key}.{tenant}";

    /// <summary>
    /// The tenants' snapshot ids in the value of <see cref="Key"/> as `pulumi config get --json` prints it (the object's
    /// JSON text; null when the stack has no such key). The real CLI stores an all-digit id set with --path as a number.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Parse(string stack, string? json)
    {
        var held = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (json is null) return held;
        using var document = JsonDocument.Parse(json);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
            throw new FormatException($"{stack}: {Key} is not a mapping of tenant to snapshot id: " +
                $"remove it (pulumi config rm {Key} --stack {stack}); the driver sets it on the standby it fails over to");
        foreach (var p in document.RootElement.EnumerateObject())
            held[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
        return held;
    }

    /// <summary>The keys of <paramref name="held"/> that are not in the restore point, to remove before `pulumi up`; nothing else of the stack's config.</summary>
    public static IReadOnlyList<string> Stale(IReadOnlyDictionary<string, string> held, IEnumerable<ConfiguredSnapshot> restorePoint)
    {
        var tenants = restorePoint.Select(s => s.Tenant).ToHashSet(StringComparer.Ordinal);
        return held.Keys.Where(t => !tenants.Contains(t)).Order(StringComparer.Ordinal).Select(PathOf).ToList();
    }

    /// <summary>How <paramref name="held"/> differs from the restore point, one line per key (empty when infra/ renders exactly it).</summary>
    public static IReadOnlyList<string> Differences(IReadOnlyDictionary<string, string> held, IEnumerable<ConfiguredSnapshot> restorePoint)
    {
        var wanted = restorePoint.ToDictionary(s => s.Tenant, s => s.ConfigValue, StringComparer.Ordinal);
        return wanted.Keys.Union(held.Keys).Order(StringComparer.Ordinal)
            .Select(t => (Key: PathOf(t), Held: held.GetValueOrDefault(t), Wanted: wanted.GetValueOrDefault(t)))
            .Where(d => !string.Equals(d.Held, d.Wanted, StringComparison.OrdinalIgnoreCase))
            .Select(d => $"{d.Key} is {d.Held ?? "(not set)"}, this restore point {(d.Wanted is null ? "has no such tenant" : $"says {d.Wanted}")}")
            .ToList();
    }
}
