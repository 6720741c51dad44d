using System.Net;
using System.Net.Http.Json;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Dns;

/// <summary>
/// The local provider's PowerDNS server on free 127.0.0.1 ports in a temp dir, with dynamic updates allowed,
/// started for the DNS tests and stopped with its files removed at the end.
/// </summary>
public sealed class PowerDnsServer : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("failover-pdns-").FullName;
    private readonly global::Failover.Driver.Local.PowerDnsServer _server;

    public PowerDnsServer() =>
        _server = new global::Failover.Driver.Local.PowerDnsServer(_dir, "127.0.0.1", DnsPort, ApiPort, ApiKey);

    public string ApiKey { get; } = "pdns-test-key-" + Guid.NewGuid().ToString("N");
    public int DnsPort { get; } = Processes.FreePort();
    public int ApiPort { get; } = Processes.FreePort();
    public Uri ApiUrl => new($"http://127.0.0.1:{ApiPort}");
    public IPEndPoint Dns => new(IPAddress.Loopback, DnsPort);

    public async Task InitializeAsync()
    {
        await global::Failover.Driver.Local.DebianPackages.EnsureAsync(global::Failover.Driver.Local.DebianPackages.Drill.Where(p => p.Package is "pdns-server" or "pdns-backend-sqlite3" or "sqlite3").ToList(), _ => { }, CancellationToken.None);
        await StartAsync();
    }

    /// <summary>Starts the server (again) on the same ports and database, and waits until its API answers.</summary>
    public Task StartAsync() => _server.StartAsync(CancellationToken.None);

    public Task StopAsync() => _server.StopAsync();

    /// <summary>Creates a zone served by ns1.&lt;zone&gt; (127.0.0.1) with the given records, as an operator would have it before a failover.</summary>
    public Task CreateZoneAsync(string zone, params (string Name, string Type, string[] Values)[] records) =>
        _server.CreateZoneAsync(zone, records, 60, CancellationToken.None);

    public async Task DisposeAsync()
    {
        await StopAsync();
        Directory.Delete(_dir, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class PowerDnsCollection : ICollectionFixture<PowerDnsServer>
{
    public const string Name = "PowerDNS server";
}
