using System.Globalization;
using Failover.Core.Topology;

namespace Failover.Core.Backup;

/// <summary>A vault of failover:backup.vaults the site cannot restore from, and why.</summary>
public sealed record SkippedVault(string Name, string Why);

/// <summary>
/// The vaults a site restores from, in the order a run reads them (failover:backup.vaults, or only failover:restoreFrom
/// when set), and the vaults it cannot read with the reason: one rule for the plan, the policies and the run.
/// </summary>
public sealed record VaultOrder(IReadOnlyList<StackSpec> Reads, IReadOnlyList<SkippedVault> Skipped)
{
    /// <summary>The kind of vault a site's restore reads: cloud-init restores from S3, the local provider from directories.</summary>
    public static VaultKind KindFor(StackSpec site) => site.Site.Provider == Provider.Local ? VaultKind.Directory : VaultKind.S3;

    public static VaultOrder For(Topology.Topology topology, StackSpec target)
    {
        var kind = KindFor(target);
        var reads = new List<StackSpec>();
        var skipped = new List<SkippedVault>();
        var names = topology.Backup.Vaults.ToList();
        if (target.RestoreFrom is { } pinned && !names.Contains(pinned)) names.Insert(0, pinned);
        foreach (var name in names)
        {
            var stack = topology.Find(name);
            if (target.RestoreFrom is { } only && name != only)
                skipped.Add(new(name, $"failover:restoreFrom of {target.Name} names {only}"));
            else if (stack?.Vault is null)
                skipped.Add(new(name, "no vault stack of that name"));
            else if (stack.Vault.Kind != kind)
                skipped.Add(new(name, kind == VaultKind.S3
                    ? $"a {stack.Vault.Kind} vault: cloud-init restores only from S3 vaults"
                    : $"a {stack.Vault.Kind} vault: the local provider restores only from directory vaults"));
            else reads.Add(stack);
        }
        return new VaultOrder(reads, skipped);
    }

    /// <summary>One sentence for the plan: the order, the fallback, what is skipped.</summary>
    public string Describe()
    {
        var text = Reads.Count switch
        {
            0 => "no vault it can restore from",
            1 => $"from {Reads[0].Name}",
            _ => $"from {Reads[0].Name}, else {string.Join(", else ", Reads.Skip(1).Select(v => v.Name))} " +
                 "(per tenant: a vault that cannot be read, or whose newest verified set is older than another's, gives way to the next)",
        };
        return Skipped.Count == 0 ? text : text + "; not read: " + string.Join("; ", Skipped.Select(s => $"{s.Name} ({s.Why})"));
    }
}

/// <summary>What a run saw of one vault for one tenant, ahead of the vault it restores that tenant from.</summary>
/// <param name="Unreachable">Why the vault could not be read, or null when it could.</param>
/// <param name="Newest">Its newest complete set of the tenant (null: none).</param>
/// <param name="FailedVerification">How many of its sets at least as new as the chosen one failed verification.</param>
public sealed record VaultLook(string Vault, string? Unreachable, DateTimeOffset? Newest, int FailedVerification);

/// <summary>Why a tenant is restored from a vault other than the first one the run reads: the sentence journaled, logged and reported.</summary>
public static class VaultChoice
{
    /// <returns>Null when the chosen vault is the first one read (nothing to explain).</returns>
    public static string? Why(string tenant, string chosenVault, DateTimeOffset chosenTime, IReadOnlyList<VaultLook> before)
    {
        if (before.Count == 0) return null;
        var reasons = before.Select(v =>
            v.Unreachable is not null ? $"{v.Vault} could not be read ({v.Unreachable})"
            : v.FailedVerification > 0 ? $"{v.Vault}'s newer {(v.FailedVerification == 1 ? "set" : "sets")} failed verification"
            : v.Newest is null ? $"{v.Vault} holds no complete set of {tenant}"
            : $"{v.Vault}'s newest set of {tenant} is from {Stamp(v.Newest.Value)}, older than {chosenVault}'s from {Stamp(chosenTime)}");
        return $"{tenant} is restored from {chosenVault}: " + string.Join("; ", reasons);
    }

    private static string Stamp(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
