namespace Failover.Core.Topology;

/// <summary>
/// All stacks of one deployment, read from the stack files and checked against each other:
/// one production stack, its standbys, its vaults and at most one DNS stack.
/// </summary>
public sealed class Topology
{
    public Topology(IReadOnlyList<StackSpec> stacks, string? projectBackendUrl, string stacksDirectory,
        IReadOnlyDictionary<string, string>? texts = null)
    {
        Stacks = stacks;
        _texts = texts ?? new Dictionary<string, string>();
        ProjectBackendUrl = projectBackendUrl;
        StacksDirectory = stacksDirectory;
        Production = stacks.Single(s => s.Role == Role.Production);
    }

    // The stack files' texts as read, by stack name: they hold secure: ciphertexts, so nothing prints them.
    private readonly IReadOnlyDictionary<string, string> _texts;

    public IReadOnlyList<StackSpec> Stacks { get; }
    public StackSpec Production { get; }
    public string StacksDirectory { get; }

    /// <summary><c>backend.url</c> from Pulumi.yaml, when the project pins its state backend there.</summary>
    public string? ProjectBackendUrl { get; }

    /// <summary>Where the Pulumi state lives: Pulumi.yaml's backend, else the documented stack-file key.</summary>
    public string? StateBackendUrl => ProjectBackendUrl ?? Production.StateBackendUrl;

    public IEnumerable<StackSpec> Standbys => Stacks.Where(s => s.Role == Role.Standby);
    public IEnumerable<StackSpec> Vaults => Stacks.Where(s => s.Role == Role.Vault);
    public StackSpec? DnsStack => Stacks.SingleOrDefault(s => s.Role == Role.Dns);

    public Targets Targets => Production.Targets!;
    public BackupPolicy Backup => Production.Backup!;
    public IReadOnlyList<Tenant> Tenants => Production.Tenants;
    public PolicySettings Policy => Production.Policy ?? PolicySettings.Default;

    /// <summary>The time limits of every run and plan: production's <c>failover:timeLimits</c> over the documented defaults.</summary>
    public Planning.RuntimeOptions TimeLimits => Production.TimeLimits ?? Planning.RuntimeOptions.Default;

    public StackSpec? Find(string name) => Stacks.FirstOrDefault(s => s.Name == name);

    /// <summary>A stack file's text exactly as it was read when the topology was loaded; null for a topology built in code.</summary>
    public string? TextOf(StackSpec stack) => _texts.GetValueOrDefault(stack.Name);

    /// <summary>The path a stack's file is written to: in the stacks directory (<see cref="StackSpec.File"/> may be relative to the working directory).</summary>
    public string PathOf(StackSpec stack) => Path.Combine(StacksDirectory, Path.GetFileName(stack.File));

    /// <summary>Restore speed on a target: each key from its own stack file, else production's, else the default.</summary>
    public RestoreSettings RestoreOn(StackSpec target) =>
        target.Restore?.Over(ProductionLink) ?? ProductionLink;

    /// <summary>
    /// Production's link to its vault (production's <c>failover:restore</c>, else the defaults): what a backup run's
    /// length depends on, whichever standby a plan is for.
    /// </summary>
    public RestoreSettings ProductionLink => Production.Restore?.Over(RestoreSettings.Default) ?? RestoreSettings.Default;
}
