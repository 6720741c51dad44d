using Failover.Core.Policies;
using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Logging;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Status;

/// <summary>Each tenant's newest complete backup against the RPO target, read from a directory vault's restic catalog.</summary>
public sealed class BackupAgeCheck(string projectDirectory, SecretRegistry secrets, TimeProvider time, ILogger log) : ILiveCheck
{
    public string Name => "backup age";

    public async Task<IReadOnlyList<LiveFact>> CheckAsync(Topology topology, CancellationToken cancellation)
    {
        var vault = topology.Backup.Vaults.Select(topology.Find).FirstOrDefault(v => v?.Vault is not null);
        var stack = vault?.Name ?? topology.Production.Name;
        if (vault?.Vault?.Kind != VaultKind.Directory)
            // A cloud vault needs its stack outputs (repository, read-only key) from Pulumi: not read by status yet.
            return [new LiveFact(stack, Name, Severity.Info, "skipped: the backup age is checked for directory vaults only; cloud vaults are not read by status yet")];
        ResticSettings settings;
        try { settings = RunPortsFactory.LocalVault(topology, projectDirectory); }
        catch (InvalidOperationException e)
        {
            return [new LiveFact(stack, Name, Severity.Warning, $"no backup vault yet: {e.Message}")];
        }
        var catalog = new BackupCatalog(new ResticRepository(settings, secrets, log), time, log);
        var facts = new List<LiveFact>();
        foreach (var tenant in topology.Tenants)
        {
            var status = await catalog.StatusAsync(tenant.Name, topology.Targets.Rpo, cancellation);
            if (status.Rpo is not { } rpo)
                facts.Add(new LiveFact(stack, Name, Severity.Error, $"tenant {tenant.Name} has no complete backup: it cannot be restored"));
            else
                facts.Add(new LiveFact(stack, Name, rpo.WithinTarget ? Severity.Info : Severity.Error,
                    $"tenant {tenant.Name}: latest backup {Durations.Format(rpo.DataLoss)} old (RPO target {Durations.Format(rpo.Target)})" +
                    (rpo.WithinTarget ? "" : ": STALE, a failover now would lose more than the target")));
        }
        return facts;
    }
}
