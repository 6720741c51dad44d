namespace Failover.Core.Planning;

/// <summary>The steps of a failover runbook, in the order the engine runs them.</summary>
public enum StepKind
{
    /// <summary>Check the current primary and read the latest backups of every tenant.</summary>
    Assess,
    /// <summary>Pick each tenant's latest verified snapshot (restic check on a sample of its data).</summary>
    SelectBackup,
    /// <summary>Bring the target up at MVD size with the chosen snapshot ids (pulumi up).</summary>
    Provision,
    /// <summary>Restore every tenant, scheduled by tier then size, and verify it against its manifest.</summary>
    Restore,
    /// <summary>Health probes on the new site; an unhealthy site stops the run before DNS is touched.</summary>
    Gate,
    /// <summary>Keep the old primary from taking writes if it comes back.</summary>
    Fence,
    /// <summary>Point the service records at the new site and wait until every authoritative server answers it.</summary>
    Cutover,
    /// <summary>Write the incident timeline with the RTO and RPO achieved.</summary>
    Report,
    /// <summary>After a cutover: start the new serving site's backup agent, await its first backup (bounded) or report it pending.</summary>
    Backups,
    /// <summary>Rehearsals only: remove the isolated copy of the standby, whatever happened before.</summary>
    Teardown,
    /// <summary>Migrations: lower the service records' TTL and wait until the old TTL has passed.</summary>
    LowerTtl,
    /// <summary>Migrations: stop writes on the source (read-only or maintenance) so the final backup holds every committed row.</summary>
    Freeze,
    /// <summary>Migrations: back the frozen source up once more and restore that backup on the target (RPO zero).</summary>
    FinalSync,
    /// <summary>Migrations: rewrite the stack files so that the target is the production stack.</summary>
    Roles,
    /// <summary>Migrations: once the operator confirms, scale the fenced old site down (never destroyed without asking).</summary>
    ScaleDown,
    /// <summary>Migrations: give the source its writes back after an interruption before the cutover.</summary>
    Thaw,
    /// <summary>`failover restore`: read where the serving site answers (nothing is provisioned), to restore named tenants into it.</summary>
    Locate,
}
