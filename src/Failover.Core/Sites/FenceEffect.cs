using Failover.Core.Topology;

namespace Failover.Core.Sites;

/// <summary>What fencing a cloud site does to its servers: the application servers it removes, the data server it keeps.</summary>
/// <remarks>
/// Why remove rather than stop: neither provider can stop a server through the SDK surface infra/ is built against.
/// The hcloud 1.39.1 Server has no power state; pulumi-aws has one (<c>aws.ec2transitgateway.InstanceState</c>, state
/// <c>stopped</c>: pulumi.com/registry/packages/aws/api-docs/ec2transitgateway/instancestate), but its module is not in
/// the SDK facade infra/ is compile-checked against, and its own page warns it "may stop an instance while the user
/// data script is in mid run". One rule serves both providers. A kept application server would go on running its
/// cron jobs, queues and webhooks behind the closed firewall and, on Hetzner, reach its database over the private
/// network, which Hetzner firewalls do not filter (docs.hetzner.com/cloud/firewalls/faq). Removed, it runs nothing;
/// it holds nothing but what its user data installs, and the site's next provisioning makes it again. The data server
/// stays (the forensic copy and the failback source) with its volume and addresses, delete-protected, behind a
/// firewall that admits SSH from the admin ranges and lets nothing out.
/// </remarks>
public sealed record FenceEffect(string Site, IReadOnlyList<string> Removed, string? Kept, bool KeptServerRunsTheApplication)
{
    /// <summary>The fence of <paramref name="site"/> as it runs now (a site already fenced: as it ran at full size).</summary>
    public static FenceEffect Of(StackSpec site)
    {
        var before = SitePlan.For(site.Mode == SiteMode.Fenced ? site with { Mode = SiteMode.Full } : site);
        var after = SitePlan.For(site with { Mode = SiteMode.Fenced });
        var kept = after.Servers.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var data = after.DataServer;
        // Created by the fence of a site that ran nothing (cold) is not kept: there is nothing to keep.
        var keptData = data is not null && before.Servers.Any(s => s.Name == data.Name) ? data : null;
        return new FenceEffect(site.Name, before.Servers.Where(s => !kept.Contains(s.Name)).Select(s => s.Name).ToList(),
            keptData?.Name, keptData?.ServesTraffic == true);
    }

    /// <summary>One sentence for the fence step's result and the report.</summary>
    public string Describe()
    {
        var parts = new List<string>();
        if (Removed.Count > 0)
            parts.Add($"{string.Join(", ", Removed)} removed (application servers: they run nothing now and are made again from their user data when {Site} serves again)");
        if (Kept is not null)
            parts.Add($"{Kept} kept with its volume and data, delete-protected, behind a firewall that admits SSH from the admin ranges only and lets nothing out" +
                (KeptServerRunsTheApplication ? $"; {Kept} also runs the application, whose processes keep running there with nothing in or out (stop them over SSH)" : ""));
        return parts.Count == 0 ? "its firewall admits SSH only and lets nothing out; no server ran" : string.Join("; ", parts);
    }
}
