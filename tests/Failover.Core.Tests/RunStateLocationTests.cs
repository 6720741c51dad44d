using Failover.Core.Topology;

namespace Failover.Core.Tests;

public class RunStateLocationTests
{
    [Fact]
    public void An_s3_backend_keeps_the_run_state_in_its_bucket_under_a_prefix_per_project()
    {
        var l = RunStateLocation.FromBackend("s3://acme-failover-state?region=eu-north-1", "failover")!;
        Assert.Equal(RunStateKind.S3, l.Kind);
        Assert.Equal("acme-failover-state", l.Bucket);
        Assert.Equal(".failover/failover/", l.Prefix);
        Assert.Equal("eu-north-1", l.Region);
        Assert.Null(l.Endpoint);
        Assert.Equal("s3://acme-failover-state/.failover/failover", l.Display);
    }

    [Fact]
    public void A_path_or_prefix_and_an_s3_compatible_endpoint_are_read_as_pulumi_reads_them()
    {
        var l = RunStateLocation.FromBackend("s3://state/team/a?endpoint=http%3A%2F%2F127.0.4.1%3A7480&region=us-east-1&s3ForcePathStyle=true", "shop")!;
        Assert.Equal("team/a/.failover/shop/", l.Prefix);
        Assert.Equal("http://127.0.4.1:7480", l.Endpoint);
        Assert.True(l.ForcePathStyle);
        Assert.Equal("x/.failover/shop/", RunStateLocation.FromBackend("s3://state?prefix=x/", "shop")!.Prefix);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("file://./.failover/pulumi-state")]
    [InlineData("https://api.pulumi.com")]
    [InlineData("gs://bucket")]
    public void Any_other_backend_keeps_the_run_state_in_a_folder(string? url) => Assert.Null(RunStateLocation.FromBackend(url, "p"));

    [Fact]
    public void An_s3_url_without_a_bucket_is_refused_with_the_form_to_write() =>
        Assert.Contains("s3://BUCKET?region=REGION", Assert.Throws<FormatException>(() => RunStateLocation.FromBackend("s3://?region=x", "p")).Message);
}

public class StaleCheckoutTests
{
    [Fact]
    public void Only_mode_snapshots_and_dns_active_that_differ_from_the_deployment_count()
    {
        using var s = Scenario.Cloud();
        var t = s.Load();
        var none = StaleCheckout.Compare(t, [new DeployedStack("standby-hel1", "cold", new Dictionary<string, string>(), null),
            new DeployedStack("dns-route53", null, null, "prod-fsn1"), new DeployedStack("not-in-files", "mvd", null, null)]);
        Assert.Empty(none);

        var stale = StaleCheckout.Compare(t, [new DeployedStack("standby-hel1", "mvd", new Dictionary<string, string> { ["contoso"] = "abc" }, null)]);
        Assert.Equal(["failover:mode", "failover:snapshots.contoso"], stale.Select(d => d.Key));
        Assert.Equal("pulumi config set --path --stack standby-hel1 failover:snapshots.contoso abc", stale[1].UpdateCommand);
        Assert.Contains("Pulumi.standby-hel1.yaml: failover:mode is cold in the stack files, mvd deployed", StaleCheckout.Describe(stale));
    }
}
