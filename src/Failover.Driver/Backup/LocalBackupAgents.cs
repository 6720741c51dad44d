using Failover.Core.Backup;
using Failover.Core.Topology;
using Failover.Driver.Local;
using Failover.Driver.Logging;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Backup;

/// <summary>
/// The local provider's backup agent after a cutover: no timer runs on this machine, so the agent Core renders (the
/// script a cloud data server's timer runs) is run once, to the end, against the new serving site into every directory
/// vault; its heartbeat is then read back from the vaults like any agent's.
/// </summary>
public sealed class LocalBackupAgents(Topology topology, LocalSites sites, string projectDirectory, VaultSet vaults,
    SecretRegistry secrets, TimeProvider time, ILogger log, Action<string> progress) : IBackupAgents
{
    public async Task<AgentStart> StartAsync(StackSpec site, SiteAddress address, CancellationToken cancellation)
    {
        progress($"    backup agent of {site.Name}: first run");
        var results = await LocalBackup.RunAsync(topology, sites, projectDirectory, secrets, time, log, progress, cancellation, site);
        return new AgentStart(true, $"{site.Name}'s backup agent ran ({results.Count(r => r.Succeeded)} of {results.Count} tenants backed up; the local provider has no timer: `failover backup` runs it again)");
    }

    public async Task<BackupHeartbeat?> FirstBackupAsync(StackSpec site, DateTimeOffset since, TimeSpan wait, CancellationToken cancellation) =>
        await vaults.HeartbeatOfAsync(site.Name, since, cancellation);
}
