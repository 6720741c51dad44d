using Failover.Core.Topology;

namespace Failover.Core.Sites;

/// <summary>
/// The names of the outputs every stack exports: the contract the driver and the DNS stack read
/// (documented in docs/stack-outputs.md). Renaming one breaks running deployments.
/// </summary>
public static class StackOutputs
{
    // Every stack
    public const string StackName = "stack";
    public const string StackRole = "role";

    // Sites (production, standby, rehearsal)
    public const string Mode = "mode";
    public const string ServiceIpv4 = "serviceIpv4";
    public const string ServiceIpv6 = "serviceIpv6";
    public const string ServiceHostname = "serviceHostname";
    public const string HealthIpv4 = "healthIpv4";
    public const string HealthUrl = "healthUrl";
    public const string ServerAddresses = "serverAddresses";
    public const string RestoredSnapshots = "restoredSnapshots";

    /// <summary>The key of the site's control request (<see cref="BackupControl"/>): a secret, read with --show-secrets.</summary>
    public const string ControlKey = "controlKey";

    // Vaults
    public const string VaultUrl = "vaultUrl";
    public const string ResticRepository = "resticRepository";
    public const string ResticPassword = "resticPassword";
    public const string WriterAccessKeyId = "writerAccessKeyId";
    public const string WriterSecretAccessKey = "writerSecretAccessKey";
    public const string ReaderAccessKeyId = "readerAccessKeyId";
    public const string ReaderSecretAccessKey = "readerSecretAccessKey";

    // DNS
    public const string ZoneId = "zoneId";
    public const string NameServers = "nameServers";
    public const string ActiveStack = "activeStack";
    public const string HealthCheckId = "healthCheckId";

    /// <summary>Outputs that hold credentials: exported as Pulumi secrets, never shown by `pulumi stack output`.</summary>
    public static readonly IReadOnlySet<string> Secrets = new HashSet<string>(StringComparer.Ordinal)
    {
        ResticPassword, WriterAccessKeyId, WriterSecretAccessKey, ReaderAccessKeyId, ReaderSecretAccessKey, ControlKey,
    };

    /// <summary>The outputs a stack of a role exports, so the driver can tell a missing one from a wrong stack.</summary>
    public static IReadOnlyList<string> For(Role role, VaultKind? vaultKind = null) => role switch
    {
        Role.Vault when vaultKind == VaultKind.StorageBox =>
            [StackName, StackRole, VaultUrl, ResticRepository, ResticPassword],
        Role.Vault =>
            [StackName, StackRole, VaultUrl, ResticRepository, ResticPassword, WriterAccessKeyId, WriterSecretAccessKey, ReaderAccessKeyId, ReaderSecretAccessKey],
        Role.Dns => [StackName, StackRole, ZoneId, NameServers, ActiveStack, HealthCheckId],
        _ => [StackName, StackRole, Mode, ServiceIpv4, ServiceIpv6, ServiceHostname, HealthIpv4, HealthUrl, ServerAddresses, RestoredSnapshots],
    };

    /// <summary>
    /// The fully qualified name a StackReference needs: organization/project/stack. Self-managed backends
    /// use the organization "organization".
    /// </summary>
    public static string ReferenceName(string organization, string project, string stack) =>
        $"{(string.IsNullOrEmpty(organization) ? "organization" : organization)}/{project}/{stack}";
}
