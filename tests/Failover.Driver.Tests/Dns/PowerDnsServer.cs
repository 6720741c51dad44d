using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Dns;

/// <summary>
/// A real PowerDNS authoritative server (sqlite3 backend, HTTP API) on free 127.0.0.1 ports in a temp dir,
/// started for the tests and stopped with its files removed at the end.
/// </summary>
public sealed class PowerDnsServer : IAsyncLifetime
{
    private static readonly string[] SchemaPlaces =
    [
        "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql",
        "/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql",
    ];

    private readonly string _dir = Directory.CreateTempSubdirectory("failover-pdns-").FullName;
    private Process? _process;
    private StringBuilder _output = new();

    public string ApiKey { get; } = "pdns-test-key-" + Guid.NewGuid().ToString("N");
    public int DnsPort { get; } = Processes.FreePort();
    public int ApiPort { get; } = Processes.FreePort();
    public Uri ApiUrl => new($"http://127.0.0.1:{ApiPort}");
    public IPEndPoint Dns => new(IPAddress.Loopback, DnsPort);

    public async Task InitializeAsync()
    {
        DebianPackages.Ensure(() => File.Exists("/usr/sbin/pdns_server") && File.Exists("/usr/bin/sqlite3")
                && SchemaPlaces.Any(File.Exists) && Directory.EnumerateDirectories("/usr/lib")
                    .Any(d => File.Exists(Path.Combine(d, "pdns", "libgsqlite3backend.so"))),
            "PowerDNS with the sqlite3 backend", "pdns-server", "pdns-backend-sqlite3", "sqlite3");
        var database = Path.Combine(_dir, "pdns.sqlite3");
        Processes.Run("sqlite3", database, ".read " + SchemaPlaces.First(File.Exists));
        File.WriteAllText(Path.Combine(_dir, "pdns.conf"), $"""
            launch=gsqlite3
            gsqlite3-database={database}
            local-address=127.0.0.1
            local-port={DnsPort}
            api=yes
            api-key={ApiKey}
            webserver=yes
            webserver-address=127.0.0.1
            webserver-port={ApiPort}
            webserver-allow-from=127.0.0.0/8
            socket-dir={_dir}
            guardian=no
            daemon=no
            disable-syslog=yes
            security-poll-suffix=
            zone-cache-refresh-interval=0
            dnsupdate=yes
            allow-dnsupdate-from=127.0.0.0/8
            """);
        await StartAsync();
    }

    /// <summary>Starts the server (again) on the same ports and database, and waits until its API answers.</summary>
    public async Task StartAsync()
    {
        (_process, _output) = Processes.Start("/usr/sbin/pdns_server", $"--config-dir={_dir}");
        using var http = Api();
        for (var i = 0; i < 200; i++)
        {
            if (_process.HasExited) throw new InvalidOperationException($"pdns_server exited {_process.ExitCode} at start:\n{_output}");
            try
            {
                using var response = await http.GetAsync("/api/v1/servers/localhost");
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { }
            await Task.Delay(50);
        }
        throw new InvalidOperationException($"pdns_server did not open its API on {ApiUrl} within 10s:\n{_output}");
    }

    public async Task StopAsync()
    {
        if (_process is null) return;
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
        _process = null;
    }

    /// <summary>Creates a zone served by ns1.&lt;zone&gt; (127.0.0.1) with the given records, as an operator would have it before a failover.</summary>
    public async Task CreateZoneAsync(string zone, params (string Name, string Type, string[] Values)[] records)
    {
        var apex = zone.TrimEnd('.') + ".";
        var all = new List<(string Name, string Type, string[] Values)>(records) { ("ns1", "A", ["127.0.0.1"]) };
        var rrsets = all.Select(r => new
            {
                name = $"{r.Name}.{apex}",
                type = r.Type,
                ttl = 60,
                changetype = "REPLACE",
                records = r.Values.Select(v => new { content = v, disabled = false }).ToArray(),
            }).ToArray();
        using var http = Api();
        using var response = await http.PostAsJsonAsync("/api/v1/servers/localhost/zones",
            new { name = apex, kind = "Native", nameservers = new[] { "ns1." + apex }, rrsets });
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"creating zone {apex} failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>Creates an HMAC-SHA256 TSIG key on the server and allows it to update the zone; returns its base64 secret.</summary>
    public async Task<string> AllowSignedUpdatesAsync(string zone, string keyName)
    {
        using var http = Api();
        using var created = await http.PostAsJsonAsync("/api/v1/servers/localhost/tsigkeys", new { name = keyName, algorithm = "hmac-sha256" });
        var body = await created.Content.ReadAsStringAsync();
        if (!created.IsSuccessStatusCode) throw new InvalidOperationException($"creating TSIG key {keyName} failed: {(int)created.StatusCode} {body}");
        var secret = System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("key").GetString()!;
        using var allowed = await http.PutAsJsonAsync($"/api/v1/servers/localhost/zones/{zone.TrimEnd('.')}./metadata/TSIG-ALLOW-DNSUPDATE",
            new { metadata = new[] { keyName } });
        if (!allowed.IsSuccessStatusCode)
            throw new InvalidOperationException($"allowing key {keyName} on {zone} failed: {(int)allowed.StatusCode} {await allowed.Content.ReadAsStringAsync()}");
        return secret;
    }

    private HttpClient Api()
    {
        var http = new HttpClient { BaseAddress = ApiUrl, Timeout = TimeSpan.FromSeconds(5) };
        http.DefaultRequestHeaders.Add("X-API-Key", ApiKey);
        return http;
    }

    public async Task DisposeAsync()
    {
        await StopAsync();
        Directory.Delete(_dir, recursive: true);
    }
}

/// <summary>The DNS tests that share one running PowerDNS server.</summary>
[CollectionDefinition(Name)]
public sealed class PowerDnsCollection : ICollectionFixture<PowerDnsServer>
{
    public const string Name = "PowerDNS server";
}
