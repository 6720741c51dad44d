using Failover.Core.Topology;

namespace Failover.Core.Sites;

/// <summary>A directory of the server that lives on the data volume, bind-mounted from a directory on it.</summary>
public sealed record VolumeBind(string Directory, string OnVolume);

/// <summary>
/// Where a server's data volume is mounted and how the bootstrap finds its device. The device's name is not known
/// when the user data is rendered (the volume is created with the server), so the bootstrap waits for the one
/// attached disk matching the provider's stable names that is not the root disk, formats it only when it carries
/// no signature at all (blkid finds nothing), and mounts it by UUID. On the data server PostgreSQL's data
/// directory, the tenants' files and the restore spool live on it, bound before PostgreSQL is installed so its
/// cluster is created there.
/// </summary>
public sealed record DataVolume(string MountPoint, IReadOnlyList<string> DeviceCandidates, IReadOnlyList<VolumeBind> Binds)
{
    public const string DefaultMountPoint = "/var/lib/failover-data";
    public const string Label = "failover-data";

    /// <summary>How long the bootstrap waits for the volume to be attached (it is attached after the server is created).</summary>
    public static readonly TimeSpan AttachWait = TimeSpan.FromMinutes(5);

    /// <summary>Where a restore spools dumps and restic keeps its cache: on the volume when there is one.</summary>
    public const string SpoolDirectory = DefaultMountPoint + "/spool";
    public const string ResticCacheDirectory = DefaultMountPoint + "/restic-cache";

    /// <summary>
    /// The device links a provider's volume appears under. Hetzner: <c>/dev/disk/by-id/scsi-0HC_Volume_&lt;id&gt;</c>
    /// (the hcloud provider's <c>linuxDevice</c>). AWS: on Nitro instances EBS volumes are NVMe devices
    /// (/dev/nvme1n1, ...) whose udev link is <c>/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol&lt;id&gt;</c>; on
    /// Xen instances the attachment's name /dev/sdf or /dev/xvdf
    /// (https://docs.aws.amazon.com/ebs/latest/userguide/nvme-ebs-volumes.html, .../device_naming.html). The root
    /// EBS volume matches the same pattern: the bootstrap skips the disk that holds /.
    /// </summary>
    public static IReadOnlyList<string> DeviceLinks(Provider provider) => provider switch
    {
        Provider.Hetzner => ["/dev/disk/by-id/scsi-0HC_Volume_*"],
        Provider.Aws => ["/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol*", "/dev/xvdf", "/dev/sdf"],
        _ => [],
    };

    /// <summary>The device name the AWS attachment asks for (renamed to NVMe on Nitro instances).</summary>
    public const string AwsAttachmentDevice = "/dev/sdf";

    /// <summary>The volume of a planned server, or null when its group has none.</summary>
    public static DataVolume? For(Provider provider, PlannedServer server)
    {
        if (server.VolumeGb <= 0 || DeviceLinks(provider).Count == 0) return null;
        IReadOnlyList<VolumeBind> binds = server.HoldsData
            ? [new("/var/lib/postgresql", DefaultMountPoint + "/postgresql"), new(RestoreRecipe.TenantsDirectory, DefaultMountPoint + "/tenants")]
            : [];
        return new DataVolume(DefaultMountPoint, DeviceLinks(provider), binds);
    }
}
