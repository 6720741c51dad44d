using Failover.Core.Topology;

namespace Failover.Core.Sites;

/// <summary>How the fence's stop request ended on one server.</summary>
public enum StopOutcome
{
    /// <summary>Accepted: the application stopped and marked fenced (<see cref="ApplicationStop"/>).</summary>
    Stopped,
    /// <summary>The server answered and refused (a bad key, a server that is another site's, no key at all).</summary>
    Refused,
    /// <summary>No answer: the server is down, its datacenter lost, or its firewall already fenced.</summary>
    Unreached,
}

/// <summary>What the fence's stop request did on one server: <paramref name="Detail"/> is its answer, or why there was none.</summary>
public sealed record ServerStop(string Server, StopOutcome Outcome, string Detail);

/// <summary>
/// What fencing a cloud site does: every server it ran is kept (application servers too) with its addresses, volume and
/// data, under the delete/rebuild protection production has (<see cref="ChangeRules"/>), behind a firewall that admits
/// SSH from the admin ranges only and lets nothing out (<see cref="SitePlan.Egress"/>); and the application is stopped
/// on each of them by the site's signed control request (<see cref="ApplicationStop"/>), sent before the `pulumi up`
/// that closes the ports, since after it the daemon cannot be reached. A server the request cannot reach (the usual
/// case when a datacenter is lost) is named, and the run goes on: its firewall holds it isolated, and its application
/// starts again on a reboot because no stop marked it fenced. Only an explicit scale-down or `--destroy-old` removes
/// anything.
/// </summary>
/// <remarks>
/// Why stop and not power off: neither provider can power a server off through the SDK surface infra/ is built
/// against (hcloud 1.39.1 has no power state, hetznercloud/terraform-provider-hcloud#1414; pulumi-aws has
/// <c>aws.ec2transitgateway.InstanceState</c>, not in the facade), and a stopped application on a kept server is what
/// the issue asks: the way back, and the forensic copy, with nothing running that acts on the world.
/// </remarks>
public sealed record FenceEffect(string Site, IReadOnlyList<string> Kept, string? DataServer, ServiceSettings Service)
{
    /// <summary>The fence of <paramref name="site"/> as it runs now (a site already fenced: as it ran at full size).</summary>
    public static FenceEffect Of(StackSpec site)
    {
        var before = SitePlan.For(site.Mode == SiteMode.Fenced ? site with { Mode = SiteMode.Full } : site);
        var after = SitePlan.For(site with { Mode = SiteMode.Fenced });
        var ran = before.Servers.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        // Created by the fence of a site that ran nothing (cold) is not kept: there was nothing to keep.
        var kept = after.Servers.Where(s => ran.Contains(s.Name)).OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
        return new FenceEffect(site.Name, kept.Select(s => s.Name).ToList(), kept.FirstOrDefault(s => s.HoldsData)?.Name, site.Service);
    }

    /// <summary>The servers the stop request goes to, in order: every kept server.</summary>
    public IReadOnlyList<string> Stops => Kept;

    /// <summary>The fence's sentence when no stop could be sent at all (<paramref name="why"/>: no key exported, no address).</summary>
    public string Describe(string why) =>
        Describe(Kept.Select(s => new ServerStop(s, StopOutcome.Unreached, why)).ToList());

    /// <summary>One sentence for the fence step's result and the report: what is kept, where the application stopped, where not.</summary>
    public string Describe(IReadOnlyList<ServerStop> stops)
    {
        if (Kept.Count == 0) return "its firewall admits SSH only and lets nothing out; no server ran";
        var parts = new List<string>
        {
            $"{string.Join(", ", Kept)} kept with their addresses, volumes and data, delete-protected, behind a firewall that admits SSH from the admin ranges only and lets nothing out",
        };
        var stopped = stops.Where(s => s.Outcome == StopOutcome.Stopped).Select(s => s.Server).ToList();
        if (stopped.Count > 0)
            parts.Add($"the application stopped by a signed request on {string.Join(", ", stopped)} and marked fenced ({ApplicationStop.Marker}: it stays stopped across a reboot)" +
                (DataServer is not null && stopped.Contains(DataServer) ? $"; on {DataServer} also the backup agent's timer, and its PostgreSQL takes connections from localhost only" : ""));
        var missed = stops.Where(s => s.Outcome != StopOutcome.Stopped).ToList();
        if (missed.Count > 0)
        {
            string Name(ServerStop s) => $"{s.Server} ({(s.Outcome == StopOutcome.Refused ? "refused: " : "")}{s.Detail})";
            var unreached = missed.All(s => s.Outcome == StopOutcome.Unreached);
            parts.Add($"the stop {(unreached ? "could not reach" : "did not stop the application on")} {string.Join(", ", missed.Select(Name))}: " +
                "the firewall holds them isolated, but their application was not stopped: it runs on if they run, and starts again on a reboot only there, " +
                $"where no stop marked them fenced; when they answer, stop it over SSH (`{ApplicationStop.ByHand(Service)}`)");
        }
        return string.Join("; ", parts);
    }
}
