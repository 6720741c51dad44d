using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using Failover.Driver.Engine;

namespace Failover.Driver.Local;

/// <summary>
/// The local provider's DNS: a real PowerDNS authoritative server (sqlite3 backend, HTTP API) bound to a
/// loopback address, with its database and config in its own folder. Used by the drill and the tests.
/// </summary>
public sealed class PowerDnsServer(string directory, string address, int dnsPort, int apiPort, string apiKey) : IAsyncDisposable
{
    private static readonly string[] SchemaPlaces =
    [
        "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql",
        "/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql",
    ];

    private Process? _process;
    private readonly StringBuilder _output = new();

    public string Address { get; } = address;
    public int DnsPort { get; } = dnsPort;
    public Uri ApiUrl { get; } = new($"http://{address}:{apiPort}");
    public IPEndPoint Endpoint => new(IPAddress.Parse(Address), DnsPort);
    public int Pid => _process?.Id ?? 0;

    public async Task StartAsync(CancellationToken cancellation)
    {
        Directory.CreateDirectory(directory);
        var database = Path.Combine(directory, "pdns.sqlite3");
        if (!File.Exists(database))
        {
            var schema = SchemaPlaces.FirstOrDefault(File.Exists)
                ?? throw new InvalidOperationException("the PowerDNS sqlite3 schema is missing (Debian package pdns-backend-sqlite3)");
            using var sqlite = Process.Start(new ProcessStartInfo("sqlite3", $"\"{database}\" \".read {schema}\"") { RedirectStandardError = true })
                ?? throw new InvalidOperationException("cannot start sqlite3 (Debian package sqlite3)");
            await sqlite.WaitForExitAsync(cancellation);
            if (sqlite.ExitCode != 0)
                throw new ToolFailureException(ToolFailure.Exited("sqlite3", $"creating the PowerDNS database {database}", sqlite.ExitCode, await sqlite.StandardError.ReadToEndAsync(cancellation),
                    $"Remove {directory} (it holds nothing yet) and run again"));
        }
        var config = Path.Combine(directory, "pdns.conf");
        await File.WriteAllTextAsync(config, $"""
            launch=gsqlite3
            gsqlite3-database={database}
            local-address={Address}
            local-port={DnsPort}
            api=yes
            api-key={apiKey}
            webserver=yes
            webserver-address={Address}
            webserver-port={ApiUrl.Port}
            webserver-allow-from=127.0.0.0/8
            socket-dir={directory}
            guardian=no
            daemon=no
            disable-syslog=yes
            security-poll-suffix=
            zone-cache-refresh-interval=0
            """, cancellation);
        File.SetUnixFileMode(config, UnixFileMode.UserRead | UnixFileMode.UserWrite); // it holds the API key

        var psi = new ProcessStartInfo("/usr/sbin/pdns_server", $"--config-dir={directory}")
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        _process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start pdns_server (Debian package pdns-server)");
        _process.OutputDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var http = Api();
        for (var i = 0; i < 200; i++)
        {
            if (_process.HasExited)
                throw new ToolFailureException(ToolFailure.Exited("pdns_server", $"starting on {Address}:{DnsPort} (API {ApiUrl})", _process.ExitCode, Output,
                    $"Its configuration is {config}; a port in use is the usual cause: free it or choose others, then run again"));
            try
            {
                using var response = await http.GetAsync("/api/v1/servers/localhost", cancellation);
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { }
            await Task.Delay(50, cancellation);
        }
        throw new ToolFailureException(new ToolFailure("pdns_server", $"starting on {Address}:{DnsPort} (API {ApiUrl})", "no API within 10 s",
            ToolFailure.LastMeaningfulLine(Output), $"Its configuration is {config}; check that webserver-port {ApiUrl.Port} is free, then run again"));
    }

    private string Output { get { lock (_output) return _output.ToString(); } }

    /// <summary>Creates the zone with its NS record at this server and the given records, as it was before a failover.</summary>
    public async Task CreateZoneAsync(string zone, IEnumerable<(string Name, string Type, string[] Values)> records, int ttl, CancellationToken cancellation)
    {
        var apex = zone.TrimEnd('.') + ".";
        var all = new List<(string Name, string Type, string[] Values)>(records) { ("ns1", "A", [Address]) };
        var rrsets = all.Select(r => new
        {
            name = r.Name is "@" or "" ? apex : $"{r.Name}.{apex}",
            type = r.Type,
            ttl,
            changetype = "REPLACE",
            records = r.Values.Select(v => new { content = v, disabled = false }).ToArray(),
        }).ToArray();
        using var http = Api();
        using var response = await http.PostAsJsonAsync("/api/v1/servers/localhost/zones",
            new { name = apex, kind = "Native", nameservers = new[] { "ns1." + apex }, rrsets }, cancellation);
        if (!response.IsSuccessStatusCode)
            throw new ToolFailureException(ToolFailure.Answered($"the PowerDNS API at {ApiUrl}", $"creating zone {apex}", (int)response.StatusCode,
                await Dns.PowerDnsCutover.ErrorText(response, cancellation), "Fix what the API says (a zone that exists already is kept: delete it with pdnsutil delete-zone, or use it), then run again"));
    }

    /// <summary>One request to this server's HTTP API (runtime option http).</summary>
    public TimeSpan ApiTimeout { get; init; } = Core.Planning.RuntimeOptions.Default.Http;

    /// <summary>A client of this server's HTTP API, with its key.</summary>
    public HttpClient Api()
    {
        var http = new HttpClient { BaseAddress = ApiUrl, Timeout = ApiTimeout };
        http.DefaultRequestHeaders.Add("X-API-Key", apiKey);
        return http;
    }

    public async Task StopAsync()
    {
        if (_process is null) return;
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}
