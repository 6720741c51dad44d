using Failover.Core.Backup;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Cloud;
using Failover.Driver.Pulumi;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Backup;

/// <summary>
/// A cloud site's backup agent after a cutover: started by the one signed control request its data server's health
/// daemon takes (<see cref="BackupControl"/>), with the key read from the site stack's secret output; its first backup is
/// the heartbeat its agent leaves in the vaults, polled until it comes. A site that exports no key (deployed before the
/// control request existed, or a data server whose user data had no room for the agent) is started by hand.
/// </summary>
public sealed class CloudBackupAgents(IPulumi pulumi, HttpClient http, VaultSet vaults, TimeProvider time, ILogger log, TimeSpan poll) : IBackupAgents
{
    /// <summary>
    /// A client that opens a connection per request: the daemon speaks HTTP/1.0 and closes each one, and a pooled
    /// connection (the health gate's) reused after that close ends the request without an answer.
    /// </summary>
    public static HttpClient ControlClient() =>
        new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero, PooledConnectionIdleTimeout = TimeSpan.Zero })
        {
            DefaultRequestHeaders = { ConnectionClose = true }, Timeout = TimeSpan.FromSeconds(30),
        };

    public async Task<AgentStart> StartAsync(StackSpec site, SiteAddress address, CancellationToken cancellation)
    {
        var byHand = AgentsStartedByHand.Instruction;
        // Read now, never journaled: GetOutputsAsync registers the secret for redaction before anything could log it.
        var outputs = await pulumi.GetOutputsAsync(site.Name, cancellation);
        if (!outputs.TryGetValue(StackOutputs.ControlKey, out var key) || key.Text.Length == 0)
            return new AgentStart(false, $"{site.Name} exports no {StackOutputs.ControlKey} (its data server has no backup agent, or was deployed before the control request): {byHand}");
        var health = outputs.TryGetValue(StackOutputs.HealthIpv4, out var ip) && ip.Text.Length > 0 ? ip.Text
            : address.Addresses.FirstOrDefault() ?? throw new InvalidOperationException($"{site.Name} has no health address to send the control request to");
        var url = BackupControl.Url(health, site.Service);
        var answer = await ControlRequest.SendAsync(http, url, key.Text, BackupControl.StartBackups, site.Name, time.GetUtcNow(), cancellation);
        if (answer.Accepted)
        {
            log.Information("The data server of {Site} accepted the control request {Action} at {Url} (timer {Timer})", site.Name, BackupControl.StartBackups, url, answer.Member("timer"));
            return new AgentStart(true, $"{site.Name}'s backup agent started by a signed request to its data server ({url}; timer {answer.Member("timer")})");
        }
        var why = answer.Refusal;
        log.Warning("The data server of {Site} refused the control request at {Url}: {Reason}", site.Name, url, why);
        return new AgentStart(false, $"{site.Name}'s data server refused to start its backup agent ({url}: {why}): {byHand}");
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
