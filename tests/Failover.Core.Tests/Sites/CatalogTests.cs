using Failover.Core.FailureDomains;
using Failover.Core.Policies;
using Failover.Core.Topology;

namespace Failover.Core.Tests.Sites;

public class CatalogTests
{
    [Fact]
    public void A_standby_on_a_deprecated_hetzner_type_is_an_error_naming_orderable_types()
    {
        // The shipped examples order only current types.
        Assert.DoesNotContain(SiteStacks.Load() is var t ? PolicyBook.Evaluate(t) : [], f => f.PolicyId is "standby-type-not-orderable" or "production-type-deprecated");
        using var s = Scenario.Cloud();
        s.Edit("standby-hel1", "mvd: { type: cpx32, count: 1 }", "mvd: { type: cpx31, count: 1 }");
        var finding = Assert.Single(s.Findings(), f => f.PolicyId == "standby-type-not-orderable");
        Assert.Equal(Severity.Error, finding.Severity);
        Assert.Contains("cpx31 is deprecated", finding.Message);
        Assert.Contains("cpx32", finding.Fix);
    }

    [Fact]
    public void Production_on_a_deprecated_type_is_a_warning_it_keeps_running()
    {
        using var s = Scenario.Cloud();
        s.Edit("prod-fsn1", "full: { type: cpx42, count: 2 }", "full: { type: cpx41, count: 2 }");
        var finding = Assert.Single(PolicyBook.Evaluate(s.Load()), f => f.PolicyId == "production-type-deprecated");
        Assert.Equal(Severity.Warning, finding.Severity);
    }

    [Fact]
    public void A_standby_on_a_type_hetzner_lists_as_not_available_is_warned_and_offered_a_cpx_or_ccx_instead()
    {
        using var s = Scenario.Cloud();
        s.Edit("standby-hel1", "mvd: { type: cpx32, count: 1 }", "mvd: { type: cx33, count: 1 }");
        var finding = Assert.Single(s.Findings(), f => f.PolicyId == "standby-type-sold-out");
        Assert.Equal(Severity.Warning, finding.Severity);
        Assert.Contains("cx33 was listed as not available", finding.Message);
        Assert.Contains("Use cpx32", finding.Fix);
        Assert.DoesNotContain(finding.Fix!.Split(" for group")[0].Split(", "), t => t.Contains("cx3") || t.Contains("cax"));
        // Production already running on one keeps running: nothing to order, nothing to warn about.
        s.Edit("standby-hel1", "mvd: { type: cx33, count: 1 }", "mvd: { type: cpx32, count: 1 }");
        s.Edit("prod-fsn1", "full: { type: cpx42, count: 2 }", "full: { type: cx43, count: 2 }");
        Assert.DoesNotContain(s.Findings(), f => f.PolicyId == "standby-type-sold-out");
    }

    [Fact]
    public void Cx_and_cax_types_are_sold_in_the_eu_locations_only()
    {
        Assert.True(Catalog.IsOrderable(Provider.Hetzner, "cx23", "fsn1"));
        Assert.False(Catalog.IsOrderable(Provider.Hetzner, "cx23", "ash"));
        Assert.False(Catalog.IsOrderable(Provider.Hetzner, "cax11", "sin"));
        Assert.True(Catalog.IsOrderable(Provider.Hetzner, "cpx62", "hil"));
        Assert.True(Catalog.IsOrderable(Provider.Hetzner, "ccx13", "ash"));
        Assert.False(Catalog.IsOrderable(Provider.Hetzner, "cpx21", "fsn1"));
        Assert.DoesNotContain(Catalog.OrderableAlternatives(Provider.Hetzner, "ash", new ServerCapacity(2, 4, 40)), t => t.StartsWith("cx") || t.StartsWith("cax"));
    }

    [Theory]
    [InlineData("ap-southeast-7", "TH")]
    [InlineData("ap-east-2", "TW")]
    [InlineData("ap-southeast-6", "NZ")]
    public void The_aws_regions_opened_in_2025_are_known(string region, string country) =>
        Assert.Equal(country, Catalog.FindLocation(Provider.Aws, region)!.Country);

    [Fact]
    public void Did_you_mean_never_offers_a_region_in_another_country_for_an_unknown_region_number()
    {
        using var s = Scenario.Cloud();
        s.Edit("standby-aws-fra", "region: eu-central-1", "region: ap-southeast-9");
        var message = s.Problem().Message;
        Assert.Contains("unknown aws location 'ap-southeast-9'", message);
        Assert.DoesNotContain("did you mean", message);
        // A real typo still gets its suggestion.
        s.Edit("standby-aws-fra", "region: ap-southeast-9", "region: eu-centrl-1");
        Assert.Contains("did you mean 'eu-central-1'", s.Problem().Message);
    }

    [Fact]
    public void A_datacenter_is_checked_against_its_locations_list()
    {
        using var s = Scenario.Cloud();
        s.Edit("standby-hel1", "datacenter: hel1-dc2", "datacenter: hel1-dc9");
        var p = s.Problem();
        Assert.Contains("datacenter 'hel1-dc9' is not in hel1", p.Message);
        Assert.Contains("hel1-dc2", p.Fix);
        s.Edit("standby-hel1", "datacenter: hel1-dc9", "datacenter: hel1-dc2");
        s.Edit("standby-aws-fra", "datacenter: eu-central-1a", "datacenter: eu-central-1-zz");
        Assert.Contains("is not in eu-central-1", s.Problem().Message);
    }
}
