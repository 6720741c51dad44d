using Failover.Core.Policies;
using Failover.Core.Topology;

namespace Failover.Core.Tests;

public class ExampleTopologyTests
{
    [Fact]
    public void Cloud_examples_load_with_the_five_named_stacks()
    {
        var t = TopologyLoader.Load(Examples.CloudStacks);
        Assert.Equal(["dns-route53", "prod-fsn1", "standby-aws-fra", "standby-hel1", "vault-aws-par"], t.Stacks.Select(s => s.Name).Order());
        Assert.Equal("prod-fsn1", t.Production.Name);
        Assert.Equal(10, t.Tenants.Count);
        Assert.Equal("s3://acme-failover-state?region=eu-north-1", t.StateBackendUrl);
    }

    [Fact]
    public void Cloud_examples_have_no_error_findings()
    {
        var t = TopologyLoader.Load(Examples.CloudStacks);
        var findings = PolicyBook.Evaluate(t);
        Assert.DoesNotContain(findings, f => f.Severity == Severity.Error);
    }

    [Fact]
    public void Local_example_loads_and_its_accepted_risks_are_notes()
    {
        var t = TopologyLoader.Load(Examples.LocalStacks);
        Assert.Equal(Provider.Local, t.Production.Site.Provider);
        var findings = PolicyBook.Evaluate(t);
        Assert.DoesNotContain(findings, f => f.Severity == Severity.Error);
        var accepted = Assert.Single(findings, f => f.PolicyId == "vault-not-immutable");
        Assert.Equal(Severity.Info, accepted.Severity);
        Assert.Contains("directory", accepted.AcceptedBecause);
    }

    [Fact]
    public void Secrets_in_stack_files_are_recognised_and_never_shown()
    {
        var t = TopologyLoader.Load(Examples.CloudStacks);
        Assert.Contains("hcloud:token", t.Production.SecretKeys);
        Assert.DoesNotContain(t.Production.SecretKeys, k => k.StartsWith("failover:", StringComparison.Ordinal));
        Assert.Equal("[secret]", new SecretValue("v1:abc").ToString());
    }
}
