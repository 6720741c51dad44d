using Failover.Core.Sites;
using Pulumi;

namespace Failover.Infra;

/// <summary>Core's change rules as Pulumi resource options: one mapping for both providers.</summary>
public static class ChangeOptions
{
    /// <summary>Protect (kept sites) and replace delete-first; <paramref name="ignored"/> inputs are left as created.</summary>
    public static CustomResourceOptions Under(this CustomResourceOptions options, ChangeRules rules, IEnumerable<string>? ignored = null)
    {
        options.Protect = rules.Protected;
        options.DeleteBeforeReplace = rules.DeleteBeforeReplace;
        foreach (var input in ignored ?? []) options.IgnoreChanges.Add(input);
        return options;
    }
}
