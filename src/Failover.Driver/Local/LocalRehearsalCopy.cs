using Failover.Core.Topology;
using Failover.Driver.Runbooks;

namespace Failover.Driver.Local;

/// <summary>
/// The rehearsal copy of a local standby: its own loopback address, its PostgreSQL and files in the run's
/// own folder (<c>.failover/rehearsals/&lt;run&gt;</c>), so nothing of the real standby is touched.
/// </summary>
public sealed class LocalRehearsalCopy(StackSpec copy, LocalSites sites) : IRehearsalCopy
{
    public StackSpec Stack => copy;
    public string Where => $"{LocalSites.Address(copy)} ({sites.StateDirectory})";
    public ISiteProvisioner Provisioner => sites;
    public string RemoveCommand => "failover rehearse --teardown";

    /// <summary>Stops the copy's database and removes its folder.</summary>
    public async Task<string> RemoveAsync(CancellationToken cancellation)
    {
        await sites.RemoveAllAsync([copy], cancellation);
        // The parent holds one folder per live rehearsal: the last one out leaves no empty folder behind.
        var parent = Path.GetDirectoryName(sites.StateDirectory)!;
        if (Directory.Exists(parent) && !Directory.EnumerateFileSystemEntries(parent).Any()) Directory.Delete(parent);
        return $"{copy.Name} stopped on {LocalSites.Address(copy)}; {sites.StateDirectory} removed";
    }
}
