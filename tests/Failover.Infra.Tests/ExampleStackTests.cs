using Xunit;
using System.Collections.Immutable;
using System.Text.Json;
using Failover.Core.Sites;
using Failover.Core.Topology;

namespace Failover.Infra.Tests;

public class ExampleStackTests
{
    private const string HcloudServer = "hcloud:index/server:Server";

    [Fact]
    public async Task Production_runs_its_full_size_servers_with_volumes_behind_a_load_balancer()
    {
        var run = await StackRun.Of("prod-fsn1");
        var servers = run.Mocks.OfType(HcloudServer).ToList();
        Assert.Equal(["prod-fsn1-app-1 cpx42", "prod-fsn1-app-2 cpx42", "prod-fsn1-db-1 ccx33"],
            servers.Select(s => $"{s.Text("name")} {s.Text("serverType")}").Order());
        var volume = Assert.Single(run.Mocks.OfType("hcloud:index/volume:Volume"));
        Assert.Equal("200", volume.Text("size"));
        Assert.Single(run.Mocks.OfType("hcloud:index/loadBalancer:LoadBalancer"));
        Assert.Equal(2, run.Mocks.OfType("hcloud:index/loadBalancerTarget:LoadBalancerTarget").Count());
        Assert.Equal(6, run.Mocks.OfType("hcloud:index/primaryIp:PrimaryIp").Count());
    }

    [Fact]
    public async Task Every_hetzner_resource_carries_the_stack_and_role_labels()
    {
        var run = await StackRun.Of("prod-fsn1");
        var labelled = run.Mocks.Resources.Where(r => r.Type.StartsWith("hcloud:index/", StringComparison.Ordinal) && r.Inputs.ContainsKey("labels")).ToList();
        Assert.NotEmpty(labelled);
        foreach (var r in labelled)
        {
            var labels = (IDictionary<string, object>)r.Inputs["labels"];
            Assert.Equal(("prod-fsn1", "production"), (labels[SiteNames.StackLabel].ToString(), labels[SiteNames.RoleLabel].ToString()));
        }
    }

    [Fact]
    public async Task The_firewall_opens_ssh_only_to_the_admin_ranges()
    {
        var run = await StackRun.Of("prod-fsn1");
        var firewall = Assert.Single(run.Mocks.OfType("hcloud:index/firewall:Firewall"));
        var rules = ((IEnumerable<object>)firewall.Inputs["rules"]).Cast<IDictionary<string, object>>().ToList();
        var ssh = Assert.Single(rules, r => r["port"].ToString() == "22");
        Assert.Equal(["203.0.113.0/24"], ((IEnumerable<object>)ssh["sourceIps"]).Select(o => o.ToString()));
    }

    [Fact]
    public async Task A_cold_hetzner_standby_has_network_firewall_placement_and_keys_but_no_servers()
    {
        var run = await StackRun.Of("standby-hel1");
        Assert.Empty(run.Mocks.OfType(HcloudServer));
        foreach (var type in new[] { "network:Network", "networkSubnet:NetworkSubnet", "firewall:Firewall", "placementGroup:PlacementGroup", "sshKey:SshKey" })
            Assert.Single(run.Mocks.OfType("hcloud:index/" + type));
        Assert.Equal("spread", run.Mocks.OfType("hcloud:index/placementGroup:PlacementGroup").Single().Text("type"));
        Assert.Equal("eu-central", run.Mocks.OfType("hcloud:index/networkSubnet:NetworkSubnet").Single().Text("networkZone"));
        Assert.Equal("", await StackRun.Value<string>(run.Outputs[StackOutputs.ServiceIpv4]));
    }

    [Fact]
    public async Task A_cold_aws_standby_has_its_network_but_no_instances()
    {
        var run = await StackRun.Of("standby-aws-fra");
        Assert.Empty(run.Mocks.OfType("aws:ec2/instance:Instance"));
        foreach (var type in new[] { "vpc:Vpc", "subnet:Subnet", "internetGateway:InternetGateway", "routeTable:RouteTable", "securityGroup:SecurityGroup" })
            Assert.Single(run.Mocks.OfType("aws:ec2/" + type));
        var provider = Assert.Single(run.Mocks.OfType("pulumi:providers:aws"));
        Assert.Equal("eu-central-1", provider.Text("region"));
    }

    [Fact]
    public async Task A_standby_failed_over_at_mvd_restores_the_snapshots_given_in_config()
    {
        var dir = Directory.CreateTempSubdirectory("failover-infra-").FullName;
        foreach (var f in Directory.GetFiles(StackRun.ExampleStacks)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        var hel1 = Path.Combine(dir, "Pulumi.standby-hel1.yaml");
        File.WriteAllText(hel1, File.ReadAllText(hel1).Replace("failover:mode: cold", "failover:mode: mvd")
            + "  failover:snapshots:\n" + string.Join("", TopologyLoader.Load(StackRun.ExampleStacks).Tenants.Select(t => $"    {t.Name}: 0123abcd\n"))
                .Replace("    northwind: 0123abcd", "    northwind: 9f8e7d6c"));
        var run = await StackRun.Of("standby-hel1", TopologyLoader.Load(dir));

        var db = run.Mocks.OfType(HcloudServer).Single(s => s.Text("name") == "standby-hel1-db-1");
        Assert.Equal("cpx32", db.Text("serverType"));
        // The user data is the gzipped cloud-config in base64 (Hetzner's datasource decodes it), within 32 KiB.
        var userData = ServerUserData.Decode(db.Text("userData"));
        Assert.True(db.Text("userData").Length <= UserDataLimit.Hetzner.Bytes);
        var topology = TopologyLoader.Load(dir);
        Assert.Contains(RestoreRecipe.For(topology, topology.Find("standby-hel1")!, 4)!.RenderData(), userData);
        Assert.Contains("vault-password-from-secret", userData); // only inside the 0600 credentials file
        Assert.All(run.Mocks.OfType("hcloud:index/volume:Volume"), v => Assert.Equal("False", v.Text("automount"))); // the bootstrap mounts it
        Assert.Contains(run.Mocks.Resources, r => r.Type == "pulumi:pulumi:StackReference" && r.Name.EndsWith("/failover/vault-aws-par", StringComparison.Ordinal));
        var restored = await StackRun.Value<ImmutableDictionary<string, string>>(run.Outputs[StackOutputs.RestoredSnapshots]);
        Assert.Equal("9f8e7d6c", restored["northwind"]);
    }

    [Fact]
    public async Task The_vault_bucket_is_locked_versioned_encrypted_private_and_protected()
    {
        var run = await StackRun.Of("vault-aws-par");
        var bucket = Assert.Single(run.Mocks.OfType("aws:s3/bucket:Bucket"));
        Assert.Equal(("acme-failover-vault", "True"), (bucket.Text("bucket"), bucket.Text("objectLockEnabled")));
        var lockRule = (IDictionary<string, object>)((IDictionary<string, object>)Assert.Single(
            run.Mocks.OfType("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")).Inputs["rule"])["defaultRetention"];
        Assert.Equal(("COMPLIANCE", "35"), (lockRule["mode"].ToString(), lockRule["days"].ToString()));
        Assert.Single(run.Mocks.OfType("aws:s3/bucketVersioning:BucketVersioning"));
        Assert.Single(run.Mocks.OfType("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"));
        var block = Assert.Single(run.Mocks.OfType("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"));
        Assert.All(new[] { "blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets" }, k => Assert.Equal("True", block.Text(k)));
        Assert.Single(run.Mocks.OfType("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"));
    }

    [Fact]
    public async Task The_production_writer_policy_denies_deletes_and_retention_changes()
    {
        var run = await StackRun.Of("vault-aws-par");
        var writer = run.Mocks.OfType("aws:iam/userPolicy:UserPolicy").Single(p => p.Text("user").Contains("production-writer") || p.Text("name").Contains("production-writer"));
        using var doc = JsonDocument.Parse(writer.Text("policy"));
        var denied = doc.RootElement.GetProperty("Statement").EnumerateArray()
            .Where(s => s.GetProperty("Effect").GetString() == "Deny")
            .SelectMany(s => s.GetProperty("Action").EnumerateArray().Select(a => a.GetString())).ToHashSet();
        foreach (var action in new[] { "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectRetention", "s3:BypassGovernanceRetention", "s3:PutBucketObjectLockConfiguration", "s3:PutLifecycleConfiguration" })
            Assert.Contains(action, denied);
    }

    [Fact]
    public async Task Vault_credentials_are_exported_as_secrets()
    {
        var run = await StackRun.Of("vault-aws-par");
        Assert.Superset(StackOutputs.Secrets.ToHashSet(), run.SecretOutputs.ToHashSet());
        Assert.Subset(run.Outputs.Keys.ToHashSet(), StackOutputs.For(Role.Vault, VaultKind.S3).ToHashSet());
    }

    [Fact]
    public async Task The_dns_records_point_at_the_active_site_with_the_configured_ttl()
    {
        var run = await StackRun.Of("dns-route53");
        var records = run.Mocks.OfType("aws:route53/record:Record").ToList();
        Assert.Equal(["api.example.com", "app.example.com"], records.Select(r => r.Text("name")).Order());
        Assert.All(records, r =>
        {
            Assert.Equal("60", r.Text("ttl"));
            Assert.Equal(["198.51.100.7"], ((IEnumerable<object>)r.Inputs["records"]).Select(o => o.ToString()));
        });
        var check = Assert.Single(run.Mocks.OfType("aws:route53/healthCheck:HealthCheck"));
        Assert.Equal(("198.51.100.7", "8080", "/health"), (check.Text("ipAddress"), check.Text("port"), check.Text("resourcePath")));
        Assert.Equal("prod-fsn1", run.Outputs[StackOutputs.ActiveStack]);
    }

    private static Topology Edited(string stack, string find, string replace)
    {
        var dir = Directory.CreateTempSubdirectory("failover-infra-").FullName;
        foreach (var f in Directory.GetFiles(StackRun.ExampleStacks)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        var path = Path.Combine(dir, $"Pulumi.{stack}.yaml");
        File.WriteAllText(path, File.ReadAllText(path).Replace(find, replace));
        return TopologyLoader.Load(dir);
    }

    [Fact]
    public async Task Production_servers_volume_and_addresses_carry_hetzner_delete_protection_application_servers_too()
    {
        var run = await StackRun.Of("prod-fsn1");
        var servers = run.Mocks.OfType(HcloudServer).ToList();
        Assert.Equal(3, servers.Count);
        // The fence keeps every server and stops the application instead (Core FenceEffect): all are protected alike.
        Assert.All(servers, s => Assert.Equal(("True", "True"), (s.Text("deleteProtection"), s.Text("rebuildProtection"))));
        Assert.All(run.Mocks.OfType("hcloud:index/volume:Volume"), v => Assert.Equal("True", v.Text("deleteProtection")));
        Assert.All(run.Mocks.OfType("hcloud:index/primaryIp:PrimaryIp"), ip => Assert.Equal("True", ip.Text("deleteProtection")));
    }

    [Fact]
    public async Task A_fenced_production_keeps_every_server_volume_address_and_its_load_balancer_behind_an_ssh_only_firewall()
    {
        var run = await StackRun.Of("prod-fsn1", Edited("prod-fsn1", "failover:mode: full", "failover:mode: fenced"));
        Assert.Equal(["prod-fsn1-app-1", "prod-fsn1-app-2", "prod-fsn1-db-1"], run.Mocks.OfType(HcloudServer).Select(s => s.Text("name")).Order());
        Assert.Single(run.Mocks.OfType("hcloud:index/volume:Volume"));
        Assert.Equal(6, run.Mocks.OfType("hcloud:index/primaryIp:PrimaryIp").Count());
        // The load balancer and its address are kept, with no service and no target: it listens on nothing.
        Assert.Single(run.Mocks.OfType("hcloud:index/loadBalancer:LoadBalancer"));
        Assert.Empty(run.Mocks.OfType("hcloud:index/loadBalancerService:LoadBalancerService"));
        Assert.Empty(run.Mocks.OfType("hcloud:index/loadBalancerTarget:LoadBalancerTarget"));
        var rules = ((IEnumerable<object>)Assert.Single(run.Mocks.OfType("hcloud:index/firewall:Firewall")).Inputs["rules"]).Cast<IDictionary<string, object>>();
        Assert.Equal(["22"], rules.Where(r => r["direction"].ToString() == "in").Select(r => r["port"].ToString()));
        Assert.Equal(["icmp"], rules.Where(r => r["direction"].ToString() == "out").Select(r => r["protocol"].ToString()));
    }

    [Fact]
    public async Task An_aws_standby_uses_name_prefixes_and_a_production_instance_termination_protection()
    {
        var run = await StackRun.Of("standby-aws-fra", Edited("standby-aws-fra", "failover:mode: cold", "failover:mode: mvd"));
        var group = Assert.Single(run.Mocks.OfType("aws:ec2/securityGroup:SecurityGroup"));
        Assert.Equal(("", "standby-aws-fra-fw-"), (group.Text("name"), group.Text("namePrefix")));
        Assert.Equal("", Assert.Single(run.Mocks.OfType("aws:ec2/placementGroup:PlacementGroup")).Text("name"));
        Assert.All(run.Mocks.OfType("aws:ec2/instance:Instance"), i => Assert.Equal(("True", "False"), (i.Text("userDataReplaceOnChange"), i.Text("disableApiTermination"))));
    }

    [Fact]
    public async Task The_storage_box_has_a_daily_snapshot_plan_and_a_password_of_accepted_characters()
    {
        var dir = Directory.CreateTempSubdirectory("failover-infra-").FullName;
        foreach (var f in Directory.GetFiles(StackRun.ExampleStacks)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        File.WriteAllText(Path.Combine(dir, "Pulumi.vault-box.yaml"),
            "config:\n  failover:role: vault\n  failover:site: { provider: hetzner, location: nbg1 }\n  failover:vault: { kind: storagebox, productionAccess: append-only }\n");
        var run = await StackRun.Of("vault-box", TopologyLoader.Load(dir));
        var box = Assert.Single(run.Mocks.OfType("hcloud:index/storageBox:StorageBox"));
        var snapshots = (IDictionary<string, object>)box.Inputs["snapshotPlan"];
        Assert.Equal(("3", "30"), (snapshots["hour"].ToString(), snapshots["minute"].ToString()));
        Assert.Contains(run.Mocks.OfType("random:index/randomPassword:RandomPassword"), p => p.Text("overrideSpecial") == VaultPlan.StorageBoxPasswordSpecials);
    }

    [Fact]
    public async Task The_route53_health_check_is_attached_to_the_a_records()
    {
        var run = await StackRun.Of("dns-route53");
        var records = run.Mocks.OfType("aws:route53/record:Record").ToList();
        Assert.NotEmpty(records);
        Assert.All(records.Where(r => r.Text("type") == "A"), r =>
        {
            Assert.Equal(("True", "dns-route53"), (r.Text("multivalueAnswerRoutingPolicy"), r.Text("setIdentifier")));
            Assert.NotEqual("", r.Text("healthCheckId"));
        });
    }
}
