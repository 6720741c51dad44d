namespace Failover.Core.Topology;

/// <summary>What a stack is for in the topology.</summary>
public enum Role { Production, Standby, Vault, Dns, Rehearsal }

/// <summary>How much of a site is running: the cost/readiness dial of a standby.</summary>
public enum SiteMode
{
    /// <summary>Network, firewall and keys only: nothing runs, almost nothing is billed.</summary>
    Cold,
    /// <summary>The minimal viable deployment: the smallest servers that can serve every tenant.</summary>
    Mvd,
    /// <summary>Production size.</summary>
    Full,
    /// <summary>A former primary kept from taking writes after a failover.</summary>
    Fenced,
}

/// <summary>The infrastructure provider a site runs on.</summary>
public enum Provider { Hetzner, Aws, Local }

/// <summary>Where a stack's resources live, as declared in <c>failover:site</c>.</summary>
public sealed record Site(
    Provider Provider,
    string Location,
    string? Datacenter,
    string NetworkZone,
    string Country,
    string? Address);

/// <summary>One size of a server group: an instance type and how many of it.</summary>
public sealed record ServerSize(string Type, int Count);

/// <summary>The capacity of one server type, from the catalog or declared in the stack file.</summary>
public sealed record ServerCapacity(int Vcpus, double MemoryGb, int DiskGb);

/// <summary>A group of identical servers with its production (full) and minimal (MVD) size.</summary>
public sealed record ServerGroup(
    string Name,
    ServerSize Full,
    ServerSize Mvd,
    int VolumeGb,
    ServerCapacity FullCapacity,
    ServerCapacity MvdCapacity)
{
    /// <summary>The size this group runs at in a given mode (cold and fenced sites run nothing).</summary>
    public ServerSize? SizeIn(SiteMode mode) => mode switch
    {
        SiteMode.Full => Full,
        SiteMode.Mvd => Mvd,
        _ => null,
    };

    /// <summary>Disk space for tenant data in a mode: local disks plus one volume per server.</summary>
    public double StorageGbIn(SiteMode mode) => mode switch
    {
        SiteMode.Full => Full.Count * (FullCapacity.DiskGb + VolumeGb),
        SiteMode.Mvd => Mvd.Count * (MvdCapacity.DiskGb + VolumeGb),
        _ => 0,
    };
}

/// <summary>A customer whose data is backed up and restored as one unit.</summary>
public sealed record Tenant(string Name, int Tier, double DataGb)
{
    /// <summary>Shell commands run before the tenant's restore (e.g. stop its workers).</summary>
    public IReadOnlyList<string> PreRestore { get; init; } = [];

    /// <summary>Shell commands run after its data is verified (e.g. migrations, cache warm-up, start the app).</summary>
    public IReadOnlyList<string> PostRestore { get; init; } = [];
}

/// <summary>How production is backed up: to which vault stacks, how often, kept how long.</summary>
public sealed record BackupPolicy(IReadOnlyList<string> Vaults, TimeSpan Interval, TimeSpan Retention);

/// <summary>The kind of storage a vault stack provides.</summary>
public enum VaultKind
{
    /// <summary>An S3 bucket (AWS), with object lock when immutable.</summary>
    S3,
    /// <summary>A Hetzner Storage Box: one host in one location.</summary>
    StorageBox,
    /// <summary>A restic repository in a local directory (the local provider).</summary>
    Directory,
}

/// <summary>Object-lock style immutability of a vault.</summary>
public enum ImmutabilityMode { None, Governance, Compliance }

/// <summary>What production's backup credentials may do on a vault.</summary>
public enum ProductionAccess
{
    /// <summary>Write new backups only: no delete, no retention change (the safe setting).</summary>
    AppendOnly,
    /// <summary>Can also delete or overwrite: ransomware on production can destroy the backups.</summary>
    ReadWrite,
}

/// <summary>A backup vault's storage and protection, from <c>failover:vault</c>.</summary>
public sealed record VaultSpec(
    VaultKind Kind,
    ImmutabilityMode Immutability,
    TimeSpan ImmutableFor,
    ProductionAccess ProductionAccess,
    string? Bucket,
    string? Path);

/// <summary>The DNS service a zone is hosted on.</summary>
public enum DnsProvider { Route53, HetznerDns, PowerDns }

/// <summary>One service record that follows the active site.</summary>
public sealed record DnsRecord(string Name, string Type);

/// <summary>The DNS zone of the service and which stack it points at, from <c>failover:dns</c>.</summary>
public sealed record DnsSpec(
    DnsProvider Provider,
    string Zone,
    IReadOnlyList<DnsRecord> Records,
    int TtlSeconds,
    string ActiveStack,
    string? ApiUrl,
    SecretValue? ApiKey)
{
    /// <summary>Authoritative servers to verify a cutover on (address:port); empty means the zone's NS records.</summary>
    public IReadOnlyList<string> Servers { get; init; } = [];
}

/// <summary>
/// Commands a planned migration runs when it leaves a site (<c>failover:migrate</c>): freeze its writes (maintenance
/// or read-only mode), thaw them if the migration stops before the cutover, and start a backup of it (cloud sites,
/// whose databases the driver cannot reach).
/// </summary>
public sealed record MigrationHooks(IReadOnlyList<string> Freeze, IReadOnlyList<string> Thaw, IReadOnlyList<string> Backup)
{
    public static readonly MigrationHooks None = new([], [], []);
}

/// <summary>Recovery targets: how much data (RPO) and time (RTO) a loss may cost.</summary>
public sealed record Targets(TimeSpan Rpo, TimeSpan Rto);

/// <summary>How fast restores are assumed to run, for estimates; tuned per site when measured.</summary>
public sealed record RestoreSettings(int Parallelism, double StreamMBps, TimeSpan TenantOverhead)
{
    public static readonly RestoreSettings Default = new(2, 40, TimeSpan.FromSeconds(20));
}

/// <summary>
/// The <c>failover:restore</c> keys one stack file sets; a key left out falls back to production's, then to the
/// default, so a standby that measured only its link speed keeps production's parallelism.
/// </summary>
public sealed record RestoreOverrides(int? Parallelism, double? StreamMBps, TimeSpan? TenantOverhead)
{
    /// <summary>These keys over <paramref name="fallback"/>'s.</summary>
    public RestoreSettings Over(RestoreSettings fallback) =>
        new(Parallelism ?? fallback.Parallelism, StreamMBps ?? fallback.StreamMBps, TenantOverhead ?? fallback.TenantOverhead);
}

/// <summary>A policy finding the team has accepted on purpose, with the reason they gave.</summary>
public sealed record AcceptedRisk(string PolicyId, string Reason);

/// <summary>Topology-wide rules, declared on the production stack in <c>failover:policy</c>.</summary>
public sealed record PolicySettings(IReadOnlyList<string> Jurisdictions, IReadOnlyList<AcceptedRisk> Accepted)
{
    public static readonly PolicySettings Default = new([], []);

    /// <summary>How old the last successful rehearsal may be before `failover status` alarms (failover:policy.rehearsalCadence).</summary>
    public TimeSpan RehearsalCadence { get; init; } = TimeSpan.FromDays(7);
}

/// <summary>Who may administer a site: firewall sources for SSH and the keys installed on servers.</summary>
public sealed record AdminAccess(IReadOnlyList<string> AdminCidrs, IReadOnlyList<string> SshPublicKeys)
{
    public static readonly AdminAccess None = new([], []);
}

/// <summary>A configuration value written as <c>secure:</c> in a stack file; never printed.</summary>
public sealed class SecretValue(string ciphertext)
{
    /// <summary>The encrypted text as stored; only Pulumi can decrypt it.</summary>
    public string Ciphertext { get; } = ciphertext;
    public override string ToString() => "[secret]";
}

/// <summary>Where a line of configuration came from, for error messages and findings.</summary>
public sealed record SourceSpan(string File, string Key, int? Line)
{
    public override string ToString() => Line is { } l ? $"{File}:{l} ({Key})" : $"{File} ({Key})";
}

/// <summary>One Pulumi stack of the topology, read from its <c>Pulumi.&lt;stack&gt;.yaml</c>.</summary>
public sealed record StackSpec(
    string Name,
    string File,
    Role Role,
    Site Site,
    SiteMode Mode,
    IReadOnlyList<ServerGroup> Servers,
    IReadOnlyList<Tenant> Tenants,
    BackupPolicy? Backup,
    VaultSpec? Vault,
    DnsSpec? Dns,
    Targets? Targets,
    RestoreOverrides? Restore,
    PolicySettings? Policy,
    string? StateBackendUrl,
    AdminAccess Access,
    IReadOnlyList<string> SecretKeys)
{
    public FailureDomains.FailureDomain Domain => FailureDomains.FailureDomain.Of(Site);

    /// <summary>Every <c>secure:</c> ciphertext in the file (provider keys included): registered for redaction, never printed.</summary>
    public IReadOnlyList<string> SecretCiphertexts { get; init; } = [];

    /// <summary>Storage the site has for tenant data when it runs in a mode.</summary>
    public double StorageGbIn(SiteMode mode) => Servers.Sum(g => g.StorageGbIn(mode));

    /// <summary>The restore point a standby provisions from (<c>failover:snapshots</c>): empty until a failover.</summary>
    public IReadOnlyList<Sites.ConfiguredSnapshot> Snapshots { get; init; } = [];

    /// <summary>
    /// The stack as a failover deploys it: at full size when it runs full, at MVD from any other mode, restoring exactly
    /// <paramref name="restorePoint"/>. One rule for the driver's <c>failover:mode</c>, the records it pins and the plan's user data.
    /// </summary>
    public StackSpec Provisioned(IReadOnlyList<Sites.ConfiguredSnapshot> restorePoint) =>
        this with { Mode = Mode == SiteMode.Full ? SiteMode.Full : SiteMode.Mvd, Snapshots = restorePoint };

    /// <summary>The vault stack a standby restores from (<c>failover:restoreFrom</c>); null means production's first vault.</summary>
    public string? RestoreFrom { get; init; }

    /// <summary>Whether a kept site's delete protection is lifted for an explicit scale-down or unfence (<c>failover:protection</c>).</summary>
    public Sites.Protection Protection { get; init; } = Sites.Protection.On;

    /// <summary>Ports, health endpoint and application unit of a site (<c>failover:service</c>).</summary>
    public Sites.ServiceSettings Service { get; init; } = Sites.ServiceSettings.Default;

    /// <summary>The freeze, thaw and backup commands of a migration that leaves this site (<c>failover:migrate</c>).</summary>
    public MigrationHooks Migrate { get; init; } = MigrationHooks.None;

    /// <summary>The driver's time limits as the production stack sets them (<c>failover:timeLimits</c>); null: the defaults.</summary>
    public Planning.RuntimeOptions? TimeLimits { get; init; }
}
