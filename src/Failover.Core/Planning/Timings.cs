using Failover.Core.Topology;

namespace Failover.Core.Planning;

/// <summary>
/// Typical durations the estimates are built from, per provider. They are assumptions, stated so they
/// can be argued with: measured figures from a drill or rehearsal replace them via failover:restore.
/// </summary>
public sealed record ProviderTimings(
    TimeSpan ServerCreate,
    TimeSpan Bootstrap,
    TimeSpan ConfigApply)
{
    public static ProviderTimings For(Provider provider) => provider switch
    {
        // Hetzner Cloud servers are usually running within a minute; cloud-init then installs PostgreSQL and restic.
        Provider.Hetzner => new(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(240), TimeSpan.FromSeconds(30)),
        // EC2 instances take longer to pass status checks.
        Provider.Aws => new(TimeSpan.FromSeconds(120), TimeSpan.FromSeconds(300), TimeSpan.FromSeconds(45)),
        _ => new(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(2)),
    };
}

/// <summary>Durations of the steps that do not depend on the data size.</summary>
public static class Timings
{
    public static readonly TimeSpan Assess = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan Gate = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan Fence = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan DnsApply = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan Report = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Percent of the backup data read back by <c>restic check --read-data-subset</c> before use: the one value the
    /// plan estimates with and the run reads (Driver BackupCatalog).
    /// </summary>
    public const int VerifySamplePercent = 10;

    /// <summary>Share of the backup data read back before use (<see cref="VerifySamplePercent"/>).</summary>
    public const double VerifySampleShare = VerifySamplePercent / 100.0;

    /// <summary>The <c>--read-data-subset</c> argument for that share.</summary>
    public static readonly string VerifySubset = $"{VerifySamplePercent}%";

    /// <summary>Room needed on disk per GB of backup: the restored database, its indexes and restic's cache.</summary>
    public const double StorageHeadroom = 1.5;

    /// <summary>How long after a change every authoritative server of the zone answers it.</summary>
    public static TimeSpan DnsPropagation(DnsProvider provider) => provider switch
    {
        DnsProvider.Route53 => TimeSpan.FromSeconds(60),   // Route 53: changes reach all its servers within about 60 s
        DnsProvider.HetznerDns => TimeSpan.FromSeconds(120),
        _ => TimeSpan.FromSeconds(5),                        // a self-hosted PowerDNS answers from its database at once
    };
}
