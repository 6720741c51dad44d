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

    /// <summary>Accepted, but the server's root unit reported that it could not do it (<c>"ok": false</c>).</summary>
    public bool Failed
    {
        get
        {
            try
            {
                using var doc = JsonDocument.Parse(Answer);
                return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("ok", out var ok) && ok.ValueKind == JsonValueKind.False;
            }
            catch (JsonException) { return false; }
        }
    }
}

/// <summary>
/// Sends one signed control request (<see cref="BackupControl"/>) to a cloud site's data server: the key read from the
/// site stack's secret output (never journaled or logged), a fresh nonce, the body Core renders, the health address.
/// </summary>
public static class ControlRequests
{
    /// <summary>
    /// The client of every control request: a connection per request, as the daemon speaks HTTP/1.0 and closes each one
    /// (a pooled connection reused after that close ends the request without an answer).
    /// </summary>
    public static HttpClient Client { get; } = ClientWithin(Core.Planning.RuntimeOptions.Default.ControlRequest);

    /// <summary>A client of control requests whose each request may take <paramref name="timeout"/> (runtime option controlRequest).</summary>
    public static HttpClient ClientWithin(TimeSpan timeout) =>
        new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero, PooledConnectionIdleTimeout = TimeSpan.Zero })
        {
            DefaultRequestHeaders = { ConnectionClose = true }, Timeout = timeout,
        };

    /// <summary>The site's control key from its stack outputs (a secret, registered for redaction when read); null when it exports none.</summary>
    public static string? KeyOf(IReadOnlyDictionary<string, StackOutput> outputs) =>
        outputs.TryGetValue(StackOutputs.ControlKey, out var key) && key.Text.Length > 0 ? key.Text : null;

    public static async Task<ControlAnswer> SendAsync(IPulumi pulumi, HttpClient http, StackSpec site, SiteAddress? address, TimeProvider time, ILogger log,
        Func<DateTimeOffset, string, string> body, CancellationToken cancellation)
    {
        // Read now, never journaled: GetOutputsAsync registers the secret for redaction before anything could log it.
        var outputs = await pulumi.GetOutputsAsync(site.Name, cancellation);
        if (KeyOf(outputs) is not { } key)
            return new ControlAnswer("", "", $"{site.Name} exports no {StackOutputs.ControlKey} (its data server has no backup agent, or was deployed before the control request)");
        var url = DataServerUrl(outputs, site, address);
        var (answer, why) = await PostAsync(http, url, key, body(time.GetUtcNow(), NewNonce()), cancellation);
        if (why is null) return answer;
        log.Warning("The data server of {Site} refused the control request at {Url}: {Reason}", site.Name, url, why);
        return answer with { Refusal = $"{site.Name}'s data server refused the request ({url}: {why})" };
    }

    /// <summary>Where the data server's control requests go: its health address (<see cref="StackOutputs.HealthIpv4"/>, else the site's first address).</summary>
    public static string DataServerUrl(IReadOnlyDictionary<string, StackOutput> outputs, StackSpec site, SiteAddress? address) =>
        BackupControl.Url(outputs.TryGetValue(StackOutputs.HealthIpv4, out var ip) && ip.Text.Length > 0 ? ip.Text
            : address?.Addresses.FirstOrDefault() ?? throw new InvalidOperationException($"{site.Name} has no health address to send the control request to"), site.Service);

    /// <summary>A fresh nonce: 16 random bytes, hex.</summary>
    public static string NewNonce() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>POSTs <paramref name="text"/> signed under <paramref name="key"/> to <paramref name="url"/>: the answer, and the server's reason when it did not do it.</summary>
    public static async Task<(ControlAnswer Answer, string? Refusal)> PostAsync(HttpClient http, string url, string key, string text, CancellationToken cancellation)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(text, Encoding.UTF8, "application/json") };
        request.Headers.Add(BackupControl.SignatureHeader, BackupControl.Sign(key, text));
        using var response = await http.SendAsync(request, cancellation);
        var answer = new ControlAnswer(url, await response.Content.ReadAsStringAsync(cancellation), null);
        // Accepted: the caller judges the root unit's result (a report filed into one vault of two is not a refusal).
        if (response.StatusCode == HttpStatusCode.Accepted && answer.Member("refused").Length == 0) return (answer, null);
        return (answer, answer.Member("refused") is { Length: > 0 } r ? r : $"HTTP {(int)response.StatusCode}");
    }
}
