using Failover.Core.Topology;

namespace Failover.Core.Backup;

/// <summary>
/// Whether restoring a backup of a given age keeps the promise of the RPO target. A backup older than
/// the target is refused unless the operator accepts the loss explicitly, and the refusal names how
/// much data would be lost, because that is the number the operator has to decide on.
/// </summary>
public sealed record RpoVerdict(string Tenant, DateTimeOffset BackupTime, TimeSpan DataLoss, TimeSpan Target, bool AcceptDataLoss)
{
    public bool WithinTarget => DataLoss <= Target;

    /// <summary>The backup may be restored: within target, or beyond it with the loss accepted.</summary>
    public bool Allowed => WithinTarget || AcceptDataLoss;

    public static RpoVerdict Evaluate(string tenant, DateTimeOffset backupTime, DateTimeOffset now, TimeSpan target, bool acceptDataLoss)
    {
        var loss = now - backupTime;
        return new RpoVerdict(tenant, backupTime, loss < TimeSpan.Zero ? TimeSpan.Zero : loss, target, acceptDataLoss);
    }

    public string Message => WithinTarget
        ? $"{Tenant}: backup of {BackupTime:yyyy-MM-dd HH:mm:ss}Z is {Durations.Format(DataLoss)} old, within the RPO target of {Durations.Format(Target)}"
        : AcceptDataLoss
            ? $"{Tenant}: restoring the backup of {BackupTime:yyyy-MM-dd HH:mm:ss}Z loses {Durations.Format(DataLoss)} of data, over the RPO target of {Durations.Format(Target)}; accepted by the operator"
            : $"{Tenant}: the newest usable backup ({BackupTime:yyyy-MM-dd HH:mm:ss}Z) is {Durations.Format(DataLoss)} old: restoring it would lose {Durations.Format(DataLoss)} of data, over the RPO target of {Durations.Format(Target)}. Accept the data loss explicitly to restore it anyway.";
}
