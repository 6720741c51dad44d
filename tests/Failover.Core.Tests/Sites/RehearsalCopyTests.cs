using System.Text.RegularExpressions;
using Failover.Core.Sites;
using Failover.Core.Topology;
using YamlDotNet.RepresentationModel;
using YamlDotNet.Serialization;

namespace Failover.Core.Tests.Sites;

/// <summary>
/// The copy a cloud rehearsal creates: the standby's config under its own stack, read back by the stack-file
/// reader the infra program uses, is a rehearsal site with its own resource names, at MVD size, that DNS
/// can never point at.
/// </summary>
public partial class RehearsalCopyTests
{
    [Fact]
    public void The_copy_has_its_own_name_role_rehearsal_mode_mvd_and_no_restore_point()
    {
        var t = SiteStacks.FailedOverToHel1();
        var copy = RehearsalCopy.Of(t, t.Find("standby-hel1")!);
        Assert.Equal(("standby-hel1-rehearsal", Role.Rehearsal, SiteMode.Mvd), (copy.Name, copy.Role, copy.Mode));
        Assert.Empty(copy.Snapshots);
        Assert.Equal(t.Find("standby-hel1")!.Site, copy.Site);
        Assert.EndsWith("Pulumi.standby-hel1-rehearsal.yaml", copy.File);
        Assert.Equal("standby-hel1", RehearsalCopy.StandbyOf(copy.Name));
    }

    [Fact]
    public void The_copy_s_restore_tells_the_tenants_hooks_it_is_a_rehearsal()
    {
        var t = SiteStacks.FailedOverToHel1();
        var copy = RehearsalCopy.Of(t, t.Find("standby-hel1")!) with { Snapshots = t.Find("standby-hel1")!.Snapshots };
        var recipe = RestoreRecipe.For(t, copy, 4)!;
        Assert.True(recipe.Rehearsal);
        Assert.False(RestoreRecipe.For(t, t.Find("standby-hel1")!, 4)!.Rehearsal);
        var plan = SitePlan.For(copy);
        Assert.Contains("FAILOVER_REHEARSAL=1", BootstrapScript.Render(ServerBootstrap.For(plan, plan.DataServer!, recipe)));
    }

    [Fact]
    public void Only_a_standby_is_copied_and_a_stack_already_named_like_the_copy_is_never_taken_over()
    {
        var t = SiteStacks.Load();
        Assert.Throws<ArgumentException>(() => RehearsalCopy.Of(t, t.Production));
        var dir = Examples.Copy(Examples.CloudStacks);
        File.Copy(Path.Combine(dir, "Pulumi.standby-aws-fra.yaml"), Path.Combine(dir, "Pulumi.standby-hel1-rehearsal.yaml"));
        var withClash = TopologyLoader.Load(dir);
        var e = Assert.Throws<TopologyException>(() => RehearsalCopy.Of(withClash, withClash.Find("standby-hel1")!));
        Assert.Contains("is a standby stack, but a rehearsal of standby-hel1 needs that name", e.Problems[0].Message);
        Assert.EndsWith("Pulumi.standby-hel1-rehearsal.yaml", e.Problems[0].File);
    }

    [Fact]
    public void The_config_keeps_everything_but_the_restore_point_with_role_and_mode_replaced()
    {
        ConfigLeaf[] standby =
        [
            new("failover:role", "standby", false), new("failover:mode", "cold", false),
            new("failover:site.provider", "hetzner", false), new("failover:servers[0].mvd.count", "1", false),
            new("failover:snapshots.northwind", "4f2a9c1e", false), new("hcloud:token", "s3cr3t-token", true),
            new("failover:restoreFrom", "vault-aws-par", false), new("failover:migrate.freeze[0]", "maintenance on", false),
        ];
        var copy = RehearsalCopy.Config(standby);
        Assert.Equal(
            ["failover:role = rehearsal", "failover:mode = mvd", "failover:site.provider = hetzner", "failover:servers[0].mvd.count = 1",
             "hcloud:token = [secret]", "failover:restoreFrom = vault-aws-par"],
            copy.Select(l => l.ToString()));
        Assert.Equal("s3cr3t-token", copy.Single(l => l.Path == "hcloud:token").Value);
        Assert.Equal(["failover:site", "failover:servers", "failover:snapshots", "hcloud:token", "failover:migrate"], standby.Where(l => l.IsPath || l.Secret).Select(l => l.Key));
    }

    [Fact]
    public void Written_as_its_stack_file_the_copy_is_a_rehearsal_site_with_its_own_names_that_dns_cannot_point_at()
    {
        // What `pulumi config set` writes for the copy, from the standby's file, as the infra program will read it.
        var dir = Examples.Copy(Examples.CloudStacks);
        // The standby has migration hooks (docs/migration.md): the copy must not carry them (the reader refuses them on a rehearsal).
        var standbyFile = Path.Combine(dir, "Pulumi.standby-hel1.yaml");
        File.AppendAllText(standbyFile, "  failover:migrate:\n    freeze: [\"maintenance on\"]\n    thaw: [\"maintenance off\"]\n    backup: [\"run-backup\"]\n");
        var leaves = RehearsalCopy.Config(Flatten(File.ReadAllText(standbyFile)));
        File.WriteAllText(Path.Combine(dir, "Pulumi.standby-hel1-rehearsal.yaml"), Render(leaves));
        var t = TopologyLoader.Load(dir);
        var standby = t.Find("standby-hel1")!;
        var copy = t.Find("standby-hel1-rehearsal")!;
        var expected = RehearsalCopy.Of(t, standby);
        Assert.Equal((Role.Rehearsal, SiteMode.Mvd, standby.Site, standby.Service), (copy.Role, copy.Mode, copy.Site, copy.Service));
        Assert.Equal(expected.File, copy.File);
        Assert.Equal(standby.Servers, copy.Servers);
        Assert.Equal(standby.Access.AdminCidrs, copy.Access.AdminCidrs);
        Assert.Equal(standby.Access.SshPublicKeys, copy.Access.SshPublicKeys);
        Assert.Empty(copy.Snapshots);
        Assert.Equal(["hcloud:token"], copy.SecretKeys);

        // Own resource names and rehearsal labels: nothing of the standby (or any other site) is shared or replaced.
        var plan = SitePlan.For(copy);
        Assert.Equal(["standby-hel1-rehearsal-db-1 cpx32", "standby-hel1-rehearsal-app-1 cpx22"], plan.Servers.Select(s => $"{s.Name} {s.Type}"));
        var others = t.Stacks.Where(s => s.Role is Role.Production or Role.Standby).SelectMany(s => Names(SitePlan.For(s with { Mode = SiteMode.Full }))).ToHashSet();
        Assert.Empty(Names(plan).Intersect(others));
        Assert.Equal("rehearsal", plan.Names.Labels()[SiteNames.RoleLabel]);

        // No DNS record can ever name it: the DNS stack may not make it active.
        var dns = Path.Combine(dir, "Pulumi.dns-route53.yaml");
        File.WriteAllText(dns, File.ReadAllText(dns).Replace("active: prod-fsn1", "active: standby-hel1-rehearsal"));
        var e = Assert.Throws<TopologyException>(() => TopologyLoader.Load(dir));
        Assert.Contains("stack 'standby-hel1-rehearsal' is a rehearsal stack and serves no traffic", e.Problems[0].Message);
    }

    private static IEnumerable<string> Names(SitePlan p) =>
        p.Servers.SelectMany(s => new[] { s.Name, p.Names.Volume(s.Group, s.Index), p.Names.Ipv4(s.Group, s.Index), p.Names.Ipv6(s.Group, s.Index) })
            .Concat([p.Names.Network, p.Names.Subnet, p.Names.Firewall, p.Names.PlacementGroup, p.Names.LoadBalancer, p.Names.SshKey(0), p.Names.Gateway]);

    /// <summary>A stack file's config as leaves, the way `pulumi config --json` reports it to the driver.</summary>
    private static List<ConfigLeaf> Flatten(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var config = (YamlMappingNode)((YamlMappingNode)stream.Documents[0].RootNode)["config"];
        var leaves = new List<ConfigLeaf>();
        void Walk(string path, YamlNode node)
        {
            switch (node)
            {
                case YamlMappingNode m when m.Children.Count == 1 && m.Children.Keys.First().ToString() == "secure":
                    leaves.Add(new ConfigLeaf(path, m.Children.Values.First().ToString(), true));
                    break;
                case YamlMappingNode m:
                    foreach (var (k, v) in m.Children) Walk($"{path}.{k}", v);
                    break;
                case YamlSequenceNode s:
                    for (var i = 0; i < s.Children.Count; i++) Walk($"{path}[{i}]", s.Children[i]);
                    break;
                default:
                    leaves.Add(new ConfigLeaf(path, node.ToString(), false));
                    break;
            }
        }
        foreach (var (k, v) in config.Children) Walk(k.ToString(), v);
        return leaves;
    }

    /// <summary>Leaves back into a stack file, as `pulumi config set [--path]` stores them.</summary>
    private static string Render(IEnumerable<ConfigLeaf> leaves)
    {
        var root = new Dictionary<string, object>();
        foreach (var leaf in leaves)
        {
            object value = leaf.Secret ? new Dictionary<string, object> { ["secure"] = leaf.Value } : leaf.Value;
            var segments = Segment().Matches(leaf.Path[leaf.Key.Length..]).Select(m => m.Groups["i"].Success ? (object)int.Parse(m.Groups["i"].Value) : m.Groups["n"].Value).ToList();
            root[leaf.Key] = Set(root.GetValueOrDefault(leaf.Key), segments, value);
        }
        return new SerializerBuilder().Build().Serialize(new Dictionary<string, object> { ["config"] = root });
    }

    private static object Set(object? node, List<object> path, object value)
    {
        if (path.Count == 0) return value;
        if (path[0] is int i)
        {
            var list = node as List<object> ?? [];
            while (list.Count <= i) list.Add(new Dictionary<string, object>());
            list[i] = Set(list[i], path[1..], value);
            return list;
        }
        var map = node as Dictionary<string, object> ?? [];
        map[(string)path[0]] = Set(map.GetValueOrDefault((string)path[0]), path[1..], value);
        return map;
    }

    [GeneratedRegex(@"\[(?<i>\d+)\]|(?<n>[^.\[\]]+)")]
    private static partial Regex Segment();
}
