using Failover.Core.Topology;

namespace Failover.Core.Sites;

/// <summary>
/// Names and labels of a stack's resources. Names depend only on the stack and the server group, never
/// on order or time, so a second `pulumi up` finds every resource where the first left it.
/// </summary>
public sealed record SiteNames(string Stack, Role Role)
{
    public const string StackLabel = "failover-stack";
    public const string RoleLabel = "failover-role";
    public const string GroupLabel = "failover-group";

    public string Network => $"{Stack}-net";
    public string Subnet => $"{Stack}-subnet";
    public string Firewall => $"{Stack}-fw";
    public string PlacementGroup => $"{Stack}-spread";
    public string SshKey(int index) => $"{Stack}-key-{index + 1}";
    public string Server(string group, int index) => $"{Stack}-{group}-{index + 1}";
    public string Volume(string group, int index) => $"{Server(group, index)}-data";
    public string Ipv4(string group, int index) => $"{Server(group, index)}-ipv4";
    public string Ipv6(string group, int index) => $"{Server(group, index)}-ipv6";
    public string LoadBalancer => $"{Stack}-lb";
    public string Gateway => $"{Stack}-igw";
    public string RouteTable => $"{Stack}-rt";
    public string Vault => $"{Stack}-vault";
    public string ProductionWriter => $"{Stack}-production-writer";
    public string RestoreReader => $"{Stack}-restore-reader";
    public string ResticPassword => $"{Stack}-restic-password";
    public string ControlKey => $"{Stack}-control-key";
    public string Zone => $"{Stack}-zone";
    public string HealthCheck => $"{Stack}-health";
    public string Record(DnsRecord record) => $"{Stack}-{(record.Name == "@" ? "apex" : record.Name.Replace('.', '-'))}-{record.Type.ToLowerInvariant()}";

    /// <summary>Labels (Hetzner) or tags (AWS) every resource carries: which stack and role it belongs to.</summary>
    public IReadOnlyDictionary<string, string> Labels(string? group = null)
    {
        var labels = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            [StackLabel] = Stack,
            [RoleLabel] = Role.ToString().ToLowerInvariant(),
        };
        if (group is not null) labels[GroupLabel] = group;
        return labels;
    }
}
