using Failover.Core.FailureDomains;
using Failover.Core.Topology;

namespace Failover.Core.Tests;

public class ModelTests
{
    [Theory]
    [InlineData("90s", 90)]
    [InlineData("15m", 900)]
    [InlineData("1h30m", 5400)]
    [InlineData("1h 30m", 5400)]
    [InlineData("30d", 2592000)]
    [InlineData("2w", 1209600)]
    [InlineData("1.5h", 5400)]
    public void Durations_parse(string text, int seconds)
    {
        Assert.True(Durations.TryParse(text, out var v));
        Assert.Equal(TimeSpan.FromSeconds(seconds), v);
    }

    [Theory]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("h")]
    [InlineData("5x")]
    [InlineData("-5m")]
    [InlineData("99999999999999999999d")]
    public void Durations_reject_nonsense(string text) => Assert.False(Durations.TryParse(text, out _));

    [Fact]
    public void Durations_format_compactly() =>
        Assert.Equal(["0s", "45s", "1m 30s", "1h", "2d 4h"],
            new[] { 0, 45, 90, 3600, 187200 }.Select(s => Durations.Format(TimeSpan.FromSeconds(s))));

    private static FailureDomain D(string loc, string? dc = null, Provider p = Provider.Hetzner) =>
        new(p, Catalog.FindLocation(p, loc)!.NetworkZone, loc, dc);

    [Fact]
    public void Failure_domains_share_the_deepest_common_level()
    {
        Assert.Equal(SharedLevel.Datacenter, D("fsn1", "fsn1-dc14").SharedWith(D("fsn1", "fsn1-dc14")));
        Assert.Equal(SharedLevel.Location, D("fsn1", "fsn1-dc14").SharedWith(D("fsn1")));
        Assert.Equal(SharedLevel.NetworkZone, D("fsn1").SharedWith(D("hel1")));
        Assert.Equal(SharedLevel.Provider, D("fsn1").SharedWith(D("ash")));
        Assert.Equal(SharedLevel.None, D("fsn1").SharedWith(D("eu-central-1", p: Provider.Aws)));
        Assert.Equal(SharedLevel.Provider, D("eu-west-3", p: Provider.Aws).SharedWith(D("eu-central-1", p: Provider.Aws)));
    }

    [Fact]
    public void Hetzner_locations_carry_zone_and_country()
    {
        var expected = new Dictionary<string, (string Zone, string Country)>
        {
            ["fsn1"] = ("eu-central", "DE"), ["nbg1"] = ("eu-central", "DE"), ["hel1"] = ("eu-central", "FI"),
            ["ash"] = ("us-east", "US"), ["hil"] = ("us-west", "US"), ["sin"] = ("ap-southeast", "SG"),
        };
        foreach (var (name, (zone, country)) in expected)
        {
            var l = Catalog.FindLocation(Provider.Hetzner, name)!;
            Assert.Equal((zone, country), (l.NetworkZone, l.Country));
        }
    }

    [Theory]
    [InlineData("DE", "EEA", true)]
    [InlineData("NO", "EEA", true)]
    [InlineData("NO", "EU", false)]
    [InlineData("CH", "EEA", false)]
    [InlineData("GB", "EEA", false)]
    [InlineData("US", "US", true)]
    [InlineData("FI", "DE", false)]
    public void Jurisdictions(string country, string jurisdiction, bool within) =>
        Assert.Equal(within, Catalog.IsWithin(country, jurisdiction));

    [Theory]
    [InlineData("s3://b?region=eu-west-3", "aws/eu-west-3/eu-west-3")]
    [InlineData("s3://b?endpoint=https://nbg1.your-objectstorage.com", "hetzner/eu-central/nbg1")]
    [InlineData("https://api.pulumi.com", "aws/us-west-2/us-west-2")]
    [InlineData("file:///var/lib/pulumi", "local/this-machine/this-machine")]
    [InlineData("gs://bucket", null)]
    public void State_backend_urls_map_to_failure_domains(string url, string? domain) =>
        Assert.Equal(domain, StateBackendLocation.Of(url).Domain?.ToString());

    [Fact]
    public void Mvd_storage_counts_disks_and_volumes_of_the_mvd_servers()
    {
        var t = TopologyLoader.Load(Examples.CloudStacks);
        // hel1: db cpx32 (160 GB) + 120 GB volume, app cpx22 (80 GB).
        Assert.Equal(360, t.Find("standby-hel1")!.StorageGbIn(SiteMode.Mvd));
        Assert.Equal(0, t.Find("standby-hel1")!.StorageGbIn(SiteMode.Cold));
    }
}
