using System.Text.RegularExpressions;
using Failover.Core.Topology;

namespace Failover.Core.FailureDomains;

/// <summary>Where a Pulumi state backend URL keeps the state, as a failure domain where it can be told.</summary>
public sealed record StateBackendLocation(string Url, FailureDomain? Domain, string Description)
{
    /// <summary>Reads the backend URL forms Pulumi accepts: s3://, file://, https://api.pulumi.com, gs://, azblob://.</summary>
    public static StateBackendLocation Of(string url)
    {
        if (url.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
            return new(url, new FailureDomain(Provider.Local, "this-machine", "this-machine", null), "a directory on the operator's machine");
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
            return new(url, null, "an unrecognised backend URL");
        var query = ParseQuery(uri.Query);
        switch (uri.Scheme)
        {
            case "s3":
                if (query.TryGetValue("endpoint", out var endpoint))
                {
                    // Hetzner Object Storage: <location>.your-objectstorage.com
                    var m = Regex.Match(endpoint, @"^(?:https?://)?([a-z0-9]+)\.your-objectstorage\.com", RegexOptions.IgnoreCase);
                    if (m.Success && Catalog.FindLocation(Provider.Hetzner, m.Groups[1].Value) is { } hl)
                        return new(url, new FailureDomain(Provider.Hetzner, hl.NetworkZone, hl.Name, null), $"Hetzner Object Storage in {hl.Name}");
                    return new(url, null, $"S3-compatible storage at {endpoint}");
                }
                if (query.TryGetValue("region", out var region) && Catalog.FindLocation(Provider.Aws, region) is { } al)
                    return new(url, new FailureDomain(Provider.Aws, al.NetworkZone, al.Name, null), $"AWS S3 in {al.Name}");
                return new(url, new FailureDomain(Provider.Aws, "?", "?", null), "AWS S3 (region not pinned in the URL)");
            case "https" or "http" when uri.Host.EndsWith("pulumi.com", StringComparison.OrdinalIgnoreCase):
                // Pulumi Cloud is hosted on AWS us-west-2.
                return new(url, new FailureDomain(Provider.Aws, "us-west-2", "us-west-2", null), "Pulumi Cloud (hosted on AWS us-west-2)");
            case "gs":
                return new(url, null, "Google Cloud Storage");
            case "azblob":
                return new(url, null, "Azure Blob Storage");
            default:
                return new(url, null, $"a {uri.Scheme} backend");
        }
    }

    private static Dictionary<string, string> ParseQuery(string query) =>
        query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .Where(p => p.Length == 2)
            .GroupBy(p => Uri.UnescapeDataString(p[0]), StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => Uri.UnescapeDataString(g.First()[1]), StringComparer.OrdinalIgnoreCase);
}
