using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization;
using Failover.Core.Topology;
using Failover.Driver.Logging;
using Serilog;

namespace Failover.Driver.Dns;

/// <summary>
/// The cutover through the PowerDNS authoritative server's HTTP API: one PATCH of the zone's rrsets per call,
/// which PowerDNS applies in one transaction, so a failed call leaves the zone as it was.
/// </summary>
public sealed class PowerDnsCutover : IDnsCutover, IDisposable
{
    private readonly Uri _api;
    private readonly string _apiKey;
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly ILogger _log;
    private readonly SecretRegistry _secrets;

    /// <param name="apiUrl">The webserver address, e.g. http://127.0.0.1:8081 (the failover:dns apiUrl).</param>
    /// <param name="apiKey">The decrypted API key; registered as a secret so no log or message shows it.</param>
    public PowerDnsCutover(Uri apiUrl, string apiKey, SecretRegistry secrets, ILogger log, HttpClient? http = null, TimeSpan? timeout = null)
    {
        secrets.Add(apiKey);
        _secrets = secrets;
        _api = apiUrl;
        _apiKey = apiKey;
        _ownsHttp = http is null;
        _http = http ?? new HttpClient { Timeout = timeout ?? Core.Planning.RuntimeOptions.Default.Http };
        _log = log.ForContext<PowerDnsCutover>();
    }

    /// <summary>The cutover for a topology's DNS stack; its apiUrl must be set, the key comes decrypted from the caller.</summary>
    /// <param name="timeout">One API request's limit (the run's runtime option http).</param>
    public static PowerDnsCutover For(DnsSpec spec, string apiKey, SecretRegistry secrets, ILogger log, TimeSpan? timeout = null)
    {
        if (spec.Provider != DnsProvider.PowerDns)
            throw new ArgumentException($"zone {spec.Zone} is hosted on {spec.Provider}, not PowerDNS", nameof(spec));
        if (!Uri.TryCreate(spec.ApiUrl, UriKind.Absolute, out var url))
            throw new ArgumentException($"zone {spec.Zone} has no valid failover:dns apiUrl (the PowerDNS webserver address, e.g. http://127.0.0.1:8081)", nameof(spec));
        return new PowerDnsCutover(url, apiKey, secrets, log, timeout: timeout);
    }

    public Task PointAsync(string zone, IReadOnlyList<RecordSet> records, CancellationToken cancellation) =>
        PatchAsync(zone, "cutover", records.Select(r => new RrSet(
            DnsName.InZone(r.Name, zone), r.Type.ToUpperInvariant(), r.TtlSeconds, "REPLACE",
            r.Values.Select(v => new RrRecord(v, false)).ToList())).ToList(), cancellation);

    private async Task PatchAsync(string zone, string step, IReadOnlyList<RrSet> rrsets, CancellationToken cancellation)
    {
        var apex = DnsName.Absolute(zone);
        var log = _log.ForContext("Step", step).ForContext("Zone", apex);
        var url = new Uri(_api, $"/api/v1/servers/localhost/zones/{Uri.EscapeDataString(apex)}");
        HttpResponseMessage response;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Patch, url) { Content = JsonContent.Create(new Patch(rrsets), options: Json) };
            request.Headers.TryAddWithoutValidation("X-API-Key", _apiKey);
            response = await _http.SendAsync(request, cancellation);
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
        {
            throw Failed(log, $"the PowerDNS API at {_api} refused the connection: check that pdns_server runs with api=yes and webserver=yes, " +
                $"and that webserver-address/webserver-port match {_api}", e);
        }
        catch (HttpRequestException e)
        {
            throw Failed(log, $"the PowerDNS API at {_api} cannot be reached ({e.Message}): check the address, the network path and webserver-allow-from", e);
        }
        catch (TaskCanceledException e) when (!cancellation.IsCancellationRequested)
        {
            throw Failed(log, $"the PowerDNS API at {_api} did not answer within {_http.Timeout.TotalSeconds:0}s: check that the server is not overloaded or firewalled", e);
        }

        using (response)
        {
            if (response.IsSuccessStatusCode)
            {
                foreach (var r in rrsets)
                    log.Information("DNS {Change} {Record} {Type} in {Zone}: {Values}", r.ChangeType, r.Name, r.Type, apex,
                        r.Records is null ? "(removed)" : string.Join(", ", r.Records.Select(x => x.Content)));
                return;
            }
            var detail = await ErrorText(response, cancellation);
            // Worded as every tool failure (Engine.ToolFailure): the API, the zone, the status, its error line, what to do.
            var failure = Engine.ToolFailure.Answered($"the PowerDNS API at {_api}", $"changing zone {apex}", (int)response.StatusCode, detail, response.StatusCode switch
            {
                HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden =>
                    "It rejected the API key: the failover:dns apiKey must equal api-key in the server's pdns.conf",
                HttpStatusCode.NotFound => $"The zone does not exist there: create it (pdnsutil create-zone {apex}) or fix failover:dns zone",
                _ => "Fix the records or the zone as its answer says (the server's log has more), then run `failover resume`",
            }, _secrets);
            throw Failed(log, failure.Message);
        }
    }

    public void Dispose()
    {
        if (_ownsHttp) _http.Dispose();
    }

    private DnsCutoverException Failed(ILogger log, string reason, Exception? inner = null)
    {
        log.Error("DNS change not applied: {Reason}", reason);
        return new DnsCutoverException($"DNS not changed: {reason}", inner);
    }

    /// <summary>The PowerDNS API's error sentence (its JSON <c>error</c>), else the start of its answer.</summary>
    internal static async Task<string> ErrorText(HttpResponseMessage response, CancellationToken cancellation)
    {
        var body = await response.Content.ReadAsStringAsync(cancellation);
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.TryGetProperty("error", out var error)) return error.GetString() ?? body;
        }
        catch (JsonException) { }
        return body.Length > 300 ? body[..300] : body;
    }

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private sealed record Patch(IReadOnlyList<RrSet> Rrsets);
    private sealed record RrSet(string Name, string Type, int? Ttl, [property: JsonPropertyName("changetype")] string ChangeType, IReadOnlyList<RrRecord>? Records);
    private sealed record RrRecord(string Content, bool Disabled);
}
