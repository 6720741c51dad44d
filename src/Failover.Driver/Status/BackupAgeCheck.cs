using Failover.Core.Backup;
using Failover.Core.Policies;
using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Logging;
using Failover.Driver.Pulumi;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Status;

/// <summary>
/// Each tenant's newest complete backup against the RPO target, read from the vault's restic catalog the way a
/// failover reads it: a directory vault's folder and password file, or a cloud vault's repository and read-only
/// key from its stack outputs (through <paramref name="pulumi"/>, created only for a cloud vault).
/// </summary>
public sealed class BackupAgeCheck(string projectDirectory, Func<IPulumi> pulumi, SecretRegistry secrets, TimeProvider time, ILogger log) : ILiveCheck
{
    public string Name => "backup age";

    public async Task<IReadOnlyList<LiveFact>> CheckAsync(Topology topology, CancellationToken cancellation)
    {
        var vault = topology.Backup.Vaults.Select(topology.Find).FirstOrDefault(v => v?.Vault is not null);
        if (vault is null) return [new LiveFact(topology.Production.Name, Name, Severity.Warning, "no vault stack in failover:backup.vaults: nothing to check")];
        ResticSettings settings;
        try
        {
            settings = vault.Vault!.Kind == VaultKind.Directory
                ? VaultSettings.Local(topology, projectDirectory)
                : await VaultSettings.CloudAsync(vault, pulumi(), cancellation);
        }
        catch (Exception e) when (e is InvalidOperationException or PulumiCommandException or PulumiNotFoundException or PulumiTimeoutException)
        {
            // Unchecked is not fine: a failover now could not read the vault either.
            return [LiveFact.Blind(vault.Name, Name, $"the backup age of {vault.Name} was not read: {secrets.Redact(e.Message)}")];
        }
        var catalog = new BackupCatalog(new ResticRepository(settings, secrets, log), time, log);
        var facts = new List<LiveFact>();
        var readable = true;
        foreach (var tenant in topology.Tenants)
        {
            TenantBackupStatus status;
            try { status = await catalog.StatusAsync(tenant.Name, topology.Targets.Rpo, cancellation); }
            catch (Exception e) when (e is ResticException or InvalidOperationException or IOException or TimeoutException)
            {
                // The vault does not answer: a failover now could not restore either.
                facts.Add(LiveFact.Blind(vault.Name, Name, $"the vault {vault.Name} cannot be read: {secrets.Redact(e.Message)}"));
                readable = false;
                break;
            }
            if (status.Rpo is not { } rpo)
                facts.Add(new LiveFact(vault.Name, Name, Severity.Error, $"tenant {tenant.Name} has no complete backup: it cannot be restored"));
            else
                facts.Add(new LiveFact(vault.Name, Name, rpo.WithinTarget ? Severity.Info : Severity.Error,
                    $"tenant {tenant.Name}: latest backup {Durations.Format(rpo.DataLoss)} old (RPO target {Durations.Format(rpo.Target)})" +
                    (rpo.WithinTarget ? "" : ": STALE, a failover now would lose more than the target")));
        }
        if (readable) facts.Add(await HeartbeatAsync(catalog, vault.Name, topology, cancellation));
        return facts;
    }

    /// <summary>
    /// The backup agent's newest heartbeat in the vault: older than the schedule allows (two intervals) or naming failures
    /// is an alarm; none at all is a warning (nothing shows an agent runs, though backups may come from elsewhere).
    /// </summary>
    private async Task<LiveFact> HeartbeatAsync(BackupCatalog catalog, string vault, Topology topology, CancellationToken cancellation)
    {
        const string check = "backup agent";
        BackupHeartbeat? heartbeat;
        try { heartbeat = await catalog.HeartbeatAsync(cancellation); }
        catch (Exception e) when (e is ResticException or InvalidOperationException or IOException or InvalidDataException or System.Text.Json.JsonException)
        {
            return LiveFact.Blind(vault, check, $"the backup agent's heartbeat in {vault} cannot be read: {secrets.Redact(e.Message)}");
        }
        var (severity, message) = HeartbeatVerdict.Of(heartbeat, vault, topology.Production.Name, topology.Backup.Interval, time.GetUtcNow());
        return new LiveFact(vault, check, severity, message);
    }
}
