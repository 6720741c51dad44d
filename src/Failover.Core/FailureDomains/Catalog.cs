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
        // The datacenters the Cloud API lists per location (GET /datacenters; docs.hetzner.com/cloud/general/locations).
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
        // Opened in 2025 (AWS Regions and Availability Zones, documentation history): Thailand 2025-01-07,
        // Taipei 2025-06-06, New Zealand 2025-09-02 (Mexico, mx-central-1, 2025-01-14, is above).
        Aws("ap-southeast-7", "TH", "Bangkok"), Aws("ap-east-2", "TW", "Taipei"),
        Aws("ap-southeast-6", "NZ", "Auckland"),
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

    /// <summary>
    /// Locations a "did you mean" may offer for an unknown name. An AWS region's geography prefix and number name the
    /// region, often in another country (ap-southeast-7 is Thailand, ap-southeast-1 Singapore; eu-west-3 France), so only
    /// a region with the same prefix and the same digits can be what a typo meant (eu-centrl-1: eu-central-1).
    /// </summary>
    public static IEnumerable<string> LocationSuggestions(Provider provider, string unknown)
    {
        static string Digits(string name) => new(name.Where(char.IsAsciiDigit).ToArray());
        static string Prefix(string name) => name.Split('-')[0].ToLowerInvariant();
        return LocationNames(provider).Where(n => provider != Provider.Aws || (Digits(n) == Digits(unknown) && Prefix(n) == Prefix(unknown)));
    }

    /// <summary>
    /// Whether a datacenter belongs to a location: a Hetzner datacenter from the location's list, an AWS availability
    /// zone the region's name plus one letter (eu-central-1a).
    /// </summary>
    public static bool HasDatacenter(Location location, string datacenter) => location.Provider switch
    {
        Provider.Hetzner => location.Datacenters.Contains(datacenter, StringComparer.OrdinalIgnoreCase),
        _ => datacenter.Length == location.Name.Length + 1
            && datacenter.StartsWith(location.Name, StringComparison.OrdinalIgnoreCase) && char.IsAsciiLetterLower(char.ToLowerInvariant(datacenter[^1])),
    };

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
            // Deprecated 2025-10-16, not orderable since January 2026 (see DeprecatedServerTypes): known so that a
            // running production on them is still read, and a standby on them refused.
            [(Provider.Hetzner, "cx22")] = new(2, 4, 40), [(Provider.Hetzner, "cx32")] = new(4, 8, 80),
            [(Provider.Hetzner, "cx42")] = new(8, 16, 160), [(Provider.Hetzner, "cx52")] = new(16, 32, 320),
            [(Provider.Hetzner, "cpx11")] = new(2, 2, 40), [(Provider.Hetzner, "cpx21")] = new(3, 4, 80),
            [(Provider.Hetzner, "cpx31")] = new(4, 8, 160), [(Provider.Hetzner, "cpx41")] = new(8, 16, 240),
            [(Provider.Hetzner, "cpx51")] = new(16, 32, 360),
            // Current: CX Gen3 (shared Intel/AMD, EU only), CPX Gen2 (shared AMD), CCX Gen3 (dedicated), CAX (Arm, EU only).
            [(Provider.Hetzner, "cx23")] = new(2, 4, 40), [(Provider.Hetzner, "cx33")] = new(4, 8, 80),
            [(Provider.Hetzner, "cx43")] = new(8, 16, 160), [(Provider.Hetzner, "cx53")] = new(16, 32, 320),
            [(Provider.Hetzner, "cpx12")] = new(1, 2, 40), [(Provider.Hetzner, "cpx22")] = new(2, 4, 80),
            [(Provider.Hetzner, "cpx32")] = new(4, 8, 160), [(Provider.Hetzner, "cpx42")] = new(8, 16, 320),
            [(Provider.Hetzner, "cpx52")] = new(12, 24, 480), [(Provider.Hetzner, "cpx62")] = new(16, 32, 640),
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

    /// <summary>
    /// Hetzner types deprecated on 2025-10-16 and no longer orderable since January 2026
    /// (docs.hetzner.cloud/changelog#2025-10-16-server-types-deprecated; the provider warns "Server Type cx42 is
    /// deprecated in all locations and will no longer be available for order as of 2025-12-31").
    /// A running server keeps running; a new one of these types is refused.
    /// </summary>
    public static readonly IReadOnlySet<string> DeprecatedServerTypes = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "cx22", "cx32", "cx42", "cx52", "cpx11", "cpx21", "cpx31", "cpx41", "cpx51",
    };

    /// <summary>
    /// Hetzner types still in the catalogue but marked "not available" on every Hetzner plan page when last read
    /// (September 2026, after the price adjustment of 2026-06-15: the whole Cost-Optimized line, CX Gen3 and CAX;
    /// read from hetzner.com/cloud/cost-optimized as reported in robhunter/agentdeals#1286 and #1323, and a team that
    /// "switched to CPX62 because CX wasn't available"). A standby is ordered during the failover, when the type must
    /// be there: a warning, because availability comes and goes and Hetzner has not deprecated them.
    /// </summary>
    public static readonly IReadOnlySet<string> SoldOutServerTypes = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "cx23", "cx33", "cx43", "cx53", "cax11", "cax21", "cax31", "cax41",
    };

    /// <summary>The Hetzner locations in the EU network zone: the only ones that sell CX and CAX types.</summary>
    private static readonly string[] HetznerEu = ["fsn1", "nbg1", "hel1"];

    /// <summary>Whether a location sells a server type (Hetzner: CX and CAX in the EU locations only; CPX and CCX everywhere).</summary>
    public static bool IsSoldIn(Provider provider, string type, string location) =>
        provider != Provider.Hetzner
        || !(type.StartsWith("cx", StringComparison.OrdinalIgnoreCase) || type.StartsWith("cax", StringComparison.OrdinalIgnoreCase))
        || HetznerEu.Contains(location, StringComparer.OrdinalIgnoreCase);

    /// <summary>Whether a new server of this type can be ordered there today.</summary>
    public static bool IsOrderable(Provider provider, string type, string location) =>
        !(provider == Provider.Hetzner && DeprecatedServerTypes.Contains(type)) && IsSoldIn(provider, type, location);

    /// <summary>Whether the provider listed the type as not available when the catalogue was last checked (Hetzner CX and CAX, 2026).</summary>
    public static bool IsSoldOut(Provider provider, string type) => provider == Provider.Hetzner && SoldOutServerTypes.Contains(type);

    /// <summary>Orderable types with at least a given capacity, smallest first, sold-out ones left out: what to suggest instead.</summary>
    public static IEnumerable<string> OrderableAlternatives(Provider provider, string location, ServerCapacity atLeast) =>
        ServerTypes.Where(kv => kv.Key.Item1 == provider && IsOrderable(provider, kv.Key.Item2, location) && !IsSoldOut(provider, kv.Key.Item2)
                && kv.Value.Vcpus >= atLeast.Vcpus && kv.Value.MemoryGb >= atLeast.MemoryGb && kv.Value.DiskGb >= atLeast.DiskGb)
            .OrderBy(kv => kv.Value.Vcpus).ThenBy(kv => kv.Value.MemoryGb).ThenBy(kv => kv.Value.DiskGb).ThenBy(kv => kv.Key.Item2, StringComparer.Ordinal)
            .Select(kv => kv.Key.Item2);

    public static ServerCapacity? FindServerType(Provider provider, string type) =>
        ServerTypes.TryGetValue((provider, type.ToLowerInvariant()), out var c) ? c : null;

    public static IEnumerable<string> ServerTypeNames(Provider provider) =>
        ServerTypes.Keys.Where(k => k.Item1 == provider).Select(k => k.Item2);
}
