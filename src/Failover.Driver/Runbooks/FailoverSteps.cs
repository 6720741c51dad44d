using System.Globalization;
using System.Text.Json.Nodes;
using Failover.Core.Backup;
using Failover.Core.Planning;
using Failover.Core.Policies;
using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Engine;
using Failover.Driver.Reports;

namespace Failover.Driver.Runbooks;

/// <summary>The steps of `failover run`: the runbook of Core.Planning, executed against the ports.</summary>
public static class FailoverSteps
{
    /// <param name="ports">Built on first use, so a dry run (which only describes the steps) touches no provider.</param>
    /// <param name="options">The run's time limits (the wait for the first backup after the cutover); the defaults unless given.</param>
    public static IReadOnlyList<IStep> For(Topology topology, StackSpec target, Deferred<FailoverPorts> ports, string reportDirectory, RuntimeOptions? options = null) =>
    [
        new Assess(topology, ports.Role(p => p.Probe), ports.Role(p => p.Vault)),
        new SelectBackup(topology, ports.Role(p => p.Vault)),
        new Provision(target, ports.Role(p => p.Provisioner)),
        new Restore(topology, target, ports.Role(p => p.Vault), ports.Role(p => p.Restorer)),
        new Gate(target, ports.Role(p => p.Gate)),
        new Fence(topology.Production, ports.Role(p => p.Fence)),
        new Cutover(target, ports.Role(p => p.Dns)),
        new StartBackups(target, ports.Role(p => p.Backups), (options ?? RuntimeOptions.Default).FirstBackup),
        new Report(topology, reportDirectory),
    ];

    /// <summary>
    /// The steps of `failover restore --tenant NAME`: the named tenants' verified backups restored into the site serving
    /// now (left out of a failover for want of a backup), proven by the health gate. Nothing is provisioned, fenced or moved.
    /// </summary>
    public static IReadOnlyList<IStep> ForRestore(Topology topology, StackSpec serving, Deferred<TenantRestorePorts> ports, string reportDirectory) =>
    [
        new SelectBackup(topology, ports.Role(p => p.Vault)),
        new Locate(serving, ports.Role(p => p.Probe)),
        new Restore(topology, serving, ports.Role(p => p.Vault), ports.Role(p => p.Restorer)),
        new Gate(serving, ports.Role(p => p.Gate)),
        new Report(topology, reportDirectory),
    ];

    /// <param name="step">The step whose facts name the snapshots: select-backup, or a migration's final-sync.</param>
    internal static List<TenantSnapshot> Chosen(StepContext c, StepKind step = StepKind.SelectBackup) =>
        StepFacts.Of(c.Facts, step, ChosenSnapshots.From)!.Snapshots
            .Where(s => !c.Run.Without.Contains(s.Tenant)) // left out after its backup was chosen (its restore failed)
            .ToList();

    /// <summary>Where the run's site answers: provisioned, or (a restore into the serving site) located.</summary>
    internal static SiteAddress Address(StepContext c) =>
        StepFacts.Site(c.Facts[StepContext.Name(StepKind.Provision)] ?? c.Facts[StepContext.Name(StepKind.Locate)]!);

    private sealed class Assess(Topology t, Deferred<ISiteProbe> probe, Deferred<IBackupVault> vault) : IStep
    {
        public StepKind Kind => StepKind.Assess;
        public string Describe(RunContext run) => $"check whether {t.Production.Name} still answers; read the latest backup of {t.Tenants.Count} tenants";

        public async Task<StepResult> ExecuteAsync(StepContext c, CancellationToken ct)
        {
            var serving = await (await probe.GetAsync(ct)).IsServingAsync(t.Production, ct);
            var latest = new List<TenantSnapshot>();
            var now = c.Time.GetUtcNow();
            var worst = TimeSpan.Zero;
            var tenants = c.Run.TenantsOf(t);
            foreach (var tenant in tenants)
            {
                var snaps = await (await vault.GetAsync(ct)).SnapshotsAsync(tenant, ct);
                if (snaps.Count == 0)
                    throw new StepFailedException($"tenant {tenant.Name} has no backup in {string.Join(", ", t.Backup.Vaults)}: nothing to restore it from. {WithoutOffer(c.Run, [tenant.Name])}");
                latest.Add(snaps[0]);
                if (now - snaps[0].Time > worst) worst = now - snaps[0].Time;
            }
            var notes = serving ? new[] { $"{t.Production.Name} still answers: it will be fenced before the cutover" } : [];
            return new StepResult(
                $"{t.Production.Name} {(serving ? "still answers" : "does not answer")}; latest backups found for {tenants.Count} tenants, the oldest {Durations.Format(worst)} old",
                new AssessFacts(serving, latest).Json(), notes);
        }
    }

    /// <param name="baseOfSync">The base of a migration: a final sync follows, so the backup's age is no data loss and the RPO rule does not apply.</param>
    internal sealed class SelectBackup(Topology t, Deferred<IBackupVault> vault, bool baseOfSync = false) : IStep
    {
        public StepKind Kind => StepKind.SelectBackup;
        /// <summary>Why a vault gave way, said once even when it holds for every tenant.</summary>
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _said = new();
        public string Describe(RunContext run) => run.RestorePoint is null
            ? "pick each tenant's newest snapshot that passes verification"
            : $"pick each tenant's newest verified snapshot at or before {run.RestorePoint}";

        public async Task<StepResult> ExecuteAsync(StepContext c, CancellationToken ct)
        {
            var point = await RestorePointTime(c.Run.RestorePoint, ct);
            var now = c.Time.GetUtcNow();
            // Tenants are independent: verify them side by side (restic reads concurrently under shared locks).
            var tenants = c.Run.TenantsOf(t);
            var picks = await TenantQueue.RunAsync(tenants, 4, c.Time, (tenant, x) => PickAsync(c, tenant, point, now, x), ct);
            if (picks.FirstOrDefault(p => p.Error is not null) is { } failed)
                throw failed.Error is StepFailedException ? failed.Error : new StepFailedException($"{failed.Tenant.Name}: {failed.Error!.Message}", failed.Error);
            var chosen = new List<TenantSnapshot>();
            var notes = new List<string>();
            var vaults = new Dictionary<string, string>();
            foreach (var p in picks.OrderBy(p => tenants.ToList().IndexOf(p.Tenant)))
            {
                chosen.Add(p.Result!.Snapshot);
                if ((await vault.GetAsync(ct)).SourceOf(p.Result.Snapshot) is { } source) vaults[p.Tenant.Name] = source.Vault;
                notes.AddRange(p.Result.Notes);
            }
            return new StepResult($"{chosen.Count} verified snapshots chosen" + (point is null ? "" : $" at or before {point:u}") + BackupSources.Summary(chosen.Where(s => vaults.ContainsKey(s.Tenant)).Select(s => vaults[s.Tenant]).ToList()),
                new ChosenSnapshots(chosen, vaults).Json(), notes);
        }

        /// <summary>The tenant's newest snapshot that verifies, at or before the restore point, within the RPO rule.</summary>
        private async Task<(TenantSnapshot Snapshot, List<string> Notes)> PickAsync(StepContext c, Tenant tenant, DateTimeOffset? point, DateTimeOffset now, CancellationToken ct)
        {
            var notes = new List<string>();
            var candidates = (await (await vault.GetAsync(ct)).SnapshotsAsync(tenant, ct)).Where(s => point is null || s.Time <= point).ToList();
            TenantSnapshot? good = null;
            foreach (var s in candidates)
            {
                var ok = await c.Once(EffectKey.Verify(tenant.Name, s.SnapshotId), async x => JsonValue.Create(await (await vault.GetAsync(ct)).VerifyAsync(s, x)), ct);
                if (ok?.GetValue<bool>() == true) { good = s; break; }
                notes.Add($"snapshot {s.SnapshotId} of {tenant.Name} failed verification; falling back to the previous one");
                c.Note(notes[^1]);
            }
            if (good is null)
                throw new StepFailedException(candidates.Count == 0
                    ? point is null
                        ? $"tenant {tenant.Name} has no complete backup in the vault: nothing to restore it from. {WithoutOffer(c.Run, [tenant.Name])}"
                        : $"tenant {tenant.Name} has no snapshot at or before the restore point {c.Run.RestorePoint}. {WithoutOffer(c.Run, [tenant.Name])}"
                    : $"no snapshot of tenant {tenant.Name} passed verification ({candidates.Count} tried, the reasons are in the log): the vault is damaged; " +
                      $"restore from another vault (failover:restoreFrom), or repair this one (restic check, restic repair) and run again. {WithoutOffer(c.Run, [tenant.Name])}");
            if ((await vault.GetAsync(ct)).SourceOf(good)?.Why is { } why && _said.TryAdd(why, 0)) { notes.Add(why); c.Note(why); }
            if (baseOfSync) return (good, notes);
            // An explicit restore point is the operator's decision about data loss; otherwise the RPO rule decides.
            var verdict = RpoVerdict.Evaluate(tenant.Name, good.Time, now, t.Targets.Rpo, c.Run.AcceptDataLoss || point is not null);
            if (!verdict.Allowed)
                throw new StepFailedException($"{verdict.Message} Nothing was changed: if that loss is accepted, run `failover resume --accept-data-loss`.");
            if (!verdict.WithinTarget && point is null) notes.Add($"{verdict.Message} (--accept-data-loss)");
            return (good, notes);
        }

        /// <summary>--restore-point: a time (ISO 8601), a duration ago ("2h"), or a snapshot id whose time is used.</summary>
        private async Task<DateTimeOffset?> RestorePointTime(string? value, CancellationToken ct)
        {
            if (value is null) return null;
            if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)) return at;
            foreach (var tenant in t.Tenants)
                foreach (var s in await (await vault.GetAsync(ct)).SnapshotsAsync(tenant, ct))
                    if (s.SnapshotId.StartsWith(value, StringComparison.OrdinalIgnoreCase)) return s.Time;
            throw new StepFailedException($"--restore-point '{value}' is neither a time (2026-11-21T02:00:00Z) nor the id of a snapshot in the vault");
        }
    }

    internal sealed class Provision(StackSpec target, Deferred<ISiteProvisioner> provisioner) : IStep
    {
        public StepKind Kind => StepKind.Provision;
        public string Describe(RunContext run) => $"bring {target.Name} up at {(target.Mode == SiteMode.Full ? "full" : "MVD")} size with the chosen snapshot ids";

        public async Task<StepResult> ExecuteAsync(StepContext c, CancellationToken ct)
        {
            var snapshots = Chosen(c);
            var result = await c.Once(EffectKey.Provision(target.Name), async x => StepFacts.Json(await (await provisioner.GetAsync(ct)).ProvisionAsync(target, snapshots, x)), ct);
            var facts = result!.AsObject().DeepClone().AsObject();
            return new StepResult($"{target.Name} is up at {string.Join(", ", StepFacts.Site(facts).Addresses)}", facts);
        }
    }

    /// <summary>Where the serving site answers, read without changing it: the address a later restore goes to.</summary>
    internal sealed class Locate(StackSpec serving, Deferred<ISiteProbe> probe) : IStep
    {
        public StepKind Kind => StepKind.Locate;
        public string Describe(RunContext run) => $"read where {serving.Name} answers (it serves now; nothing is provisioned)";

        public async Task<StepResult> ExecuteAsync(StepContext c, CancellationToken ct)
        {
            var a = await (await probe.GetAsync(ct)).AddressAsync(serving, ct);
            return new StepResult($"{serving.Name} answers at {string.Join(", ", a.Addresses)}", StepFacts.Json(a));
        }
    }

    internal sealed class Restore(Topology t, StackSpec target, Deferred<IBackupVault> vault, Deferred<ISiteRestore> restorer) : IStep
    {
        public StepKind Kind => StepKind.Restore;
        public string Describe(RunContext run) =>
            $"restore {run.TenantsOf(t).Count} tenants, tier then smallest first, {t.RestoreOn(target).Parallelism} at a time";

        public async Task<StepResult> ExecuteAsync(StepContext c, CancellationToken ct)
        {
            var results = await RestoreAllAsync(c, t, target, await vault.GetAsync(ct), await restorer.GetAsync(ct), Chosen(c), EffectKey.Restore, ct);
            return new StepResult($"{results.Count} tenants restored and verified" + (c.Run.Without.Count > 0 ? $"; left out: {string.Join(", ", c.Run.Without)}" : ""),
                new RestoreFacts(results).Json());
        }
    }

    /// <summary>
    /// Restores every tenant from its snapshot on the target, tier then smallest first, each restore one journaled
    /// effect keyed <paramref name="effect"/> of the tenant; the tenants' results, or a failure naming each tenant that failed.
    /// </summary>
    internal static async Task<Dictionary<string, RestoredTenant>> RestoreAllAsync(StepContext c, Topology t, StackSpec target, IBackupVault vault, ISiteRestore restorer, IReadOnlyList<TenantSnapshot> chosen, Func<string, EffectKey> effect, CancellationToken ct)
    {
        var snapshots = chosen.ToDictionary(s => s.Tenant);
        var site = Address(c);
        var settings = t.RestoreOn(target);
        var turns = await TenantQueue.RunAsync(c.Run.TenantsOf(t).Where(x => snapshots.ContainsKey(x.Name)).ToList(), settings.Parallelism, c.Time, async (tenant, x) =>
        {
            var start = c.Time.GetUtcNow();
            while (true)
            {
                // A snapshot found damaged earlier in this run (journaled) is not tried again: its fallback is.
                var snapshot = Fallen(c, snapshots[tenant.Name]);
                try
                {
                    var done = await c.Once(effect(tenant.Name), async y =>
                    {
                        var verdict = await restorer.RestoreAsync(tenant, snapshot, site, c, y);
                        return new RestoredTenant(verdict, start, c.Time.GetUtcNow(), snapshot.SnapshotId != snapshots[tenant.Name].SnapshotId ? snapshot : null).Json();
                    }, x);
                    return RestoredTenant.From(tenant.Name, done!);
                }
                catch (SnapshotDamagedException e) when (!x.IsCancellationRequested)
                {
                    await FallBackAsync(c, t, vault, tenant, e, x);
                }
            }
        }, ct);
        var failures = turns.Where(x => x.Error is not null).Select(x => $"{x.Tenant.Name}: {x.Error!.Message}").ToList();
        if (turns.FirstOrDefault(x => x.Error is StepFailedException) is { } refused && failures.Count == 1)
            throw new StepFailedException($"{refused.Tenant.Name}: {refused.Error!.Message} {WithoutOffer(c.Run, [refused.Tenant.Name])}".TrimEnd(), refused.Error);
        if (failures.Count > 0)
            throw new StepFailedException($"{failures.Count} of {turns.Count} tenants failed to restore ({string.Join("; ", failures)}); the others are restored and kept. Fix the cause and run `failover resume`" +
                (c.Run.Kind == RunKind.Failover ? $", or {WithoutOffer(c.Run, turns.Where(x => x.Error is not null).Select(x => x.Tenant.Name).ToList())}" : "."));
        return turns.ToDictionary(x => x.Tenant.Name, x => x.Result!);
    }

    /// <summary>The way past tenants without a usable backup: go on without them now, restore them when a backup is found.</summary>
    internal static string WithoutOffer(RunContext run, IReadOnlyList<string> tenants) => run.Kind != RunKind.Failover ? "" :
        $"To go on without {(tenants.Count == 1 ? "it" : "them")} (the others are restored and served; {(tenants.Count == 1 ? "it stays" : "they stay")} down): " +
        $"`failover resume {string.Join(" ", tenants.Select(n => $"--without-tenant {n}"))}`; once a backup is found, `failover restore {string.Join(" ", tenants.Select(n => $"--tenant {n}"))}` " +
        "restores it into the serving site.";

    /// <summary>The snapshot a tenant is restored from now: the chosen one, or the journaled fallback of a damaged one (repeatedly).</summary>
    private static TenantSnapshot Fallen(StepContext c, TenantSnapshot chosen)
    {
        var snapshot = chosen;
        for (var seen = 0; seen < 1000; seen++)
        {
            var key = EffectKey.Fallback(chosen.Tenant, snapshot.SnapshotId).Value;
            var done = Journal.Live(c.Records).LastOrDefault(r => r.Event == JournalEvent.EffectDone && r.Step == StepContext.Name(c.Step) && r.Effect == key);
            if (done?.Data?["result"] is not JsonObject next) return snapshot;
            snapshot = StepFacts.Snapshot(chosen.Tenant, next);
        }
        return snapshot;
    }

    /// <summary>
    /// A restore found its snapshot damaged (a pack the sampled check missed): the tenant's previous snapshot that reads back
    /// intact is chosen instead, journaled and noted for the report, within the RPO rule as select-backup applies it; or the
    /// step stops saying which command goes on.
    /// </summary>
    private static async Task FallBackAsync(StepContext c, Topology t, IBackupVault vault, Tenant tenant, SnapshotDamagedException damaged, CancellationToken ct)
    {
        var bad = damaged.Snapshot;
        var next = await c.Once(EffectKey.Fallback(tenant.Name, bad.SnapshotId), async x =>
        {
            foreach (var s in (await vault.SnapshotsAsync(tenant, x)).Where(s => s.Time < bad.Time))
                if (await vault.ReadBackAsync(s, x)) return StepFacts.Json(s);
            throw new StepFailedException($"snapshot {bad.SnapshotId} of {tenant.Name} is damaged ({damaged.Reason}) and no older snapshot reads back intact: " +
                "restore from another vault (failover:restoreFrom), or repair this one (restic check --read-data, restic repair) and run `failover resume`");
        }, ct);
        var fallback = StepFacts.Snapshot(tenant.Name, next!);
        c.Note($"snapshot {bad.SnapshotId} of {tenant.Name} is damaged ({damaged.Reason}); restoring the previous verified snapshot {fallback.SnapshotId} of {fallback.Time:u} instead");
        var verdict = RpoVerdict.Evaluate(tenant.Name, fallback.Time, c.Time.GetUtcNow(), t.Targets.Rpo, c.Run.AcceptDataLoss || c.Run.RestorePoint is not null);
        if (!verdict.Allowed)
            throw new StepFailedException($"its snapshot {bad.SnapshotId} is damaged and the previous verified one is older than the RPO allows: {verdict.Message} " +
                "The other tenants are restored and kept: if that loss is accepted, run `failover resume --accept-data-loss`.");
    }

    /// <param name="snapshotsFrom">The step whose snapshots the site must report restored (a migration's final-sync).</param>
    internal sealed class Gate(StackSpec target, Deferred<IHealthGate> gate, StepKind snapshotsFrom = StepKind.SelectBackup) : IStep
    {
        public StepKind Kind => StepKind.Gate;
        public string Describe(RunContext run) => $"health probes on {target.Name}; DNS is not touched unless they pass";

        public async Task<StepResult> ExecuteAsync(StepContext c, CancellationToken ct)
        {
            var verdict = await (await gate.GetAsync(ct)).CheckAsync(target, Address(c), Chosen(c, snapshotsFrom), ct);
            if (!verdict.Healthy)
                throw new StepFailedException($"{target.Name} is not healthy: {verdict.Summary}. DNS was not touched; the old records stay.");
            return new StepResult(verdict.Summary);
        }
    }

    internal sealed class Fence(StackSpec production, Deferred<ISiteFence> fence) : IStep
    {
        public StepKind Kind => StepKind.Fence;
        public string Describe(RunContext run) => $"fence {production.Name} so a returning datacenter takes no writes";

        public async Task<StepResult> ExecuteAsync(StepContext c, CancellationToken ct)
        {
            try
            {
                var done = await c.Once(EffectKey.Fence(production.Name), async x => JsonValue.Create(await (await fence.GetAsync(ct)).FenceAsync(production, x)), ct);
                return new StepResult((string?)done ?? "fenced");
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A burned datacenter does not answer: the cutover still removes its records, which is the fence that matters.
                var note = $"{production.Name} could not be fenced at its provider ({e.Message}); its DNS records are replaced by the cutover. Fence it when it answers again.";
                return new StepResult("fence not applied: provider did not answer", Notes: [note]);
            }
        }
    }

    /// <param name="ttlSeconds">The records' TTL after the cutover; null keeps the zone's configured TTL (a migration keeps it low until the old site is scaled down).</param>
    internal sealed class Cutover(StackSpec target, Deferred<IDnsSwitch> dns, int? ttlSeconds = null) : IStep
    {
        public StepKind Kind => StepKind.Cutover;
        public string Describe(RunContext run) => $"point the service records at {target.Name} and wait until every authoritative server answers it";

        public async Task<StepResult> ExecuteAsync(StepContext c, CancellationToken ct)
        {
            var addresses = Address(c).Addresses;
            var changed = await c.Once(EffectKey.DnsPoint, async x => JsonValue.Create(ttlSeconds is { } ttl
                ? await (await dns.GetAsync(ct)).PointAtAsync(target, addresses, ttl, x)
                : await (await dns.GetAsync(ct)).PointAtAsync(target, addresses, x)), ct);
            var visible = await (await dns.GetAsync(ct)).WaitVisibleAsync(addresses, ct);
            return new StepResult($"{(string?)changed}; visible on every authoritative server at {visible:u}", new CutoverFacts(visible, addresses).Json());
        }
    }

    internal sealed class Report(Topology t, string directory) : IStep
    {
        public StepKind Kind => StepKind.Report;
        public string Describe(RunContext run) => $"write the incident report to {directory}";

        public Task<StepResult> ExecuteAsync(StepContext c, CancellationToken ct)
        {
            // The command rewrites the report once more after the run ends; writing it here makes it exist even if that is lost.
            // The findings are evidence of the moment: the stack files may change before anyone reads the report.
            var findings = new JsonArray(PolicyBook.Evaluate(t).Select(f => (JsonNode)new JsonObject
            {
                ["policy"] = f.PolicyId, ["severity"] = f.Severity.ToString().ToLowerInvariant(), ["message"] = f.Message,
            }).ToArray());
            var facts = new JsonObject { ["findings"] = findings, ["toolVersion"] = IncidentReport.ToolVersion };
            var files = IncidentReportFiles.Write(directory, IncidentReport.FromJournal(c.Records, t.Targets) with { Findings = IncidentReport.FindingsOf(facts) });
            return Task.FromResult(new StepResult($"report written: {string.Join(", ", files)}", facts));
        }
    }
}
