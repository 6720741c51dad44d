using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Failover.Core.Topology;
using Failover.Driver.Health;
using Failover.Driver.Runbooks;

namespace Failover.Driver.Tests.Engine;

/// <summary>A clock the test moves: each fake operation takes a known time.</summary>
internal sealed class ManualTime(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;
    public override DateTimeOffset GetUtcNow() { lock (this) return _now; }
    public void Advance(TimeSpan by) { lock (this) _now += by; }
}

/// <summary>In-memory ports that record every side effect, so tests can count them.</summary>
internal sealed class FakePorts : IBackupVault, ISiteProbe, ISiteProvisioner, ISiteFence, ISiteRetirement, ISiteRestore, IHealthGate, IDnsSwitch, IWriteFreeze, ISourceBackup
{
    public readonly ManualTime Time;
    public readonly ConcurrentQueue<string> Effects = new();
    public readonly Dictionary<string, List<TenantSnapshot>> Snapshots = new();
    public readonly HashSet<string> DamagedSnapshots = [];
    /// <summary>Snapshots that pass verification but fail when restored (a damaged pack the sampled check missed).</summary>
    public readonly HashSet<string> DamagedOnRestore = [];
    public bool Healthy = true;
    public bool FenceFails;
    public string? FailRestoreOf;
    public string? DnsPointsAt;

    public FakePorts(ManualTime time, IEnumerable<Tenant> tenants)
    {
        Time = time;
        var now = time.GetUtcNow();
        foreach (var t in tenants)
            Snapshots[t.Name] =
            [
                new(t.Name, $"{t.Name}-new", now - TimeSpan.FromMinutes(20), (long)(t.DataGb * 1e9)),
                new(t.Name, $"{t.Name}-old", now - TimeSpan.FromHours(6), (long)(t.DataGb * 1e9)),
            ];
    }

    public RunPorts Ports => new(this, this, this, this, this, this, this, this, this, this);
    public int Count(string prefix) => Effects.Count(e => e.StartsWith(prefix, StringComparison.Ordinal));

    public Task<IReadOnlyList<TenantSnapshot>> SnapshotsAsync(Tenant tenant, CancellationToken c) =>
        Task.FromResult<IReadOnlyList<TenantSnapshot>>(Snapshots[tenant.Name]);

    public Task<bool> VerifyAsync(TenantSnapshot s, CancellationToken c)
    {
        Effects.Enqueue($"verify {s.SnapshotId}");
        return Task.FromResult(!DamagedSnapshots.Contains(s.SnapshotId));
    }

    public Task<bool> ReadBackAsync(TenantSnapshot s, CancellationToken c)
    {
        Effects.Enqueue($"read-back {s.SnapshotId}");
        return Task.FromResult(!DamagedSnapshots.Contains(s.SnapshotId) && !DamagedOnRestore.Contains(s.SnapshotId));
    }

    public Task<bool> IsServingAsync(StackSpec site, CancellationToken c) => Task.FromResult(false);

    public Task<SiteAddress> ProvisionAsync(StackSpec site, IReadOnlyList<TenantSnapshot> point, CancellationToken c)
    {
        Effects.Enqueue($"provision {site.Name} {string.Join(",", point.Select(p => p.SnapshotId).Order())}");
        Time.Advance(TimeSpan.FromMinutes(5));
        return Task.FromResult(new SiteAddress(["192.0.2.10"], "http://192.0.2.10/health", new JsonObject { ["ipv4"] = "192.0.2.10" }));
    }

    public Task<string> FenceAsync(StackSpec site, CancellationToken c)
    {
        if (FenceFails) throw new TimeoutException("provider API did not answer within 30s");
        Effects.Enqueue($"fence {site.Name}");
        return Task.FromResult($"{site.Name} set to mode fenced");
    }

    public Task<string> RestoreAsync(Tenant tenant, TenantSnapshot s, SiteAddress site, Failover.Driver.Engine.IRunEffects effects, CancellationToken c)
    {
        if (FailRestoreOf == tenant.Name) throw new InvalidOperationException($"pg_restore failed for {tenant.Name}");
        if (DamagedOnRestore.Contains(s.SnapshotId)) throw new SnapshotDamagedException(s, "restic dump: ciphertext verification failed");
        Effects.Enqueue($"restore {tenant.Name} {s.SnapshotId}");
        Time.Advance(TimeSpan.FromSeconds(30));
        return Task.FromResult($"{tenant.Name}: rows and files match the manifest");
    }

    public Task<GateVerdict> CheckAsync(StackSpec site, SiteAddress a, IReadOnlyList<TenantSnapshot> r, CancellationToken c) =>
        Task.FromResult(Healthy ? new GateVerdict(true, [], "HTTP 200 from /health") : new GateVerdict(false, [], "HTTP 503 from http://192.0.2.10/health after 10 attempts"));

    public Task<string> PointAtAsync(StackSpec target, IReadOnlyList<string> addresses, CancellationToken c)
    {
        Effects.Enqueue($"dns {string.Join(",", addresses)}");
        DnsPointsAt = addresses[0];
        return Task.FromResult($"app.example.com A -> {addresses[0]}");
    }

    public Task<string> PointAtAsync(StackSpec target, IReadOnlyList<string> addresses, int ttlSeconds, CancellationToken c)
    {
        Effects.Enqueue($"dns {string.Join(",", addresses)} ttl {ttlSeconds}");
        DnsPointsAt = addresses[0];
        return Task.FromResult($"app.example.com A -> {addresses[0]} (TTL {ttlSeconds}s)");
    }

    public Task<SiteAddress> AddressAsync(StackSpec site, CancellationToken c) =>
        Task.FromResult(new SiteAddress(["192.0.2.1"], "http://192.0.2.1/health", new JsonObject()));

    public Task<FenceLift> UnfenceAsync(StackSpec site, CancellationToken c)
    {
        Effects.Enqueue($"unfence {site.Name}");
        return Task.FromResult(new FenceLift(false, $"{site.Name} was not fenced"));
    }

    public Task<string> ScaleDownAsync(StackSpec site, bool destroy, CancellationToken c)
    {
        Effects.Enqueue($"scale-down {site.Name}{(destroy ? " destroy" : "")}");
        return Task.FromResult($"{site.Name} scaled down");
    }

    public Task<string> FreezeAsync(StackSpec source, CancellationToken c)
    {
        Effects.Enqueue($"freeze {source.Name}");
        return Task.FromResult($"{source.Name} frozen");
    }

    public Task<string> ThawAsync(StackSpec source, CancellationToken c)
    {
        Effects.Enqueue($"thaw {source.Name}");
        return Task.FromResult($"{source.Name} thawed");
    }

    /// <summary>A final backup: each tenant's snapshot taken now, newer than the freeze.</summary>
    public Task<IReadOnlyList<TenantSnapshot>> BackupAsync(StackSpec source, DateTimeOffset frozenAt, CancellationToken c)
    {
        Effects.Enqueue($"backup {source.Name}");
        var now = Time.GetUtcNow();
        var taken = Snapshots.Select(kv => new TenantSnapshot(kv.Key, $"{kv.Key}-final", now, kv.Value[0].Bytes)).ToList();
        foreach (var s in taken) Snapshots[s.Tenant].Insert(0, s);
        return Task.FromResult<IReadOnlyList<TenantSnapshot>>(taken);
    }

    public Task<DateTimeOffset> WaitVisibleAsync(IReadOnlyList<string> addresses, CancellationToken c)
    {
        Time.Advance(TimeSpan.FromSeconds(60));
        return Task.FromResult(Time.GetUtcNow());
    }
}
