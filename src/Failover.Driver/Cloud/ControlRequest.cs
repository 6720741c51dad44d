using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Failover.Core.Sites;

namespace Failover.Driver.Cloud;

/// <summary>A server's answer to a control request: its status and the member that says what it did or why not.</summary>
public sealed record ControlAnswer(HttpStatusCode Code, string Body)
{
    public bool Accepted => Code == HttpStatusCode.Accepted;

    /// <summary>A member of the JSON answer as text; empty when the answer has none or is not JSON.</summary>
    public string Member(string name)
    {
        try
        {
            using var doc = JsonDocument.Parse(Body);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty(name, out var v) ? v.ToString() : "";
        }
        catch (JsonException) { return ""; }
    }

    /// <summary>Why a refused request was refused: the daemon's own words, else the status.</summary>
    public string Refusal => Member("refused") is { Length: > 0 } r ? r : $"HTTP {(int)Code}";
}

/// <summary>
/// One signed control request (<see cref="SiteControl"/>, the scheme of <see cref="BackupControl"/>): the canonical body
/// with a fresh nonce and the time, its HMAC-SHA256 under the site's key, POSTed to the server's health daemon.
/// </summary>
public static class ControlRequest
{
    public static async Task<ControlAnswer> SendAsync(HttpClient http, string url, string key, string action, string site, DateTimeOffset now, CancellationToken cancellation)
    {
        var body = BackupControl.Body(action, site, now, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)));
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add(BackupControl.SignatureHeader, BackupControl.Sign(key, body));
        using var response = await http.SendAsync(request, cancellation);
        return new ControlAnswer(response.StatusCode, await response.Content.ReadAsStringAsync(cancellation));
    }
}
