using Failover.Core.Topology;

namespace Failover.Core.FailureDomains;

/// <summary>How much two sites share, from nothing to the same building.</summary>
public enum SharedLevel
{
    /// <summary>Different providers: nothing in common that we know of.</summary>
    None = 0,
    /// <summary>Same provider: one account, one control plane, one billing relationship.</summary>
    Provider = 1,
    /// <summary>Same provider network zone (Hetzner) or region (AWS): one private network fabric.</summary>
    NetworkZone = 2,
    /// <summary>Same location (city, campus): one fire, flood or power grid can take both.</summary>
    Location = 3,
    /// <summary>Same datacenter building.</summary>
    Datacenter = 4,
}

/// <summary>
/// Where a site sits in the hierarchy provider &gt; network zone &gt; location &gt; datacenter.
/// Two sites that share a location can be lost to one event (the OVH Strasbourg fire).
/// </summary>
public sealed record FailureDomain(Provider Provider, string NetworkZone, string Location, string? Datacenter)
{
    public static FailureDomain Of(Site site) =>
        new(site.Provider, site.NetworkZone, site.Location, site.Datacenter);

    /// <summary>The deepest level both domains share.</summary>
    public SharedLevel SharedWith(FailureDomain other)
    {
        if (Provider != other.Provider) return SharedLevel.None;
        if (!Same(NetworkZone, other.NetworkZone)) return SharedLevel.Provider;
        if (!Same(Location, other.Location)) return SharedLevel.NetworkZone;
        if (Datacenter is null || other.Datacenter is null || !Same(Datacenter, other.Datacenter))
            return SharedLevel.Location;
        return SharedLevel.Datacenter;
    }

    private static bool Same(string a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

    public override string ToString() =>
        $"{Provider.ToString().ToLowerInvariant()}/{NetworkZone}/{Location}" + (Datacenter is null ? "" : $"/{Datacenter}");
}
