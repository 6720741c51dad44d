using Failover.Core.Topology;

namespace Failover.Core.Sites;

/// <summary>Checks the infra keys that name other stacks or tenants against the whole topology.</summary>
internal static class InfraReferences
{
    public static void Check(IReadOnlyList<StackSpec> stacks, List<TopologyProblem> problems)
    {
        var production = stacks.FirstOrDefault(s => s.Role == Role.Production);
        foreach (var s in stacks)
        {
            if (s.RestoreFrom is { } vault && !stacks.Any(v => v.Role == Role.Vault && v.Name == vault))
                problems.Add(new TopologyProblem(s.File, StackFileReader.Namespace + "restoreFrom", null,
                    $"'{vault}' is not a vault stack",
                    $"name a stack with failover:role: vault (known: {string.Join(", ", stacks.Where(v => v.Role == Role.Vault).Select(v => v.Name).DefaultIfEmpty("(none)"))})"));
            if (s.Snapshots.Count == 0 || production is null) continue;
            var tenants = production.Tenants.Select(t => t.Name).ToHashSet();
            foreach (var snap in s.Snapshots.Where(x => !tenants.Contains(x.Tenant)))
                problems.Add(new TopologyProblem(s.File, $"{StackFileReader.Namespace}snapshots.{snap.Tenant}", snap.Line,
                    $"tenant '{snap.Tenant}' is not in {production.Name}'s failover:tenants{ConfigNode.Suggest(snap.Tenant, tenants)}",
                    $"name the tenants exactly as the production stack does; if an earlier failover left it for a tenant production has dropped, remove it: pulumi config rm --path '{StackFileReader.Namespace}snapshots.{snap.Tenant}' --stack {s.Name}"));
            var missing = production.Tenants.Select(t => t.Name).Where(t => s.Snapshots.All(x => x.Tenant != t)).ToList();
            if (missing.Count > 0)
                problems.Add(new TopologyProblem(s.File, StackFileReader.Namespace + "snapshots", s.Snapshots[0].Line,
                    $"no snapshot for {string.Join(", ", missing)}: those tenants would come up empty",
                    $"give every tenant its snapshot id, or {ConfiguredSnapshot.LeftOutValue} for one the failover leaves out on purpose (`failover run` sets them all), or remove failover:snapshots"));
            if (s.Snapshots.Count > 0 && s.Snapshots.All(x => x.LeftOut))
                problems.Add(new TopologyProblem(s.File, StackFileReader.Namespace + "snapshots", s.Snapshots[0].Line,
                    "every tenant is left out: the standby would restore nothing",
                    "give at least one tenant its snapshot id, or remove failover:snapshots"));
        }
    }
}
