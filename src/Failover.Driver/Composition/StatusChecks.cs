using Failover.Core.Planning;
using Failover.Driver.Dns;
using Failover.Driver.Engine;
using Failover.Driver.Logging;
using Failover.Driver.Pulumi;
using Failover.Driver.Status;
using Serilog;

namespace Failover.Driver.Composition;

/// <summary>
/// The live checks of `failover status`, built here like a run's adapters (<see cref="RunPortsFactory"/>): each site look,
/// health URL and DNS question within the time limits of the command's <see cref="RuntimeOptions"/>.
/// </summary>
public static class StatusChecks
{
    /// <summary>
    /// How status looks at a site: a local site's PostgreSQL port within tcpProbe (its PostgreSQL started within
    /// localDatabaseStart), a cloud site's health URL within probe, each HTTP request within http.
    /// </summary>
    public static SiteObserver Sites(RunStore store, Lazy<IPulumi> pulumi, RuntimeOptions options) =>
        new(RunPortsFactory.LocalSitesOf(store, options), pulumi, RunPortsFactory.HttpFor(options), options.Probe);

    /// <summary>
    /// The checks in the order status prints them: backup age, rehearsal age, the serving site's health, the
    /// authoritative DNS servers' answers (each question within dnsQuery).
    /// </summary>
    /// <param name="serving">The stack that serves now; <paramref name="servingWhy"/> says how that was found.</param>
    public static IReadOnlyList<ILiveCheck> For(string projectDirectory, RunStore store, Lazy<IPulumi> pulumi, SecretRegistry secrets,
        TimeProvider time, ILogger log, RuntimeOptions options, string serving, string? servingWhy)
    {
        var sites = Sites(store, pulumi, options);
        return
        [
            new BackupAgeCheck(projectDirectory, () => pulumi.Value, secrets, time, log),
            new RehearsalAgeCheck(store.History, time),
            new SiteHealthCheck(sites, serving, servingWhy),
            new DnsAnswerCheck(sites, new WireDnsClient(options.DnsQuery), serving),
        ];
    }
}
