using System.Net;
using Failover.Core.Topology;
using Failover.Driver.Dns;

namespace Failover.Driver.Tests.Dns;

public sealed class ServiceRecordsTests
{
    private static DnsSpec Spec(params DnsRecord[] records) =>
        new(DnsProvider.PowerDns, "drill.test", records, 60, "local-prod", "http://127.0.0.1:8081", null);

    [Fact]
    public void A_and_aaaa_records_get_the_new_site_addresses_of_their_family_and_the_zone_ttl()
    {
        var spec = Spec(new DnsRecord("app", "A"), new DnsRecord("app", "aaaa"));

        var sets = ServiceRecords.PointingAt(spec, [IPAddress.Parse("198.51.100.7"), IPAddress.Parse("2001:db8::7")]);

        Assert.Equal(new RecordSet("app", "A", sets[0].Values, 60), sets[0]);
        Assert.Equal(["198.51.100.7"], sets[0].Values);
        Assert.Equal("AAAA", sets[1].Type);
        Assert.Equal(["2001:db8::7"], sets[1].Values);
    }

    [Fact]
    public void A_record_the_new_site_has_no_address_for_is_refused_rather_than_emptied()
    {
        var error = Assert.Throws<ArgumentException>(() =>
            ServiceRecords.PointingAt(Spec(new DnsRecord("app", "AAAA")), [IPAddress.Parse("198.51.100.7")]));

        Assert.Contains("no IPv6 address", error.Message);
    }
}
