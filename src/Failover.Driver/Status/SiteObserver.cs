using Failover.Core.Topology;
using Failover.Driver.Cloud;
using Failover.Driver.Local;
using Failover.Driver.Pulumi;

namespace Failover.Driver.Status;

/// <summary>What status sees of one site now: whether it answers, its service addresses, or why it could not look.</summary>
public sealed record SiteView(bool Answers, IReadOnlyList<string> Addresses, string? CannotCheck = null);

/// <summary>Looks at sites for `failover status` without changing anything.</summary>
public interface ISiteObserver
{
    Task<SiteView> ObserveAsync(StackSpec site, CancellationToken cancellation);
}

/// <summary>
/// Local sites answer when their PostgreSQL accepts connections on the site's address; cloud sites when their
/// health URL (a stack output) answers 2xx, at the service addresses the stack exports.
/// </summary>
/// <param name="probe">How long a health URL may take to answer (runtime option probe).</param>
public sealed class SiteObserver(LocalSites local, Lazy<IPulumi> pulumi, HttpClient http, TimeSpan probe) : ISiteObserver
{
    public async Task<SiteView> ObserveAsync(StackSpec site, CancellationToken cancellation)
    {
        if (site.Site.Provider == Provider.Local)
            return new SiteView(await local.IsServingAsync(site, cancellation), [LocalSites.Address(site)]);

        IReadOnlyDictionary<string, StackOutput> outputs;
        try { outputs = await pulumi.Value.GetOutputsAsync(site.Name, cancellation); }
        catch (Exception e) when (e is PulumiCommandException or PulumiNotFoundException or PulumiTimeoutException)
        {
            return new SiteView(false, [], $"cannot read the stack outputs of {site.Name}: {e.Message}");
        }
        var addresses = PulumiSites.ServiceAddressesOf(outputs);
        return new SiteView(PulumiSites.HealthUrlOf(outputs) is { } url && await PulumiSites.AnswersAsync(http, url, probe, cancellation), addresses);
    }
}
