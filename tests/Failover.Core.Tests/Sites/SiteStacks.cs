using Failover.Core.Topology;

namespace Failover.Core.Tests.Sites;

/// <summary>The example stacks, optionally with lines appended to one stack file (as `pulumi config set` would).</summary>
internal static class SiteStacks
{
    public static readonly string[] Tenants =
        ["northwind", "contoso", "fabrikam", "tailspin", "wingtip", "adventure-works", "litware", "proseware", "lucerne", "margie"];

    public static Topology.Topology Load() => TopologyLoader.Load(Examples.CloudStacks);

    /// <summary>A copy of the examples where <paramref name="stack"/>'s file has some keys replaced or added.</summary>
    public static Topology.Topology With(string stack, string yamlToAppend, params string[] keysToDrop) =>
        With((stack, yamlToAppend, keysToDrop));

    /// <summary>As <see cref="With(string, string, string[])"/>, for several stack files at once.</summary>
    public static Topology.Topology With(params (string Stack, string YamlToAppend, string[] KeysToDrop)[] edits)
    {
        var dir = Examples.Copy(Examples.CloudStacks);
        foreach (var (stack, yaml, drop) in edits) Edit(dir, stack, yaml, drop);
        return TopologyLoader.Load(dir);
    }

    private static void Edit(string dir, string stack, string yamlToAppend, string[] keysToDrop)
    {
        var path = Path.Combine(dir, $"Pulumi.{stack}.yaml");
        var lines = File.ReadAllLines(path).ToList();
        foreach (var key in keysToDrop)
        {
            var at = lines.FindIndex(l => l.StartsWith("  " + key + ":", StringComparison.Ordinal));
            if (at < 0) continue;
            var end = at + 1;
            while (end < lines.Count && lines[end].StartsWith("    ", StringComparison.Ordinal)) end++;
            lines.RemoveRange(at, end - at);
        }
        File.WriteAllText(path, string.Join("\n", lines) + "\n" + yamlToAppend);
    }

    /// <summary>The Helsinki standby at MVD size with a snapshot id for every tenant, as the driver sets it.</summary>
    public static Topology.Topology FailedOverToHel1()
    {
        var snapshots = string.Join("", Tenants.Select(t => $"    {t}: {Snapshot(t)}\n"));
        return With("standby-hel1", "  failover:mode: mvd\n  failover:snapshots:\n" + snapshots, "failover:mode");
    }

    /// <summary>As <see cref="FailedOverToHel1"/>, with restore hooks declared for northwind on production.</summary>
    public static Topology.Topology FailedOverToHel1WithHooks(string pre, string post)
    {
        var dir = Examples.Copy(Examples.CloudStacks);
        var prod = Path.Combine(dir, "Pulumi.prod-fsn1.yaml");
        const string line = "    - { name: northwind, tier: 1, dataGb: 25 }\n";
        var text = File.ReadAllText(prod);
        Assert.Contains(line, text);
        File.WriteAllText(prod, text.Replace(line,
            $"    - name: northwind\n      tier: 1\n      dataGb: 25\n      hooks:\n        pre: [{Yaml(pre)}]\n        post: [{Yaml(post)}]\n"));
        var standby = Path.Combine(dir, "Pulumi.standby-hel1.yaml");
        var lines = File.ReadAllLines(standby).Where(l => !l.StartsWith("  failover:mode:", StringComparison.Ordinal));
        File.WriteAllText(standby, string.Join("\n", lines) + "\n  failover:mode: mvd\n  failover:snapshots:\n" +
            string.Join("", Tenants.Select(t => $"    {t}: {Snapshot(t)}\n")));
        return TopologyLoader.Load(dir);
    }

    private static string Yaml(string value) => "'" + value.Replace("'", "''") + "'";

    /// <summary>A stable, distinct 8-hex-digit id per tenant.</summary>
    public static string Snapshot(string tenant) =>
        Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(tenant)))[..8].ToLowerInvariant();
}
