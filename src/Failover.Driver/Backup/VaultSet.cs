using System.Collections.Concurrent;
using Failover.Core.Backup;
using Failover.Core.Topology;
using Failover.Driver.Logging;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Backup;

/// <summary>
/// One vault a run may restore from: its name and how to open it, asynchronously (a cloud vault's settings are its stack's
/// outputs, read through pulumi); reading them may fail: the vault is then unreachable.
/// </summary>
public sealed record VaultSource(string Name, Func<CancellationToken, Task<ResticSettings>> Open)
{
    /// <summary>A vault whose settings are known without asking anyone (a directory vault's path and password file).</summary>
    public VaultSource(string name, Func<ResticSettings> open) : this(name, _ => Task.FromResult(open())) { }
}

/// <summary>
/// Every vault a run reads (<see cref="VaultOrder"/>), as one <see cref="IBackupVault"/>: a tenant's candidates are the
/// complete sets of all reachable vaults, newest run first, the copies of one run in vault order. The run's walk (newest
/// that verifies) thus takes the first vault unless it cannot be read, lacks the newest run, or its copy is damaged, and
/// <see cref="SourceOf"/> says which vault and why. A vault that cannot be read is skipped with its reason, logged once.
/// </summary>
/// <param name="oneVault">
/// Every tenant from one vault (a cloud standby's user data carries one vault's read key): the first reachable one,
/// unless another's newest backup run is newer; its name is <see cref="RunVaultAsync"/>.
/// </param>
public sealed class VaultSet(IReadOnlyList<VaultSource> sources, SecretRegistry secrets, TimeProvider clock, ILogger log,
    string? readDataSubset = null, bool oneVault = false) : IBackupVault
{
    private sealed class Member(VaultSource source)
    {
        public VaultSource Source { get; } = source;
        public ResticRepository? Repository { get; set; }
        public ResticVault? Vault { get; set; }
        public string? Unreachable { get; set; }
    }

    private readonly List<Member> _members = sources.Select(s => new Member(s)).ToList();
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ConcurrentDictionary<string, (Member Member, BackupSet Set)> _bySnapshot = new();
    private readonly ConcurrentDictionary<string, IReadOnlyList<(Member Member, BackupSet Set)>> _byTenant = new();
    private readonly ConcurrentDictionary<string, bool> _verified = new();

    /// <summary>The vaults in the order they are read.</summary>
    public IReadOnlyList<string> Names => _members.Select(m => m.Source.Name).ToList();

    private (Member Member, string? Why)? _runVault;

    /// <summary>
    /// In one-vault mode, the vault every tenant is restored from and why when it is not the first (null: the first,
    /// or per-tenant mode); decided once, from each vault's newest manifest.
    /// </summary>
    public async Task<SnapshotSource?> RunVaultAsync(CancellationToken cancellation)
    {
        if (!oneVault) return null;
        var (member, why) = await ChooseRunVaultAsync(cancellation);
        return member == _members[0] ? null : new SnapshotSource(member.Source.Name, why);
    }

    private async Task<(Member Member, string? Why)> ChooseRunVaultAsync(CancellationToken cancellation)
    {
        if (_runVault is { } decided) return decided;
        var looks = new List<(Member Member, DateTimeOffset? Newest)>();
        foreach (var m in _members)
        {
            if (await OpenAsync(m, cancellation) is not { } vault) continue;
            try { looks.Add((m, await vault.Catalog.NewestManifestAsync(cancellation))); }
            catch (Exception e) when (e is ResticException or IOException or InvalidOperationException) { Unreachable(m, e.Message); }
        }
        if (looks.Count == 0)
            throw new InvalidOperationException("no vault could be read: " + string.Join("; ", _members.Select(m => $"{m.Source.Name}: {m.Unreachable}")));
        // The first reachable vault unless another holds a newer run (a vault the agent could not write for a while).
        var best = looks.Aggregate((a, b) => (b.Newest ?? DateTimeOffset.MinValue) > (a.Newest ?? DateTimeOffset.MinValue) ? b : a);
        var before = _members.TakeWhile(m => m != best.Member).Select(m => new VaultLook(m.Source.Name, m.Unreachable,
            looks.FirstOrDefault(l => l.Member == m).Newest, 0)).ToList();
        var why = VaultChoice.Why("every tenant", best.Member.Source.Name, best.Newest ?? DateTimeOffset.MinValue, before);
        if (why is not null) log.Warning("{Why}", why);
        return (_runVault = (best.Member, why)).Value;
    }

    public async Task<IReadOnlyList<TenantSnapshot>> SnapshotsAsync(Tenant tenant, CancellationToken cancellation)
    {
        var all = new List<(Member Member, BackupSet Set)>();
        var only = oneVault ? (await ChooseRunVaultAsync(cancellation)).Member : null;
        foreach (var m in _members)
        {
            if (only is not null && m != only) continue;
            var vault = await OpenAsync(m, cancellation);
            if (vault is null) continue;
            IReadOnlyList<BackupSet> sets;
            try { sets = await vault.Catalog.SetsAsync(tenant.Name, cancellation); }
            catch (Exception e) when (e is ResticException or IOException or InvalidOperationException)
            {
                Unreachable(m, e.Message);
                continue;
            }
            all.AddRange(sets.Where(s => s.IsComplete).Select(s => (m, s)));
        }
        if (_members.All(m => m.Unreachable is not null))
            throw new InvalidOperationException("no vault could be read: " + string.Join("; ", _members.Select(m => $"{m.Source.Name}: {m.Unreachable}")));
        // A run's copies side by side, in vault order; runs newest first (a copy's time differs by the seconds the tee took).
        var newestOfRun = all.GroupBy(x => x.Set.RunId).ToDictionary(g => g.Key, g => g.Max(x => x.Set.Time));
        var ordered = all.OrderByDescending(x => newestOfRun[x.Set.RunId]).ThenBy(x => x.Set.RunId, StringComparer.Ordinal)
            .ThenBy(x => _members.IndexOf(x.Member)).ToList();
        foreach (var x in ordered) _bySnapshot[x.Set.Database!.Id] = x;
        _byTenant[tenant.Name] = ordered;
        return ordered.Select(x => new TenantSnapshot(tenant.Name, x.Set.Database!.Id, x.Set.Time, 0)).ToList();
    }

    public async Task<bool> VerifyAsync(TenantSnapshot snapshot, CancellationToken cancellation)
    {
        var (vault, _) = await VaultOfAsync(snapshot, cancellation);
        return _verified[snapshot.SnapshotId] = await vault.VerifyAsync(snapshot, cancellation);
    }

    public async Task<bool> ReadBackAsync(TenantSnapshot snapshot, CancellationToken cancellation)
    {
        var (vault, _) = await VaultOfAsync(snapshot, cancellation);
        return _verified[snapshot.SnapshotId] = await vault.ReadBackAsync(snapshot, cancellation);
    }

    public SnapshotSource? SourceOf(TenantSnapshot chosen)
    {
        if (!_bySnapshot.TryGetValue(chosen.SnapshotId, out var pick)) return null;
        // One vault for the run: the same reason for every tenant (the step says it once).
        if (oneVault) return new SnapshotSource(pick.Member.Source.Name, _runVault?.Why);
        var index = _members.IndexOf(pick.Member);
        var listed = _byTenant.TryGetValue(chosen.Tenant, out var l) ? l : [];
        var before = _members.Take(index).Select(m =>
        {
            var mine = listed.Where(x => x.Member == m).ToList();
            // Its copies of the chosen run, or of newer ones, that the walk tried and found damaged.
            var failed = mine.Count(x => (x.Set.RunId == pick.Set.RunId || x.Set.Time > pick.Set.Time)
                && _verified.TryGetValue(x.Set.Database!.Id, out var ok) && !ok);
            return new VaultLook(m.Source.Name, m.Unreachable, mine.Count == 0 ? null : mine.Max(x => x.Set.Time), failed);
        }).ToList();
        return new SnapshotSource(pick.Member.Source.Name, VaultChoice.Why(chosen.Tenant, pick.Member.Source.Name, pick.Set.Time, before));
    }

    /// <summary>The vault holding the snapshot and its repository (a restore reads from it); lists the tenant again when not seen yet (a resumed run).</summary>
    public async Task<(ResticVault Vault, IBackupRepository Repository)> VaultOfAsync(TenantSnapshot snapshot, CancellationToken cancellation)
    {
        if (!_bySnapshot.TryGetValue(snapshot.SnapshotId, out var pick))
        {
            await ForgetListingsAsync(cancellation);
            await SnapshotsAsync(new Tenant(snapshot.Tenant, 1, 0), cancellation);
            if (!_bySnapshot.TryGetValue(snapshot.SnapshotId, out pick))
                throw new InvalidOperationException($"snapshot {snapshot.SnapshotId} of {snapshot.Tenant} is in none of the vaults {string.Join(", ", Names)} (was it forgotten since the run started?)");
        }
        return (pick.Member.Vault!, pick.Member.Repository!);
    }

    /// <summary>
    /// The vault the chosen snapshots come from when it is not the first one read (a cloud standby must then be told:
    /// failover:restoreFrom), else null.
    /// </summary>
    /// <exception cref="InvalidOperationException">They come from several vaults: a cloud standby reads one.</exception>
    public async Task<string?> OtherVaultOfAsync(IReadOnlyList<TenantSnapshot> chosen, CancellationToken cancellation)
    {
        var names = new HashSet<string>();
        foreach (var s in chosen)
        {
            await VaultOfAsync(s, cancellation);
            names.Add(_bySnapshot[s.SnapshotId].Member.Source.Name);
        }
        if (names.Count > 1)
            throw new InvalidOperationException($"the chosen snapshots come from several vaults ({string.Join(", ", names)}): a cloud standby restores from one");
        return names.SingleOrDefault() is { } name && name != _members[0].Source.Name ? name : null;
    }

    /// <summary>The newest heartbeat of <paramref name="site"/> finished at or after <paramref name="since"/>, from the first vault that has one (listed afresh).</summary>
    public async Task<BackupHeartbeat?> HeartbeatOfAsync(string site, DateTimeOffset since, CancellationToken cancellation)
    {
        await ForgetListingsAsync(cancellation);
        foreach (var m in _members)
        {
            if (await OpenAsync(m, cancellation) is not { } vault) continue;
            try
            {
                if (await vault.Catalog.HeartbeatAsync(cancellation) is { } beat && beat.Site == site && beat.Finished >= since) return beat;
            }
            catch (Exception e) when (e is ResticException or IOException or InvalidOperationException) { Unreachable(m, e.Message); }
        }
        return null;
    }

    /// <summary>The first vault that can be opened (a migration's final backup is looked for there: the agent writes every vault).</summary>
    public async Task<ResticVault> FirstReachableAsync(CancellationToken cancellation)
    {
        foreach (var m in _members)
            if (await OpenAsync(m, cancellation) is { } vault) return vault;
        throw new InvalidOperationException("no vault could be read: " + string.Join("; ", _members.Select(m => $"{m.Source.Name}: {m.Unreachable}")));
    }

    /// <summary>Forgets every vault's listing, so the next question lists them again (a migration's final backup added sets since).</summary>
    public async Task ForgetListingsAsync(CancellationToken cancellation)
    {
        foreach (var m in _members)
            if (m.Vault is not null) await m.Vault.Catalog.ForgetListingAsync(cancellation);
    }

    private async Task<ResticVault?> OpenAsync(Member m, CancellationToken cancellation)
    {
        await _gate.WaitAsync(cancellation);
        try
        {
            if (m.Unreachable is not null) return null;
            if (m.Vault is not null) return m.Vault;
            try
            {
                m.Repository = new ResticRepository(await m.Source.Open(cancellation), secrets, log);
                return m.Vault = new ResticVault(new BackupCatalog(m.Repository, clock, log, readDataSubset));
            }
            // A cloud vault's outputs come from pulumi: a vault stack that was never deployed (or pulumi failing) is unreachable too.
            catch (Exception e) when (e is InvalidOperationException or IOException or ResticException
                                      or Pulumi.PulumiCommandException or Pulumi.PulumiNotFoundException or Pulumi.PulumiTimeoutException)
            {
                Unreachable(m, e.Message);
                return null;
            }
        }
        finally { _gate.Release(); }
    }

    private void Unreachable(Member m, string reason)
    {
        if (m.Unreachable is not null) return;
        m.Unreachable = reason.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? reason;
        log.Warning("Vault {Vault} cannot be read, the run reads the next one: {Reason}", m.Source.Name, m.Unreachable);
    }
}
