using Failover.Core.Topology;

namespace Failover.Core.Tests;

/// <summary>Every kind of bad stack file gets an error naming the file, the key, the line where known, and a fix.</summary>
public class BadInputTests
{
    [Fact]
    public void Yaml_syntax_error_names_file_and_line()
    {
        using var s = Scenario.Cloud();
        s.Edit("prod-fsn1", "    schedule: 30m", "    schedule: 30m: daily");
        var p = s.Problem();
        Assert.EndsWith("Pulumi.prod-fsn1.yaml", p.File);
        Assert.Equal("(yaml)", p.Key);
        Assert.NotNull(p.Line);
        Assert.Contains("YAML syntax error", p.Message);
    }

    [Fact]
    public void Unknown_role_lists_the_roles()
    {
        using var s = Scenario.Cloud();
        s.Edit("standby-hel1", "failover:role: standby", "failover:role: standbye");
        var p = s.Problem();
        Assert.Equal("failover:role", p.Key);
        Assert.Equal(4, p.Line);
        Assert.Contains("did you mean 'standby'", p.Message);
        Assert.Contains("production, standby, vault, dns, rehearsal", p.Fix);
    }

    [Fact]
    public void Unknown_provider_is_an_error()
    {
        using var s = Scenario.Cloud();
        s.Edit("standby-hel1", "provider: hetzner", "provider: ovh");
        var p = s.Problem();
        Assert.Equal("failover:site.provider", p.Key);
        Assert.Contains("hetzner, aws, local", p.Fix);
    }

    [Fact]
    public void Unknown_location_suggests_the_closest()
    {
        using var s = Scenario.Cloud();
        s.Edit("standby-hel1", "location: hel1", "location: hel2");
        var p = s.Problem();
        Assert.Equal("failover:site.location", p.Key);
        Assert.Contains("did you mean 'hel1'", p.Message);
        Assert.Contains("fsn1, nbg1, hel1", p.Fix);
    }

    [Fact]
    public void Datacenter_outside_its_location_is_an_error()
    {
        using var s = Scenario.Cloud();
        s.Edit("standby-hel1", "datacenter: hel1-dc2", "datacenter: fsn1-dc14");
        Assert.Contains("not in hel1", s.Problem().Message);
    }

    [Fact]
    public void Missing_required_key_says_which_and_how()
    {
        using var s = Scenario.Cloud();
        s.Edit("prod-fsn1", "    rpo: 1h\n", "");
        var p = s.Problem();
        Assert.Equal("failover:targets.rpo", p.Key);
        Assert.Contains("required", p.Message);
        Assert.Contains("rpo: 1h", p.Fix);
    }

    [Fact]
    public void Missing_role_is_an_error()
    {
        using var s = Scenario.Cloud();
        s.Edit("standby-hel1", "  failover:role: standby\n", "");
        Assert.Equal("failover:role", s.Problem().Key);
    }

    [Fact]
    public void Duplicate_tenant_names_the_first_line()
    {
        using var s = Scenario.Cloud();
        s.Edit("prod-fsn1", "{ name: margie, tier: 3, dataGb: 0.1 }", "{ name: contoso, tier: 3, dataGb: 0.1 }");
        var p = s.Problem();
        Assert.Equal("failover:tenants[9].name", p.Key);
        Assert.Contains("duplicate tenant 'contoso' (first at line 19)", p.Message);
    }

    [Fact]
    public void Vault_reference_to_a_missing_stack_lists_the_known_vaults()
    {
        using var s = Scenario.Cloud();
        s.Edit("prod-fsn1", "vaults: [vault-aws-par]", "vaults: [vault-aws-fra]");
        var p = s.Problem();
        Assert.Equal("failover:backup.vaults", p.Key);
        Assert.Contains("'vault-aws-fra' does not exist", p.Message);
        Assert.Contains("vault-aws-par", p.Fix);
    }

    [Fact]
    public void Dns_active_must_name_a_serving_stack()
    {
        using var s = Scenario.Cloud();
        s.Edit("dns-route53", "active: prod-fsn1", "active: vault-aws-par");
        Assert.Contains("serves no traffic", s.Problem().Message);
    }

    [Fact]
    public void Misspelled_failover_key_suggests_the_right_one()
    {
        using var s = Scenario.Cloud();
        s.Edit("prod-fsn1", "failover:tenants:", "failover:tennants:");
        var p = s.Problem();
        Assert.Equal("failover:tennants", p.Key);
        Assert.Contains("did you mean 'tenants'", p.Message);
    }

    [Fact]
    public void Unknown_nested_key_is_an_error_with_its_line()
    {
        using var s = Scenario.Cloud();
        s.Edit("vault-aws-par", "lockFor: 35d", "lockfor: 35d");
        var p = s.Problem();
        Assert.Equal("failover:vault.lockfor", p.Key);
        Assert.Contains("did you mean 'lockFor'", p.Message);
        Assert.NotNull(p.Line);
    }

    [Fact]
    public void Unknown_server_type_is_an_error_unless_its_capacity_is_declared()
    {
        using var s = Scenario.Cloud();
        s.Edit("standby-hel1", "mvd: { type: cpx32, count: 1 }\n      volumeGb: 120", "mvd: { type: cpx99, count: 1 }\n      volumeGb: 120");
        Assert.Contains("unknown hetzner server type 'cpx99'", s.Problem().Message);
        s.Edit("standby-hel1", "      volumeGb: 120", "      volumeGb: 120\n      vcpus: 4\n      memoryGb: 8\n      diskGb: 160");
        Assert.Equal("cpx99", s.Load().Find("standby-hel1")!.Servers[0].Mvd.Type);
    }

    [Fact]
    public void Dns_api_key_in_plain_text_is_refused()
    {
        using var s = Scenario.Cloud();
        s.Edit("dns-route53", "    ttl: 60", "    ttl: 60\n    apiKey: hunter2-plain");
        var p = s.Problem();
        Assert.Equal("failover:dns.apiKey", p.Key);
        Assert.Contains("--secret", p.Fix);
        Assert.DoesNotContain("hunter2", p.ToString());
    }

    [Fact]
    public void Secret_where_plain_text_is_expected_is_refused()
    {
        using var s = Scenario.Cloud();
        s.Edit("dns-route53", "zone: example.com", "zone:\n      secure: v1:abc");
        Assert.Contains("a secret is not allowed here", s.Problem().Message);
    }

    [Fact]
    public void Tenants_on_a_standby_are_refused()
    {
        using var s = Scenario.Cloud();
        s.Edit("standby-hel1", "  failover:mode: cold", "  failover:mode: cold\n  failover:tenants: [{ name: x, dataGb: 1 }]");
        Assert.Contains("only the production stack declares this", s.Problem().Message);
    }

    [Fact]
    public void Two_production_stacks_are_refused()
    {
        using var s = Scenario.Cloud();
        s.Edit("standby-hel1", "failover:role: standby", "failover:role: production");
        Assert.Contains(Assert.Throws<TopologyException>(() => s.Load()).Problems, p => p.Message.Contains("required for a production stack"));
    }

    [Fact]
    public void Unknown_policy_in_an_accept_list_is_refused()
    {
        using var s = Scenario.Cloud();
        s.Edit("prod-fsn1", "jurisdictions: [EEA]", "jurisdictions: [EEA]\n    accept: [{ id: vault-colocate, reason: x }]");
        Assert.Contains("did you mean 'vault-colocated'", s.Problem().Message);
    }

    [Fact]
    public void Local_site_must_bind_a_loopback_address()
    {
        using var s = Scenario.Local();
        s.Edit("local-standby", "address: 127.0.0.12", "address: 10.0.0.12");
        Assert.Contains("not a loopback address", s.Problem().Message);
    }

    [Fact]
    public void Every_problem_in_a_directory_is_reported_at_once()
    {
        using var s = Scenario.Cloud();
        s.Edit("standby-hel1", "provider: hetzner", "provider: ovh");
        s.Edit("vault-aws-par", "kind: s3", "kind: s4");
        var e = Assert.Throws<TopologyException>(() => s.Load());
        Assert.Equal(2, e.Problems.Count);
    }

    [Fact]
    public void Empty_or_missing_directories_are_clear_errors()
    {
        var empty = Directory.CreateTempSubdirectory().FullName;
        try
        {
            Assert.Contains("no Pulumi.<stack>.yaml files", Assert.Throws<TopologyException>(() => TopologyLoader.Load(empty)).Problems[0].Message);
            Assert.Contains("does not exist", Assert.Throws<TopologyException>(() => TopologyLoader.Load(Path.Combine(empty, "nope"))).Problems[0].Message);
        }
        finally { Directory.Delete(empty, true); }
    }

    [Fact]
    public void A_failed_load_changes_no_file()
    {
        using var s = Scenario.Cloud();
        s.Edit("prod-fsn1", "failover:role: production", "failover:role: prod");
        var before = Directory.GetFiles(s.Root, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllBytes);
        Assert.Throws<TopologyException>(() => s.Load());
        var after = Directory.GetFiles(s.Root, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllBytes);
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        foreach (var (f, bytes) in before) Assert.Equal(bytes, after[f]);
    }
}

public class YamlParserQuirkTests
{
    [Fact]
    public void Unclosed_flow_list_is_a_syntax_error_not_a_crash()
    {
        using var s = Scenario.Cloud();
        s.Edit("prod-fsn1", "    schedule: 30m", "    schedule: [30m");
        var p = s.Problem();
        Assert.Equal("(yaml)", p.Key);
        Assert.Contains("unclosed [", p.Fix);
    }
}
