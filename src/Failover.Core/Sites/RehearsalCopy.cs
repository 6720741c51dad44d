using Failover.Core.Topology;

namespace Failover.Core.Sites;

/// <summary>
/// One leaf of a stack's Pulumi config: its key or path (<c>failover:site.location</c>,
/// <c>failover:servers[0].mvd.type</c>), its value as text, and whether Pulumi keeps it encrypted.
/// </summary>
public sealed record ConfigLeaf(string Path, string Value, bool Secret)
{
    /// <summary>True when <see cref="Path"/> reaches into a structured value (set with <c>config set --path</c>).</summary>
    public bool IsPath => Path.IndexOfAny(['.', '[']) > Path.IndexOf(':');

    /// <summary>The top-level key the leaf belongs to (<c>failover:servers</c> for <c>failover:servers[0].name</c>).</summary>
    public string Key => IsPath ? Path[..Path.IndexOfAny(['.', '['], Path.IndexOf(':') + 1)] : Path;

    // Records print their members; a secret must not reach a log through string interpolation.
    public override string ToString() => $"{Path} = {(Secret ? "[secret]" : Value)}";
}

/// <summary>
/// The isolated copy of a standby that a rehearsal runs on: the standby's config under its own stack name
/// <c>&lt;standby&gt;-rehearsal</c>, so every resource gets its own name and <c>failover-role: rehearsal</c>
/// labels (<see cref="SiteNames"/>); role rehearsal, which no DNS stack may point at (so no record ever
/// names it); mode mvd; and none of the standby's restore point (the rehearsal sets its own snapshots).
/// </summary>
public static class RehearsalCopy
{
    public const string Suffix = "-rehearsal";

    private const string Role = StackFileReader.Namespace + "role";
    private const string Mode = StackFileReader.Namespace + "mode";
    private const string Snapshots = StackFileReader.Namespace + "snapshots";
    private const string Migrate = StackFileReader.Namespace + "migrate";

    /// <summary>The copy's stack name.</summary>
    public static string StackName(string standby) => standby + Suffix;

    /// <summary>The standby a rehearsal stack copies, from its name.</summary>
    public static string StandbyOf(string rehearsalStack) =>
        rehearsalStack.EndsWith(Suffix, StringComparison.Ordinal) ? rehearsalStack[..^Suffix.Length] : rehearsalStack;

    /// <summary>
    /// The copy as the topology will know it once its stack file exists. Refused when the standby is not a
    /// standby, or when the copy's name is already taken by a stack that is not a rehearsal (it would be
    /// overwritten, then destroyed).
    /// </summary>
    public static StackSpec Of(Topology.Topology topology, StackSpec standby)
    {
        if (standby.Role != Topology.Role.Standby)
            throw new ArgumentException($"{standby.Name} is a {standby.Role.ToString().ToLowerInvariant()} stack; a rehearsal copies a standby", nameof(standby));
        var name = StackName(standby.Name);
        if (topology.Find(name) is { Role: not Topology.Role.Rehearsal } taken)
            throw new TopologyException(new TopologyProblem(taken.File, Role, null,
                $"stack '{name}' is a {taken.Role.ToString().ToLowerInvariant()} stack, but a rehearsal of {standby.Name} needs that name for its copy (which it destroys afterwards)",
                $"rename the stack, or rehearse another standby"));
        var file = Path.Combine(Path.GetDirectoryName(standby.File) ?? "", $"Pulumi.{name}.yaml");
        return standby with { Name = name, File = file, Role = Topology.Role.Rehearsal, Mode = SiteMode.Mvd, Snapshots = [] };
    }

    /// <summary>
    /// The copy's config, from the standby's: everything kept (site, servers, access, service, restoreFrom,
    /// provider credentials, secrets still secret) except the standby's restore point and its migration hooks
    /// (a copy is never migrated from, and the reader refuses them on a rehearsal); role rehearsal, mode mvd.
    /// </summary>
    public static IReadOnlyList<ConfigLeaf> Config(IEnumerable<ConfigLeaf> standby)
    {
        List<ConfigLeaf> copy = [new(Role, "rehearsal", false), new(Mode, "mvd", false)];
        copy.AddRange(standby.Where(l => l.Key is not (Role or Mode or Snapshots or Migrate)));
        return copy;
    }
}
