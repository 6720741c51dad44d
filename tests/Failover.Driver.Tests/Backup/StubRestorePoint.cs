using Failover.Core.Backup;
using Failover.Driver.Backup;

namespace Failover.Driver.Tests.Backup;

/// <summary>A restore point that names a tenant and a run but holds no data: for tests that never reach restic.</summary>
internal static class StubRestorePoint
{
    public static RestorePoint For(string tenant) => new(
        new BackupSet(tenant, "run-1", null, null, null),
        new Manifest(tenant, "run-1", DateTimeOffset.UnixEpoch, new DatabaseManifest(tenant, [], 0, ""), FilesManifest.Of([])));
}
