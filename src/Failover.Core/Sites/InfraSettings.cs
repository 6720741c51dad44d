using Failover.Core.Topology;

namespace Failover.Core.Sites;

/// <summary>
/// The database-part snapshot of the backup set a standby restores one tenant from, set by the driver at failover time;
/// a null <paramref name="SnapshotId"/> is a tenant the run left out on purpose (`--without-tenant`, written
/// <see cref="LeftOutValue"/>), so that a restore point still names every tenant and a forgotten one stays an error.
/// </summary>
public sealed record ConfiguredSnapshot(string Tenant, string? SnapshotId, int? Line)
{
    /// <summary>The value of <c>failover:snapshots.TENANT</c> for a tenant left out of the restore (no hex id can be it).</summary>
    public const string LeftOutValue = "left-out";

    /// <summary>Whether the run left this tenant out: the standby neither restores nor reports it (docs/failover.md, "A tenant without a usable backup").</summary>
    public bool LeftOut => SnapshotId is null;

    /// <summary>The key's value as the stack file holds it.</summary>
    public string ConfigValue => SnapshotId ?? LeftOutValue;

    /// <summary>The restore point of a failover to a standby: each tenant of <paramref name="tenants"/> with its snapshot, or left out.</summary>
    public static IReadOnlyList<ConfiguredSnapshot> Of(IEnumerable<string> tenants, IReadOnlyDictionary<string, string> snapshotIds) =>
        tenants.Select(t => new ConfiguredSnapshot(t, snapshotIds.GetValueOrDefault(t), null)).ToList();
}

/// <summary>What the site serves: the public ports, the health endpoint and the unit started after a restore.</summary>
public sealed record ServiceSettings(IReadOnlyList<int> Ports, int HealthPort, string HealthPath, string? Unit)
{
    public static readonly ServiceSettings Default = new([80, 443], 8080, "/health", null);
}

/// <summary>
/// Reads the <c>failover:*</c> keys only infra uses (<c>snapshots</c>, <c>restoreFrom</c>, <c>service</c>),
/// in the same style as <see cref="StackFileReader"/>: every error names file, key and line.
/// </summary>
internal static class InfraConfigReader
{
    public static IReadOnlyList<ConfiguredSnapshot> ReadSnapshots(ConfigNode node)
    {
        if (node.Node is not YamlDotNet.RepresentationModel.YamlMappingNode map || node.IsSecret)
            throw node.Error("expected a mapping of tenant to snapshot id",
                "write one line per tenant, e.g. northwind: 4f2a9c1e (pulumi config set --path 'failover:snapshots.northwind' 4f2a9c1e)");
        var result = new List<ConfiguredSnapshot>();
        foreach (var (k, v) in map.Children)
        {
            var tenant = (k as YamlDotNet.RepresentationModel.YamlScalarNode)?.Value ?? "";
            var child = new ConfigNode(v, node.File, $"{node.Key}.{tenant}");
            if (!TenantName.IsValid(tenant))
                throw child.Error($"'{ConfigNode.Printable(tenant)}' is not a tenant name", "use the tenant's name from the production stack's failover:tenants");
            var id = child.AsString();
            if (id == ConfiguredSnapshot.LeftOutValue) { result.Add(new ConfiguredSnapshot(tenant, null, child.Line)); continue; }
            if (!IsSnapshotId(id))
                throw child.Error($"'{id}' is not a restic snapshot id",
                    $"write the id of the tenant's part=db snapshot as `restic snapshots` prints it (8 to 64 hexadecimal characters), or {ConfiguredSnapshot.LeftOutValue} for a tenant the failover leaves out (--without-tenant)");
            result.Add(new ConfiguredSnapshot(tenant, id.ToLowerInvariant(), child.Line));
        }
        return result;
    }

    /// <summary>restic prints 8-character short ids and accepts any unique prefix of the 64-character id.</summary>
    public static bool IsSnapshotId(string id) =>
        id.Length is >= 8 and <= 64 && id.All(char.IsAsciiHexDigit);

    public static Protection ReadProtection(ConfigNode node) => node.AsString() switch
    {
        "on" => Protection.On,
        "released" => Protection.Released,
        var other => throw node.Error($"'{other}' is not a protection setting",
            "write on (the default) or released; the driver sets released itself before a scale-down or an unfence (docs/deploying.md)"),
    };

    public static ServiceSettings ReadService(ConfigNode node)
    {
        var map = node.AsMap("ports", "healthPort", "healthPath", "unit");
        var d = ServiceSettings.Default;
        var ports = map.Optional("ports")?.AsListOrOne().Select(p => p.AsInt(1, 65535)).Distinct().ToList() ?? [.. d.Ports];
        if (ports.Contains(22))
            throw map.Optional("ports")!.Error("port 22 cannot be a service port", "SSH is opened only to failover:access.adminCidrs; remove 22 from ports");
        var healthPort = map.Optional("healthPort")?.AsInt(1, 65535) ?? d.HealthPort;
        if (healthPort == 22)
            throw map.Optional("healthPort")!.Error("the health endpoint cannot listen on the SSH port", "use another port, e.g. healthPort: 8080");
        var pathNode = map.Optional("healthPath");
        var path = pathNode?.AsString() ?? d.HealthPath;
        if (!path.StartsWith('/') || path.Any(c => char.IsWhiteSpace(c) || c is '\'' or '"' or '?' or '#'))
            throw pathNode!.Error($"'{path}' is not a plain URL path", "write a path such as /health");
        var unitNode = map.Optional("unit");
        var unit = unitNode?.AsString();
        if (unit is not null && (!unit.EndsWith(".service", StringComparison.Ordinal)
            || !unit.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '@')))
            throw unitNode!.Error($"'{unit}' is not a systemd service name", "write the unit that runs the application, e.g. unit: acme-app.service");
        return new ServiceSettings(ports, healthPort, path, unit);
    }
}
