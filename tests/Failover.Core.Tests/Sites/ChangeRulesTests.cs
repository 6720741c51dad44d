using Failover.Core.Sites;
using Failover.Core.Topology;

namespace Failover.Core.Tests.Sites;

public class ChangeRulesTests
{
    [Fact]
    public void A_restoring_standby_is_replaced_delete_first_and_nothing_of_it_is_protected()
    {
        var rules = SitePlan.For(SiteStacks.FailedOverToHel1().Find("standby-hel1")!).Changes;
        Assert.False(rules.Kept);
        Assert.True(rules.DeleteBeforeReplace);
        Assert.False(rules.Protected);
        // A new restore point must replace the server: its user data is not ignored.
        Assert.DoesNotContain("userData", rules.IgnoredHetznerServerChanges);
        Assert.DoesNotContain("userData", rules.IgnoredAwsInstanceChanges);
    }

    [Fact]
    public void Production_is_never_replaced_or_deleted_by_a_config_change()
    {
        var rules = SitePlan.For(SiteStacks.Load().Production).Changes;
        Assert.True(rules.Kept);
        Assert.True(rules.Protected);
        Assert.Equal(["image", "sshKeys", "userData"], rules.IgnoredHetznerServerChanges.Order());
        Assert.Contains("userData", rules.IgnoredAwsInstanceChanges);
        Assert.Contains("keyName", rules.IgnoredAwsInstanceChanges);
    }

    [Fact]
    public void A_kept_site_protects_every_server_application_servers_too()
    {
        // The fence keeps them all (it stops the application instead): one rule for every server, volume and address.
        var rules = SitePlan.For(SiteStacks.Load().Production).Changes;
        Assert.True(rules.Protected);
        var aws = SitePlan.For(SiteStacks.With("standby-aws-fra", "  failover:mode: fenced\n", "failover:mode").Find("standby-aws-fra")!);
        Assert.Equal(3, aws.Servers.Count);
        Assert.True(aws.Changes.Protected);
        Assert.Contains("userData", aws.Changes.IgnoredAwsInstanceChanges);
    }

    [Fact]
    public void The_way_back_replaces_a_former_primary_s_servers_so_the_fence_s_stop_marker_goes_with_them()
    {
        // After the fence the old primary is a fenced standby (its role rewritten); the migration back runs it at full size.
        var back = SiteStacks.With("prod-fsn1", "  failover:mode: full\n", "failover:mode").Production with { Role = Role.Standby };
        var plan = SitePlan.For(back);
        Assert.False(plan.Changes.Kept);
        Assert.Empty(plan.Changes.IgnoredHetznerServerChanges);
        // Its application servers' user data names the role they boot into, so it differs from what production booted with.
        var app = plan.Servers.First(s => !s.HoldsData);
        var asProduction = SitePlan.For(SiteStacks.Load().Production);
        Assert.NotEqual(BootstrapScript.Render(ServerBootstrap.For(asProduction, asProduction.Servers.First(s => s.Name == app.Name), null)),
            BootstrapScript.Render(ServerBootstrap.For(plan, app, null)));
    }

    [Fact]
    public void A_fenced_site_keeps_its_servers_protected_until_an_explicit_release()
    {
        var fenced = SiteStacks.With("prod-fsn1", "  failover:mode: fenced\n", "failover:mode").Production;
        Assert.True(SitePlan.For(fenced).Changes.Protected);
        var released = SiteStacks.With("prod-fsn1", "  failover:mode: fenced\n  failover:protection: released\n", "failover:mode").Production;
        var rules = SitePlan.For(released).Changes;
        Assert.True(rules.Kept);
        Assert.False(rules.Protected);
        // Still kept: a release lifts the delete protection, it does not let a config change rebuild the servers.
        Assert.Contains("userData", rules.IgnoredHetznerServerChanges);
    }

    [Fact]
    public void A_protection_setting_other_than_on_or_released_names_file_key_and_fix()
    {
        var e = Assert.Throws<TopologyException>(() => SiteStacks.With("prod-fsn1", "  failover:protection: off\n"));
        var problem = Assert.Single(e.Problems);
        Assert.Equal("failover:protection", problem.Key);
        Assert.EndsWith("Pulumi.prod-fsn1.yaml", problem.File);
        Assert.Contains("released", problem.Fix);
    }

    [Fact]
    public void Aws_names_that_must_be_unique_are_prefixes_so_a_replacement_never_collides()
    {
        var names = new SiteNames("standby-aws-fra", Role.Standby);
        Assert.Equal("standby-aws-fra-fw-", ChangeRules.AwsNamePrefix(names.Firewall));
    }

    [Fact]
    public void The_new_production_never_keeps_a_lifted_protection()
    {
        var t = SiteStacks.With("standby-hel1", "  failover:protection: released\n");
        var edit = RoleChange.Promote(t, "standby-hel1", SiteMode.Fenced).Single(e => e.File.EndsWith("Pulumi.standby-hel1.yaml"));
        Assert.DoesNotContain("failover:protection", edit.After);
    }
}
