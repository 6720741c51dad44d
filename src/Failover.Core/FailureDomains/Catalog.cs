using Failover.Core.Topology;

namespace Failover.Core.FailureDomains;

/// <summary>A provider location (Hetzner) or region (AWS) and where it sits.</summary>
public sealed record Location(
    Provider Provider,
    string Name,
    string NetworkZone,
    string Country,
    string City,
    IReadOnlyList<string> Datacenters);

/// <summary>
/// The places and machine sizes the tool knows, as data: every rule reads them from here.
/// Sources: Hetzner's locations and network zones (docs.hetzner.com), AWS's region list.
/// </summary>
public static class Catalog
{
    public static readonly IReadOnlyList<Location> Locations =
    [
        // Hetzner: primary IPs belong to one datacenter, floating IPs and private networks to one network zone.
        new(Provider.Hetzner, "fsn1", "eu-central", "DE", "Falkenstein", ["fsn1-dc14"]),
        new(Provider.Hetzner, "nbg1", "eu-central", "DE", "Nuremberg", ["nbg1-dc3"]),
        new(Provider.Hetzner, "hel1", "eu-central", "FI", "Helsinki", ["hel1-dc2"]),
        new(Provider.Hetzner, "ash", "us-east", "US", "Ashburn, VA", ["ash-dc1"]),
        new(Provider.Hetzner, "hil", "us-west", "US", "Hillsboro, OR", ["hil-dc1"]),
        new(Provider.Hetzner, "sin", "ap-southeast", "SG", "Singapore", ["sin-dc1"]),
        // AWS: a region is its own network; its availability zones are the datacenters.
        Aws("us-east-1", "US", "N. Virginia"), Aws("us-east-2", "US", "Ohio"),
        Aws("us-west-1", "US", "N. California"), Aws("us-west-2", "US", "Oregon"),
        Aws("ca-central-1", "CA", "Montreal"), Aws("ca-west-1", "CA", "Calgary"),
        Aws("mx-central-1", "MX", "Queretaro"), Aws("sa-east-1", "BR", "Sao Paulo"),
        Aws("eu-central-1", "DE", "Frankfurt"), Aws("eu-central-2", "CH", "Zurich"),
        Aws("eu-west-1", "IE", "Dublin"), Aws("eu-west-2", "GB", "London"),
        Aws("eu-west-3", "FR", "Paris"), Aws("eu-north-1", "SE", "Stockholm"),
        Aws("eu-south-1", "IT", "Milan"), Aws("eu-south-2", "ES", "Aragon"),
        Aws("il-central-1", "IL", "Tel Aviv"), Aws("me-south-1", "BH", "Bahrain"),
        Aws("me-central-1", "AE", "UAE"), Aws("af-south-1", "ZA", "Cape Town"),
        Aws("ap-east-1", "HK", "Hong Kong"), Aws("ap-south-1", "IN", "Mumbai"),
        Aws("ap-south-2", "IN", "Hyderabad"), Aws("ap-northeast-1", "JP", "Tokyo"),
        Aws("ap-northeast-2", "KR", "Seoul"), Aws("ap-northeast-3", "JP", "Osaka"),
        Aws("ap-southeast-1", "SG", "Singapore"), Aws("ap-southeast-2", "AU", "Sydney"),
        Aws("ap-southeast-3", "ID", "Jakarta"), Aws("ap-southeast-4", "AU", "Melbourne"),
        Aws("ap-southeast-5", "MY", "Malaysia"),
    ];

    private static Location Aws(string region, string country, string city) =>
        new(Provider.Aws, region, region, country, city, []);

    /// <summary>The European Economic Area: the 27 EU members plus Iceland, Liechtenstein and Norway.</summary>
    public static readonly IReadOnlySet<string> Eea = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
        "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
    };

    /// <summary>The European Union's 27 members.</summary>
    public static readonly IReadOnlySet<string> Eu = new HashSet<string>(
        Eea.Where(c => c is not ("IS" or "LI" or "NO")), StringComparer.OrdinalIgnoreCase);

    public static Location? FindLocation(Provider provider, string name) =>
        Locations.FirstOrDefault(l => l.Provider == provider && string.Equals(l.Name, name, StringComparison.OrdinalIgnoreCase));

    public static IEnumerable<string> LocationNames(Provider provider) =>
        Locations.Where(l => l.Provider == provider).Select(l => l.Name);

    /// <summary>Whether a country is inside an allowed jurisdiction: a country code, EEA or EU.</summary>
    public static bool IsWithin(string country, string jurisdiction) => jurisdiction.ToUpperInvariant() switch
    {
        "EEA" => Eea.Contains(country),
        "EU" => Eu.Contains(country),
        var code => string.Equals(code, country, StringComparison.OrdinalIgnoreCase),
    };

    /// <summary>Server types and their capacity: Hetzner Cloud and the AWS types a small SaaS uses.</summary>
    public static readonly IReadOnlyDictionary<(Provider, string), ServerCapacity> ServerTypes =
        new Dictionary<(Provider, string), ServerCapacity>
        {
            [(Provider.Hetzner, "cx22")] = new(2, 4, 40), [(Provider.Hetzner, "cx32")] = new(4, 8, 80),
            [(Provider.Hetzner, "cx42")] = new(8, 16, 160), [(Provider.Hetzner, "cx52")] = new(16, 32, 320),
            [(Provider.Hetzner, "cx23")] = new(2, 4, 40), [(Provider.Hetzner, "cx33")] = new(4, 8, 80),
            [(Provider.Hetzner, "cx43")] = new(8, 16, 160), [(Provider.Hetzner, "cx53")] = new(16, 32, 320),
            [(Provider.Hetzner, "cpx11")] = new(2, 2, 40), [(Provider.Hetzner, "cpx21")] = new(3, 4, 80),
            [(Provider.Hetzner, "cpx31")] = new(4, 8, 160), [(Provider.Hetzner, "cpx41")] = new(8, 16, 240),
            [(Provider.Hetzner, "cpx51")] = new(16, 32, 360),
            [(Provider.Hetzner, "cax11")] = new(2, 4, 40), [(Provider.Hetzner, "cax21")] = new(4, 8, 80),
            [(Provider.Hetzner, "cax31")] = new(8, 16, 160), [(Provider.Hetzner, "cax41")] = new(16, 32, 320),
            [(Provider.Hetzner, "ccx13")] = new(2, 8, 80), [(Provider.Hetzner, "ccx23")] = new(4, 16, 160),
            [(Provider.Hetzner, "ccx33")] = new(8, 32, 240), [(Provider.Hetzner, "ccx43")] = new(16, 64, 360),
            [(Provider.Hetzner, "ccx53")] = new(32, 128, 600), [(Provider.Hetzner, "ccx63")] = new(48, 192, 960),
            // AWS instances have no local disk of note: the root EBS volume (20 GB here) plus volumeGb.
            [(Provider.Aws, "t3.small")] = new(2, 2, 20), [(Provider.Aws, "t3.medium")] = new(2, 4, 20),
            [(Provider.Aws, "t3.large")] = new(2, 8, 20), [(Provider.Aws, "t3.xlarge")] = new(4, 16, 20),
            [(Provider.Aws, "t3.2xlarge")] = new(8, 32, 20),
            [(Provider.Aws, "m6i.large")] = new(2, 8, 20), [(Provider.Aws, "m6i.xlarge")] = new(4, 16, 20),
            [(Provider.Aws, "m6i.2xlarge")] = new(8, 32, 20), [(Provider.Aws, "m7i.large")] = new(2, 8, 20),
            [(Provider.Aws, "m7i.xlarge")] = new(4, 16, 20), [(Provider.Aws, "m7i.2xlarge")] = new(8, 32, 20),
            [(Provider.Aws, "c6i.large")] = new(2, 4, 20), [(Provider.Aws, "c6i.xlarge")] = new(4, 8, 20),
            [(Provider.Aws, "r6i.large")] = new(2, 16, 20), [(Provider.Aws, "r6i.xlarge")] = new(4, 32, 20),
            [(Provider.Aws, "r6i.2xlarge")] = new(8, 64, 20),
            // The local provider runs processes on this machine; "process" stands for one of them.
            [(Provider.Local, "process")] = new(1, 1, 10),
        };

    public static ServerCapacity? FindServerType(Provider provider, string type) =>
        ServerTypes.TryGetValue((provider, type.ToLowerInvariant()), out var c) ? c : null;

    public static IEnumerable<string> ServerTypeNames(Provider provider) =>
        ServerTypes.Keys.Where(k => k.Item1 == provider).Select(k => k.Item2);
}
