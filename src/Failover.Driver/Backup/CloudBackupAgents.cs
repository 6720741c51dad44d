using Failover.Core.Backup;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Pulumi;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Backup;

/// <summary>
/// A cloud site's backup agent after a cutover: installed and started by the signed start request its data server's
/// health daemon takes (<see cref="BackupControl"/>), which carries the agent Core renders for the site (the files
/// production's cloud-init installs, byte for byte), with the key read from the site stack's secret output; its first
/// backup is the heartbeat its agent leaves in the vaults, polled until it comes. A site that exports no key (deployed
/// before the control request existed, or a data server whose user data had no room for the control parts) is started by hand.
/// </summary>
public sealed class CloudBackupAgents(IPulumi pulumi, HttpClient http, VaultSet vaults, Topology topology, TimeProvider time, ILogger log, TimeSpan poll) : IBackupAgents
{
    public async Task<AgentStart> StartAsync(StackSpec site, SiteAddress address, CancellationToken cancellation)
    {
        var byHand = AgentsStartedByHand.Instruction;
        if (Failover.Core.Backup.BackupPlan.OfRestoredSite(topology, site) is not { } plan)
            return new AgentStart(false, $"{site.Name} backs up nothing (no failover:backup.vaults, or not a serving site): {byHand}");
        var agent = AgentFiles.Of(plan);
        var sent = await ControlRequests.SendAsync(pulumi, http, site, address, time, log,
            (at, nonce) => BackupControl.StartBody(site.Name, at, nonce, agent), cancellation);
        if (sent.Refusal is { } why)
            return new AgentStart(false, $"{why}: {byHand}");
        if (sent.Failed)
            return new AgentStart(false, $"{site.Name}'s data server took the request but could not start its agent ({sent.Url}: {sent.Answer.Trim()}): {byHand}");
        var installed = sent.Member("agent");
        log.Information("The data server of {Site} accepted the control request {Action} at {Url} (agent {Agent} {Sha256}, timer {Timer})",
            site.Name, BackupControl.StartBackups, sent.Url, installed, agent.Sha256[..12], sent.Member("timer"));
        return new AgentStart(true, $"{site.Name}'s backup agent {(installed.Length > 0 ? installed : "sent")} and started by a signed request to its data server ({sent.Url}; agent sha256 {agent.Sha256[..12]}; timer {sent.Member("timer")})");
    }

    public async Task<BackupHeartbeat?> FirstBackupAsync(StackSpec site, DateTimeOffset since, TimeSpan wait, CancellationToken cancellation)
    {
        var deadline = time.GetUtcNow() + wait;
        while (true)
        {
            if (await vaults.HeartbeatOfAsync(site.Name, since, cancellation) is { } beat) return beat;
            if (time.GetUtcNow() >= deadline) return null;
            await Task.Delay(poll, time, cancellation);
        }
    }
}
