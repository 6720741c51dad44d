using Failover.Core.Policies;

namespace Failover.Core.Tests;

/// <summary>Each policy: one edit of the example topology that makes it fire, and the unedited case where it does not.</summary>
public class PolicyTests
{
    private static Finding Fired(Scenario s, string id, string? target = null) =>
        Assert.Single(s.Findings(target), f => f.PolicyId == id);

    private static void NotFired(Scenario s, string id, string? target = null) =>
        Assert.DoesNotContain(s.Findings(target), f => f.PolicyId == id);

    private const string VaultSite = "    provider: aws\n    region: eu-west-3";

    [Fact]
    public void Vault_in_the_production_location_is_an_error()
    {
        using var s = Scenario.Cloud();
        NotFired(s, "vault-colocated");
        s.Edit("vault-aws-par", VaultSite, "    provider: hetzner\n    location: fsn1")
         .Edit("vault-aws-par", "aws:region: eu-west-3", "")
         .Edit("vault-aws-par", "kind: s3", "kind: storagebox");
        var f = Fired(s, "vault-colocated");
        Assert.Equal(Severity.Error, f.Severity);
        Assert.Equal(["vault-aws-par", "prod-fsn1"], f.Stacks);
        Assert.Contains("same location", f.Message);
        Assert.Contains("OVH", f.Explanation);
    }

    [Fact]
    public void Vault_in_the_production_datacenter_names_the_datacenter()
    {
        using var s = Scenario.Cloud();
        s.Edit("vault-aws-par", VaultSite, "    provider: hetzner\n    location: fsn1\n    datacenter: fsn1-dc14")
         .Edit("vault-aws-par", "kind: s3", "kind: storagebox");
        Assert.Contains("same datacenter", Fired(s, "vault-colocated").Message);
    }

    [Fact]
    public void Vault_at_the_production_provider_elsewhere_is_a_warning()
    {
        using var s = Scenario.Cloud();
        NotFired(s, "vault-same-provider");
        s.Edit("vault-aws-par", VaultSite, "    provider: hetzner\n    location: nbg1")
         .Edit("vault-aws-par", "kind: s3", "kind: storagebox");
        Assert.Equal(Severity.Warning, Fired(s, "vault-same-provider").Severity);
        NotFired(s, "vault-colocated");
    }

    [Fact]
    public void Standby_in_the_production_location_is_an_error()
    {
        using var s = Scenario.Cloud();
        NotFired(s, "standby-colocated");
        s.Edit("standby-hel1", "location: hel1\n    datacenter: hel1-dc2", "location: fsn1");
        var f = Fired(s, "standby-colocated");
        Assert.Equal(Severity.Error, f.Severity);
        Assert.Contains("standby-hel1", f.Stacks);
    }

    [Fact]
    public void Every_standby_at_the_production_provider_is_a_warning()
    {
        using var s = Scenario.Cloud();
        NotFired(s, "standby-same-provider");
        s.Remove("standby-aws-fra");
        Assert.Equal(Severity.Warning, Fired(s, "standby-same-provider").Severity);
    }

    [Fact]
    public void No_standby_is_an_error()
    {
        using var s = Scenario.Cloud();
        NotFired(s, "no-standby");
        s.Remove("standby-aws-fra").Remove("standby-hel1");
        Assert.Equal(Severity.Error, Fired(s, "no-standby").Severity);
    }

    [Fact]
    public void Dns_on_the_production_provider_is_a_warning()
    {
        using var s = Scenario.Cloud();
        NotFired(s, "dns-on-production-provider");
        s.Edit("dns-route53", "provider: route53", "provider: hetzner");
        Assert.Equal(Severity.Warning, Fired(s, "dns-on-production-provider").Severity);
    }

    [Fact]
    public void Self_hosted_dns_in_the_production_location_is_an_error()
    {
        using var s = Scenario.Cloud();
        NotFired(s, "dns-colocated");
        s.Edit("dns-route53", "provider: route53", "provider: powerdns")
         .Edit("dns-route53", "    provider: aws\n    region: us-east-1", "    provider: hetzner\n    location: fsn1");
        Assert.Equal(Severity.Error, Fired(s, "dns-colocated").Severity);
    }

    [Fact]
    public void Missing_dns_stack_is_a_warning()
    {
        using var s = Scenario.Cloud();
        NotFired(s, "no-dns-stack");
        s.Remove("dns-route53");
        Assert.Equal(Severity.Warning, Fired(s, "no-dns-stack").Severity);
    }

    [Fact]
    public void Dns_pointing_at_a_standby_is_a_warning()
    {
        using var s = Scenario.Cloud();
        NotFired(s, "dns-active-not-production");
        s.Edit("dns-route53", "active: prod-fsn1", "active: standby-hel1");
        Assert.Contains("standby-hel1", Fired(s, "dns-active-not-production").Message);
    }

    [Fact]
    public void Stack_outside_the_allowed_jurisdiction_is_an_error()
    {
        using var s = Scenario.Cloud();
        NotFired(s, "outside-jurisdiction");
        s.Edit("standby-aws-fra", "region: eu-central-1\n    datacenter: eu-central-1a", "region: us-east-1");
        var f = Fired(s, "outside-jurisdiction");
        Assert.Equal(["standby-aws-fra"], f.Stacks);
        Assert.Contains("US", f.Message);
    }

    [Fact]
    public void Switzerland_is_outside_the_eea_but_a_country_list_can_allow_it()
    {
        using var s = Scenario.Cloud();
        s.Edit("standby-aws-fra", "region: eu-central-1\n    datacenter: eu-central-1a", "region: eu-central-2");
        Fired(s, "outside-jurisdiction");
        s.Edit("prod-fsn1", "jurisdictions: [EEA]", "jurisdictions: [EEA, CH]");
        NotFired(s, "outside-jurisdiction");
    }

    [Fact]
    public void Dns_stack_is_not_judged_by_jurisdiction()
    {
        using var s = Scenario.Cloud();
        // dns-route53 sits in us-east-1 (Route 53 is global) and holds no customer data.
        Assert.Equal("US", s.Load().DnsStack!.Site.Country);
        NotFired(s, "outside-jurisdiction");
    }

    [Fact]
    public void Vault_without_object_lock_is_an_error()
    {
        using var s = Scenario.Cloud();
        NotFired(s, "vault-not-immutable");
        s.Edit("vault-aws-par", "objectLock: compliance\n    lockFor: 35d", "objectLock: none");
        Assert.Equal(Severity.Error, Fired(s, "vault-not-immutable").Severity);
    }

    [Fact]
    public void Object_lock_shorter_than_retention_is_an_error()
    {
        using var s = Scenario.Cloud();
        s.Edit("vault-aws-par", "lockFor: 35d", "lockFor: 7d");
        var f = Fired(s, "vault-not-immutable");
        Assert.Contains("7d", f.Message);
        Assert.Contains("lockFor", f.Fix);
    }

    [Fact]
    public void Production_credentials_that_can_delete_backups_are_an_error()
    {
        using var s = Scenario.Cloud();
        NotFired(s, "production-can-delete-backups");
        s.Edit("vault-aws-par", "productionAccess: append-only", "productionAccess: read-write");
        Assert.Equal(Severity.Error, Fired(s, "production-can-delete-backups").Severity);
    }

    [Fact]
    public void A_storage_box_as_the_only_vault_is_an_error_but_fine_as_a_second_copy()
    {
        using var s = Scenario.Cloud();
        s.Write("vault-hetzner-box", """
            config:
              failover:role: vault
              failover:site: { provider: hetzner, location: nbg1 }
              failover:vault: { kind: storagebox, productionAccess: append-only }
            """);
        s.Edit("prod-fsn1", "vaults: [vault-aws-par]", "vaults: [vault-aws-par, vault-hetzner-box]");
        NotFired(s, "storagebox-only-vault");
        s.Edit("prod-fsn1", "vaults: [vault-aws-par, vault-hetzner-box]", "vaults: [vault-hetzner-box]");
        var f = Fired(s, "storagebox-only-vault");
        Assert.Equal(Severity.Error, f.Severity);
        Assert.Contains("one host in one location", f.Explanation);
    }

    [Fact]
    public void Ttl_longer_than_the_rto_is_an_error_and_above_60s_a_warning()
    {
        using var s = Scenario.Cloud();
        NotFired(s, "dns-ttl-above-60s");
        NotFired(s, "dns-ttl-exceeds-rto");
        s.Edit("dns-route53", "ttl: 60", "ttl: 300");
        Assert.Equal(Severity.Warning, Fired(s, "dns-ttl-above-60s").Severity);
        NotFired(s, "dns-ttl-exceeds-rto");
        s.Edit("dns-route53", "ttl: 300", "ttl: 5h");
        Assert.Equal(Severity.Error, Fired(s, "dns-ttl-exceeds-rto").Severity);
    }

    [Fact]
    public void Backup_schedule_longer_than_the_rpo_is_an_error()
    {
        using var s = Scenario.Cloud();
        NotFired(s, "backup-schedule-exceeds-rpo");
        s.Edit("prod-fsn1", "schedule: 30m", "schedule: 24h");
        var f = Fired(s, "backup-schedule-exceeds-rpo");
        Assert.Contains("1d", f.Message);
        Assert.Contains("1h", f.Message);
    }

    [Fact]
    public void Backup_run_pushing_the_worst_case_past_the_rpo_is_a_warning()
    {
        using var s = Scenario.Cloud();
        NotFired(s, "rpo-estimate-exceeds-target");
        s.Edit("prod-fsn1", "schedule: 30m", "schedule: 55m");
        Assert.Equal(Severity.Warning, Fired(s, "rpo-estimate-exceeds-target").Severity);
        NotFired(s, "backup-schedule-exceeds-rpo");
    }

    [Fact]
    public void No_standby_able_to_hold_every_tenant_is_an_error()
    {
        using var s = Scenario.Cloud();
        NotFired(s, "no-standby-fits-tenants");
        s.Edit("prod-fsn1", "{ name: northwind, tier: 1, dataGb: 25 }", "{ name: northwind, tier: 1, dataGb: 900 }");
        var f = Fired(s, "no-standby-fits-tenants");
        Assert.Contains("GB", f.Message);
        Assert.Equal(["standby-hel1", "standby-aws-fra"], f.Stacks.Order().Reverse());
    }

    [Fact]
    public void A_target_too_small_fires_for_that_target_only()
    {
        using var s = Scenario.Cloud();
        s.Edit("standby-aws-fra", "volumeGb: 150", "volumeGb: 10");
        NotFired(s, "no-standby-fits-tenants");               // standby-hel1 still fits
        Assert.Contains("standby-aws-fra", Fired(s, "no-standby-fits-tenants", "standby-aws-fra").Message);
    }

    [Fact]
    public void Estimated_recovery_beyond_the_rto_is_an_error()
    {
        using var s = Scenario.Cloud();
        NotFired(s, "restore-exceeds-rto", "standby-hel1");
        s.Edit("prod-fsn1", "rto: 4h", "rto: 10m");
        var f = Fired(s, "restore-exceeds-rto", "standby-hel1");
        Assert.Contains("10m target", f.Message);
    }

    [Fact]
    public void State_backend_in_the_production_location_is_an_error()
    {
        using var s = Scenario.Cloud();
        NotFired(s, "state-backend-in-production-domain");
        s.Project("s3://acme-failover-state?region=eu-north-1", "s3://state?endpoint=fsn1.your-objectstorage.com&region=fsn1");
        var f = Fired(s, "state-backend-in-production-domain");
        Assert.Equal(Severity.Error, f.Severity);
        Assert.Contains("Hetzner Object Storage in fsn1", f.Message);
    }

    [Fact]
    public void State_backend_at_production_provider_elsewhere_is_a_warning()
    {
        using var s = Scenario.Cloud();
        NotFired(s, "state-backend-same-provider");
        s.Project("s3://acme-failover-state?region=eu-north-1", "s3://state?endpoint=hel1.your-objectstorage.com");
        Assert.Equal(Severity.Warning, Fired(s, "state-backend-same-provider").Severity);
    }

    [Fact]
    public void Undeclared_state_backend_is_a_warning_and_the_stack_file_key_counts()
    {
        using var s = Scenario.Cloud();
        NotFired(s, "state-backend-undeclared");
        s.Project("backend:\n  url: s3://acme-failover-state?region=eu-north-1", "");
        Assert.Equal(Severity.Warning, Fired(s, "state-backend-undeclared").Severity);
        s.Edit("prod-fsn1", "  failover:mode: full", "  failover:mode: full\n  failover:stateBackend: { url: 'https://api.pulumi.com' }");
        NotFired(s, "state-backend-undeclared");
    }

    [Fact]
    public void File_state_backend_for_a_cloud_production_is_a_warning()
    {
        using var s = Scenario.Cloud();
        s.Project("s3://acme-failover-state?region=eu-north-1", "file://~/.pulumi");
        Assert.Equal(Severity.Warning, Fired(s, "state-backend-local-file").Severity);
    }

    [Fact]
    public void Run_state_outside_s3_for_a_cloud_production_is_a_warning_and_a_local_topology_is_not_judged()
    {
        using var s = Scenario.Cloud();
        NotFired(s, "run-state-on-one-machine");
        s.Project("s3://acme-failover-state?region=eu-north-1", "https://api.pulumi.com");
        var f = Fired(s, "run-state-on-one-machine");
        Assert.Equal(Severity.Warning, f.Severity);
        Assert.Contains("https://api.pulumi.com is not S3", f.Message);
        s.Project("https://api.pulumi.com", "s3://state/team?endpoint=https://s3.example.net&region=eu");
        NotFired(s, "run-state-on-one-machine");

        using var local = Scenario.Local();
        NotFired(local, "run-state-on-one-machine");
    }

    [Fact]
    public void Planning_across_datacenters_notes_the_dns_cutover()
    {
        using var s = Scenario.Cloud();
        NotFired(s, "cross-datacenter-needs-dns");
        var f = Fired(s, "cross-datacenter-needs-dns", "standby-hel1");
        Assert.Equal(Severity.Info, f.Severity);
        Assert.Contains("floating IPs cannot leave their network zone", f.Message);
    }

    [Fact]
    public void An_accepted_risk_becomes_a_note_with_its_reason()
    {
        using var s = Scenario.Cloud();
        s.Edit("vault-aws-par", "productionAccess: append-only", "productionAccess: read-write")
         .Edit("prod-fsn1", "jurisdictions: [EEA]", "jurisdictions: [EEA]\n    accept:\n      - { id: production-can-delete-backups, reason: migration until Friday }");
        var f = Fired(s, "production-can-delete-backups");
        Assert.Equal(Severity.Info, f.Severity);
        Assert.Equal("migration until Friday", f.AcceptedBecause);
    }

    [Fact]
    public void Every_policy_has_a_unique_kebab_case_id_an_explanation_and_a_fix()
    {
        Assert.Equal(PolicyBook.All.Count, PolicyBook.All.Select(p => p.Id).Distinct().Count());
        foreach (var p in PolicyBook.All)
        {
            Assert.Matches("^[a-z0-9]+(-[a-z0-9]+)*$", p.Id);
            Assert.True(p.Explanation.Length > 80, p.Id);
            Assert.False(string.IsNullOrWhiteSpace(p.Fix), p.Id);
        }
    }
}
