using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Pulumi;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Backup;

/// <summary>What a data server answered a control request: its answer's members, or why it was not done.</summary>
public sealed record ControlAnswer(string Url, string Answer, string? Refusal)
{
    public string Member(string name)
    {
        try
        {
            using var doc = JsonDocument.Parse(Answer);
            return doc.RootElement.TryGetProperty(name, out var v) ? v.ToString() : "";
        }
        catch (JsonException) { return ""; }
    }
}

/// <summary>
/// Sends one signed control request (<see cref="BackupControl"/>) to a cloud site's data server: the key read from the
/// site stack's secret output (never journaled or logged), a fresh nonce, the body Core renders, the health address.
/// </summary>
public static class ControlRequests
{
    public static async Task<ControlAnswer> SendAsync(IPulumi pulumi, HttpClient http, StackSpec site, SiteAddress? address, TimeProvider time, ILogger log,
        Func<DateTimeOffset, string, string> body, CancellationToken cancellation)
    {
        // Read now, never journaled: GetOutputsAsync registers the secret for redaction before anything could log it.
        var outputs = await pulumi.GetOutputsAsync(site.Name, cancellation);
        if (!outputs.TryGetValue(StackOutputs.ControlKey, out var key) || key.Text.Length == 0)
            return new ControlAnswer("", "", $"{site.Name} exports no {StackOutputs.ControlKey} (its data server has no backup agent, or was deployed before the control request)");
        var health = outputs.TryGetValue(StackOutputs.HealthIpv4, out var ip) && ip.Text.Length > 0 ? ip.Text
            : address?.Addresses.FirstOrDefault() ?? throw new InvalidOperationException($"{site.Name} has no health address to send the control request to");
        var url = BackupControl.Url(health, site.Service);
        var text = body(time.GetUtcNow(), Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)));
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(text, Encoding.UTF8, "application/json") };
        request.Headers.Add(BackupControl.SignatureHeader, BackupControl.Sign(key.Text, text));
        using var response = await http.SendAsync(request, cancellation);
        var answer = new ControlAnswer(url, await response.Content.ReadAsStringAsync(cancellation), null);
        // Accepted: the caller judges the root unit's result (a report filed into one vault of two is not a refusal).
        if (response.StatusCode == HttpStatusCode.Accepted && answer.Member("refused").Length == 0) return answer;
        var why = answer.Member("refused") is { Length: > 0 } r ? r : $"HTTP {(int)response.StatusCode}";
        log.Warning("The data server of {Site} refused the control request at {Url}: {Reason}", site.Name, url, why);
        return answer with { Refusal = $"{site.Name}'s data server refused the request ({url}: {why})" };
    }
}
