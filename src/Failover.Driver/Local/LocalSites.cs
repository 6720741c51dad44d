using System.Net.Sockets;
using System.Text.Json.Nodes;
using Failover.Core.Topology;
using Failover.Driver.Runbooks;

namespace Failover.Driver.Local;

/// <summary>
/// The local provider: each site is a PostgreSQL cluster and a files directory on its own loopback address,
/// kept under one state folder. The driver provisions these itself instead of calling Pulumi.
/// </summary>
public sealed class LocalSites : ISiteProbe, ISiteProvisioner, ISiteFence, ISiteRetirement
{
    private readonly string stateDirectory;

    private readonly bool oneSite;

    /// <param name="oneSite">The folder holds one site directly (a rehearsal copy): shorter paths, as PostgreSQL's socket path is limited to 107 bytes.</param>
    public LocalSites(string stateDirectory, int port = 5432, bool oneSite = false)
    {
        this.stateDirectory = stateDirectory;
        this.oneSite = oneSite;
        Port = port;
        Directory.CreateDirectory(stateDirectory);
        // Our own folder: PostgreSQL runs as another user and must reach the clusters inside it.
        File.SetUnixFileMode(stateDirectory, File.GetUnixFileMode(stateDirectory) | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }

    public int Port { get; }

    /// <summary>How long a site's PostgreSQL may take to start (runtime option localDatabaseStart).</summary>
    public TimeSpan DatabaseStart { get; init; } = Core.Planning.RuntimeOptions.Default.LocalDatabaseStart;

    /// <summary>One TCP connection to a site's PostgreSQL asking whether it serves (runtime option tcpProbe).</summary>
    public TimeSpan ServingProbe { get; init; } = Core.Planning.RuntimeOptions.Default.TcpProbe;

    public string StateDirectory => stateDirectory;

    public string SiteDirectory(StackSpec site) => oneSite ? stateDirectory : Path.Combine(stateDirectory, site.Name);
    public string FilesDirectory(StackSpec site, string tenant) => Path.Combine(SiteDirectory(site), "files", tenant);
    public PostgresCluster Cluster(StackSpec site) => new(Path.Combine(SiteDirectory(site), "pg", "data"), Address(site), Port)
    {
        StartWaitSeconds = (int)Math.Ceiling(DatabaseStart.TotalSeconds),
    };
    public static string Address(StackSpec site) => site.Site.Address ?? throw new InvalidOperationException($"{site.Name} is not a local site");
    private string FencedMarker(StackSpec site) => Path.Combine(SiteDirectory(site), "FENCED");

    public async Task<bool> IsServingAsync(StackSpec site, CancellationToken cancellation)
    {
        using var client = new TcpClient();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(ServingProbe);
        try { await client.ConnectAsync(Address(site), Port, timeout.Token); return true; }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellation.IsCancellationRequested) { return false; }
    }

    /// <summary>Starts the site's cluster (creating it the first time); repeating it changes nothing.</summary>
    public async Task<SiteAddress> ProvisionAsync(StackSpec site, IReadOnlyList<TenantSnapshot> restorePoint, CancellationToken cancellation)
    {
        if (File.Exists(FencedMarker(site)))
            throw new InvalidOperationException($"{site.Name} is fenced ({FencedMarker(site)}); unfence it on purpose before using it again");
        var cluster = Cluster(site);
        await cluster.InitAsync(cancellation);
        await cluster.StartAsync(cancellation);
        return AddressOf(site);
    }

    public Task<SiteAddress> AddressAsync(StackSpec site, CancellationToken cancellation) => Task.FromResult(AddressOf(site));

    private SiteAddress AddressOf(StackSpec site) => new([Address(site)], null, new JsonObject
    {
        ["postgres"] = $"{Address(site)}:{Port}",
        ["filesDirectory"] = Path.Combine(SiteDirectory(site), "files"),
    });

    /// <summary>Removes the fence marker: the next provisioning may start the site again.</summary>
    public Task<FenceLift> UnfenceAsync(StackSpec site, CancellationToken cancellation)
    {
        if (!File.Exists(FencedMarker(site))) return Task.FromResult(new FenceLift(false, $"{site.Name} was not fenced"));
        File.Delete(FencedMarker(site));
        return Task.FromResult(new FenceLift(true, $"{site.Name}: fence lifted on purpose ({FencedMarker(site)} removed)"));
    }

    /// <summary>Stops the site's processes and keeps its data (and its fence marker); destroy removes its folder.</summary>
    public async Task<string> ScaleDownAsync(StackSpec site, bool destroy, CancellationToken cancellation)
    {
        var cluster = Cluster(site);
        await cluster.StopAsync(cancellation);
        if (!destroy) return $"{site.Name}: PostgreSQL on {Address(site)}:{Port} stopped; its data is kept in {SiteDirectory(site)}";
        if (Directory.Exists(SiteDirectory(site))) Directory.Delete(SiteDirectory(site), recursive: true);
        return $"{site.Name}: stopped and destroyed ({SiteDirectory(site)} removed)";
    }

    /// <summary>Stops the site's database and marks it fenced so nothing starts it again by accident.</summary>
    public async Task<string> FenceAsync(StackSpec site, CancellationToken cancellation)
    {
        Directory.CreateDirectory(SiteDirectory(site));
        await File.WriteAllTextAsync(FencedMarker(site), $"fenced at {DateTimeOffset.UtcNow:O}\n", cancellation);
        var cluster = Cluster(site);
        if (cluster.Pid is null) return $"{site.Name} marked fenced; nothing was running on {Address(site)}";
        await cluster.StopAsync(cancellation);
        return $"{site.Name} marked fenced; its PostgreSQL on {Address(site)}:{Port} stopped";
    }

    /// <summary>Stops every cluster and removes the state folder: what the drill leaves behind is nothing.</summary>
    public async Task RemoveAllAsync(IEnumerable<StackSpec> sites, CancellationToken cancellation)
    {
        foreach (var site in sites.Where(s => s.Site.Provider == Provider.Local))
        {
            var cluster = Cluster(site);
            try { await cluster.StopAsync(cancellation); } catch (InvalidOperationException) { cluster.Kill(); }
        }
        if (Directory.Exists(stateDirectory)) Directory.Delete(stateDirectory, recursive: true);
    }
}
