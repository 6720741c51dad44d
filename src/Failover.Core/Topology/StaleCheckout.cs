namespace Failover.Core.Topology;

/// <summary>What a stack's last deployment says about the keys the driver changes, from its outputs (docs/stack-outputs.md).</summary>
public sealed record DeployedStack(string Stack, string? Mode, IReadOnlyDictionary<string, string>? RestoredSnapshots, string? ActiveStack);

/// <summary>One key the stack files and the deployment disagree on, and the <c>pulumi config set</c> that makes the file say what is deployed.</summary>
public sealed record CheckoutDifference(string Stack, string File, string Key, string InStackFiles, string Deployed, bool Path)
{
    public string UpdateCommand => $"pulumi config set{(Path ? " --path" : "")} --stack {Stack} {Key} {Deployed}";
}

/// <summary>
/// The stale-checkout guard: a run, rehearsal or migration started from a checkout that lacks another operator's
/// changes (the driver's `pulumi config set` lands in the stack files of the machine that ran it) could scale down or
/// re-provision the site that now serves. Compares the keys that decide that (mode, snapshots, dns.active) with
/// what is deployed.
/// </summary>
public static class StaleCheckout
{
    public static IReadOnlyList<CheckoutDifference> Compare(Topology topology, IEnumerable<DeployedStack> deployed)
    {
        var differences = new List<CheckoutDifference>();
        foreach (var d in deployed)
        {
            if (topology.Find(d.Stack) is not { } stack) continue;
            var file = System.IO.Path.GetFileName(stack.File);
            var mode = stack.Mode.ToString().ToLowerInvariant();
            if (d.Mode is { Length: > 0 } deployedMode && !string.Equals(deployedMode, mode, StringComparison.OrdinalIgnoreCase))
                differences.Add(new(stack.Name, file, "failover:mode", mode, deployedMode, false));
            // A tenant the stack files name but the site did not restore is a failed restore, not a stale checkout.
            var configured = stack.Snapshots.ToDictionary(s => s.Tenant, s => s.ConfigValue);
            foreach (var (tenant, id) in (d.RestoredSnapshots ?? new Dictionary<string, string>()).OrderBy(p => p.Key, StringComparer.Ordinal))
                if (!configured.TryGetValue(tenant, out var inFiles) || inFiles != id)
                    differences.Add(new(stack.Name, file, $"failover:snapshots.{tenant}", inFiles ?? "(not set)", id, true));
            if (d.ActiveStack is { Length: > 0 } active && stack.Dns is { } dns && dns.ActiveStack != active)
                differences.Add(new(stack.Name, file, "failover:dns.active", dns.ActiveStack, active, true));
        }
        return differences;
    }

    /// <summary>The refusal: each difference, then how to bring the checkout up to date.</summary>
    public static string Describe(IReadOnlyList<CheckoutDifference> differences)
    {
        var lines = differences.Select(d => $"  {d.File}: {d.Key} is {d.InStackFiles} in the stack files, {d.Deployed} deployed");
        return "the stack files of this checkout differ from what is deployed, so this command could undo another operator's run " +
               "(nothing was changed):\n" + string.Join("\n", lines) + "\n" +
               "Update the checkout first: `git pull` (the run that changed them listed the stack files to commit). If they were never " +
               "committed, make the files say what is deployed:\n" +
               string.Join("\n", differences.Select(d => "  " + d.UpdateCommand)) + "\n" +
               "then commit them and run the command again.";
    }
}
