using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Failover.Driver.Health;

/// <summary>What a healthy page looks like: a status code and, optionally, text in its body.</summary>
/// <param name="BodyPattern">A regular expression the body must match.</param>
public sealed record HttpExpectation(int Status = 200, string? BodyContains = null, string? BodyPattern = null);

/// <summary>
/// Fetches a page and compares it with the expectation. Redirects are not followed: a redirect to a login
/// or maintenance page is not health. <paramref name="connectTo"/> sends the request to the new site's address
/// while the URL (Host header, TLS name) stays the service's own, because DNS still points at the old site.
/// </summary>
public sealed class HttpProbe(Uri url, HttpExpectation? expect = null, IPEndPoint? connectTo = null, TimeSpan? timeout = null) : IHealthProbe
{
    private readonly HttpExpectation _expect = expect ?? new HttpExpectation();
    private readonly TimeSpan _timeout = timeout ?? Core.Planning.RuntimeOptions.Default.Probe;

    public string Name => connectTo is null ? $"http {url}" : $"http {url} via {connectTo}";

    public async Task<ProbeResult> ProbeAsync(CancellationToken cancellation)
    {
        using var handler = new SocketsHttpHandler { AllowAutoRedirect = false, UseProxy = false, PooledConnectionLifetime = TimeSpan.Zero };
        if (connectTo is { } target)
            handler.ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try { await socket.ConnectAsync(target, ct); }
                catch { socket.Dispose(); throw; }
                return new NetworkStream(socket, ownsSocket: true);
            };
        using var http = new HttpClient(handler) { Timeout = _timeout };
        try
        {
            using var response = await http.GetAsync(url, cancellation);
            var body = await response.Content.ReadAsStringAsync(cancellation);
            var status = (int)response.StatusCode;
            if (status != _expect.Status)
                return ProbeResult.Fail($"status {status} {response.ReasonPhrase}, expected {_expect.Status}");
            if (_expect.BodyContains is { } text && !body.Contains(text, StringComparison.Ordinal))
                return ProbeResult.Fail($"status {status} but the body does not contain \"{text}\" (body starts: \"{Excerpt(body)}\")");
            if (_expect.BodyPattern is { } pattern && !Regex.IsMatch(body, pattern, RegexOptions.None, TimeSpan.FromSeconds(1)))
                return ProbeResult.Fail($"status {status} but the body does not match /{pattern}/ (body starts: \"{Excerpt(body)}\")");
            return ProbeResult.Pass($"status {status}");
        }
        catch (TaskCanceledException) when (!cancellation.IsCancellationRequested)
        {
            return ProbeResult.Fail($"no response within {_timeout.TotalSeconds:0.#}s");
        }
        catch (HttpRequestException e)
        {
            return ProbeResult.Fail(e.InnerException is SocketException s ? Network.Describe(s) : e.Message);
        }
    }

    private static string Excerpt(string body)
    {
        var line = body.ReplaceLineEndings(" ");
        return line.Length > 80 ? line[..80] + "…" : line;
    }
}
