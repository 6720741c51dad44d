using System.Globalization;
using System.Text.Json.Nodes;
using Failover.Core.Planning;
using Failover.Core.Topology;
using Failover.Driver.Engine;

namespace Failover.Driver.Runbooks;

/// <summary>What the operator chose for this invocation of a migration (not fixed for the run: a later call may confirm).</summary>
/// <param name="Wait">Wait for the old TTL to pass instead of stopping until the command is run again.</param>
/// <param name="Confirmed">The operator confirmed that the old site may be scaled down.</param>
/// <param name="DestroyOld">Destroy the old site instead of scaling it down.</param>
public sealed record MigrationChoices(bool Wait, bool Confirmed, bool DestroyOld);

/// <summary>
/// The steps of `failover migrate`: a planned move of production with no data lost. TTL lowered first, the target
/// brought up at full size and restored from the latest backup while the source serves, then a short write freeze,
/// a final backup and restore (RPO zero), health gate, cutover, the old site fenced, the stack files' roles
/// rewritten, and once the operator confirms, the old site scaled down.
/// </summary>
public static class MigrationSteps
{

    /// <summary>The steps between the freeze and the cutover, and the thaw itself: a thaw's completion voids them, so a resumed migration freezes and syncs again.</summary>
    public static readonly IReadOnlyList<StepKind> FrozenSteps = [StepKind.Freeze, StepKind.FinalSync, StepKind.Gate, StepKind.Thaw];

    public static IReadOnlyList<IStep> For(Topology topology, StackSpec source, StackSpec target, Deferred<MigrationPorts> ports, string reportDirectory,
        MigrationChoices choices, Action<string> say, RuntimeOptions? options = null) =>
    [
        new LowerTtl(topology, source, target, ports, choices.Wait, say),
        new FailoverSteps.SelectBackup(topology, ports.Role(p => p.Vault), baseOfSync: true),
        new ProvisionFull(target, ports),
        new FailoverSteps.Restore(topology, target, ports.Role(p => p.Vault), ports.Role(p => p.Restorer)),
        new Freeze(source, ports),
        new FinalSync(topology, source, target, ports),
        new FailoverSteps.Gate(target, ports.Role(p => p.Gate), snapshotsFrom: StepKind.FinalSync),
        new FailoverSteps.Cutover(target, ports.Role(p => p.Dns), MigrationTtl.During(OldTtl(topology))),
        new FailoverSteps.Fence(source, ports.Role(p => p.Fence)),
        new StartBackups(target, ports.Role(p => p.Backups), (options ?? RuntimeOptions.Default).FirstBackup),
        new Roles(topology.StacksDirectory, target, say),
        new ScaleDown(source, target, ports, choices),
        new FailoverSteps.Report(topology, reportDirectory),
    ];

    /// <summary>
    /// The migration's compensation: before the cutover production is still the source, so a migration that stops (a failed
    /// step, Ctrl-C) or is aborted during the freeze gives the source its writes back; the frozen steps are reopened, so
    /// going on means freezing and syncing again.
    /// </summary>
    public static Compensation Compensation(StackSpec source, Deferred<MigrationPorts> ports) =>
        new([new ThawStep(source, ports)], (result, records) => result.Outcome is RunOutcome.Interrupted or RunOutcome.Failed && NeedsThaw(records))
        {
            Say = $"the migration stopped during the freeze: giving {source.Name} its writes back",
            Reopens = FrozenSteps,
            Stack = source.Name,
        };

    /// <summary>Whether the journal shows a freeze that may be in force and no cutover begun: then the source must be thawed.</summary>
    public static bool NeedsThaw(IReadOnlyList<JournalRecord> records)
    {
        var live = Journal.Live(records);
        return live.Any(r => r.Event == JournalEvent.EffectStarted && EffectKey.IsFreeze(r.Effect))
               && !live.Any(r => r.Event == JournalEvent.EffectStarted && r.Effect == EffectKey.DnsPoint.Value)
               && !live.Any(r => r.Event == JournalEvent.EffectDone && EffectKey.IsThaw(r.Effect));
    }

    /// <summary>Whether the run stopped at the scale-down, waiting for the operator's --confirm.</summary>
    public static bool AwaitsConfirmation(IReadOnlyList<JournalRecord> records) =>
        Journal.Live(records).LastOrDefault(r => r.Step == StepContext.Name(StepKind.ScaleDown))?.Event == JournalEvent.StepPaused;

    private static int OldTtl(Topology topology) => topology.DnsStack?.Dns?.TtlSeconds ?? MigrationTtl.LoweredSeconds;


    /// <summary>Lowers the TTL while the records still point at the source, then lets the old TTL pass before anything else.</summary>
    private sealed class LowerTtl(Topology t, StackSpec source, StackSpec target, Deferred<MigrationPorts> ports, bool wait, Action<string> say) : IStep
    {
        public StepKind Kind => StepKind.LowerTtl;
        private int Old => OldTtl(t);

        public string Describe(RunContext run) => Old <= MigrationTtl.LoweredSeconds
            ? $"the TTL of {t.DnsStack?.Dns?.Zone} is already {Old}s: nothing to lower, nothing to wait for"
            : $"lower the TTL of {t.DnsStack?.Dns?.Zone} from {Old}s to {MigrationTtl.LoweredSeconds}s (records still at {source.Name}); go on once {Durations.Format(TimeSpan.FromSeconds(Old))} have passed";

        public async Task<StepResult> ExecuteAsync(StepContext c, CancellationToken ct)
        {
            var ttl = MigrationTtl.During(Old);
            var lowered = TtlLowered.From((await c.Once(EffectKey.TtlLower, async x =>
            {
                if (ttl < Old)
                {
                    var p = await ports.GetAsync(x);
                    var addresses = (await p.Probe.AddressAsync(source, x)).Addresses;
                    await p.Dns.PointAtAsync(source, addresses, ttl, x);
                    await p.Dns.WaitVisibleAsync(addresses, x);
                }
                return new TtlLowered(c.Time.GetUtcNow(), Old, ttl).Json();
            }, ct))!);
            var (at, oldTtl) = (lowered.At, lowered.OldTtl);
            var safe = MigrationTtl.SafeFrom(at, oldTtl);
            var now = c.Time.GetUtcNow();
            if (now < safe)
            {
                if (!wait)
                    throw new StepPausedException($"the TTL was lowered to {ttl}s at {at:u}; resolvers may still hold the old answer ({oldTtl}s) until {safe:u}. " +
                        $"Run `failover migrate --to {target.Name}` again after {safe:u} (in {Durations.Format(safe - now)}), or add --wait. {source.Name} keeps serving meanwhile.");
                say($"    waiting {Durations.Format(safe - now)} until {safe:u}, when no resolver holds the old TTL any more (Ctrl-C is safe: nothing else has changed)");
                await Task.Delay(safe - now, c.Time, ct);
            }
            return new StepResult(ttl < oldTtl
                    ? $"TTL lowered from {oldTtl}s to {ttl}s at {at:u}; old answers expired at {safe:u}"
                    : $"TTL already {oldTtl}s: nothing to lower",
                new LowerTtlFacts(at, oldTtl, ttl, safe).Json());
        }
    }

    /// <summary>Lifts the target's fence when it is a former primary (a failback), then provisions it at full size.</summary>
    private sealed class ProvisionFull(StackSpec target, Deferred<MigrationPorts> ports) : IStep
    {
        private readonly FailoverSteps.Provision _provision = new(target with { Mode = SiteMode.Full }, ports.Role(p => p.Provisioner));
        public StepKind Kind => StepKind.Provision;
        public string Describe(RunContext run) => $"bring {target.Name} up at full size (lifting its fence if it has one) while {run.Production} serves";

        public async Task<StepResult> ExecuteAsync(StepContext c, CancellationToken ct)
        {
            var journaled = await c.Once(EffectKey.Unfence(target.Name), async x =>
            {
                var lift = await (await ports.GetAsync(ct)).Fence.UnfenceAsync(target, x);
                return new JsonObject { ["lifted"] = lift.Lifted, ["note"] = lift.Note };
            }, ct);
            var result = await _provision.ExecuteAsync(c, ct);
            return result with { Notes = LiftNote(journaled) is { } note ? [note] : result.Notes };
        }

        /// <summary>The report's note when a fence was lifted; journals written before the typed record hold only the sentence.</summary>
        private static string? LiftNote(JsonNode? journaled) => journaled switch
        {
            JsonObject o => (bool?)o["lifted"] == true ? (string?)o["note"] : null,
            JsonValue v when v.TryGetValue<string>(out var sentence) => sentence,
            _ => null,
        };
    }

    /// <summary>Stops the source's writes; the moment is journaled as the start of the downtime customers see.</summary>
    private sealed class Freeze(StackSpec source, Deferred<MigrationPorts> ports) : IStep
    {
        public StepKind Kind => StepKind.Freeze;
        public string Describe(RunContext run) => $"freeze writes on {source.Name} (failover:migrate freeze commands, and read-only databases on the local provider)";

        public async Task<StepResult> ExecuteAsync(StepContext c, CancellationToken ct)
        {
            var freeze = (await ports.GetAsync(ct)).Freeze;
            var done = Frozen.From((await c.Once(EffectKey.Freeze(source.Name), async x =>
            {
                // The window starts before the first command: from then on a write may be refused.
                var at = c.Time.GetUtcNow();
                return new Frozen(at, await freeze.FreezeAsync(source, x)).Json();
            }, ct))!);
            return new StepResult($"{source.Name} frozen at {done.FrozenAt:u}: {done.Said}", new FreezeFacts(done.FrozenAt).Json());
        }
    }

    /// <summary>The final backup of the frozen source and its restore on the target, verified against its manifest: RPO zero.</summary>
    private sealed class FinalSync(Topology t, StackSpec source, StackSpec target, Deferred<MigrationPorts> ports) : IStep
    {
        public StepKind Kind => StepKind.FinalSync;
        public string Describe(RunContext run) => $"back {source.Name} up once more (frozen: nothing changes any more) and restore that backup on {target.Name}, replacing the first restore";

        public async Task<StepResult> ExecuteAsync(StepContext c, CancellationToken ct)
        {
            var backup = (await ports.GetAsync(ct)).SourceBackup;
            var frozenAt = StepFacts.Of(c.Facts, StepKind.Freeze, FreezeFacts.From)!.FrozenAt;
            var taken = (await c.Once(EffectKey.FinalBackup, async x =>
                StepFacts.Json(await backup.BackupAsync(source, frozenAt, x)), ct))!.AsObject();
            var final = StepFacts.Snapshots(taken);
            var missing = t.Tenants.Where(tenant => final.All(s => s.Tenant != tenant.Name)).Select(x => x.Name).ToList();
            if (missing.Count > 0) throw new StepFailedException($"the final backup holds no snapshot of {string.Join(", ", missing)}");
            // A cloud target restores in cloud-init from the snapshot ids in its config: give it the final ones (local: nothing changes).
            await c.Once(EffectKey.FinalProvision(target.Name), async x =>
            {
                await (await ports.GetAsync(ct)).Provisioner.ProvisionAsync(target with { Mode = SiteMode.Full }, final, x);
                return null;
            }, ct);
            var p = await ports.GetAsync(ct);
            var results = await FailoverSteps.RestoreAllAsync(c, t, target, p.Vault, p.Restorer, final, EffectKey.FinalRestore, ct);
            return new StepResult($"final backup of {t.Tenants.Count} tenants taken during the freeze, restored on {target.Name} and verified against its manifests: nothing committed is lost",
                new FinalSyncFacts(new ChosenSnapshots(final, new Dictionary<string, string>()), results, Verified: true).Json());
        }
    }

    /// <summary>Rewrites the stack files so that the target is production; the diff is shown before it is written, all files or none.</summary>
    private sealed class Roles(string stacksDirectory, StackSpec target, Action<string> say) : IStep
    {
        public StepKind Kind => StepKind.Roles;
        public string Describe(RunContext run) => $"rewrite the stack files in {stacksDirectory} so that {target.Name} is production and {run.Production} a fenced standby";

        public async Task<StepResult> ExecuteAsync(StepContext c, CancellationToken ct)
        {
            var written = (await c.Once(EffectKey.RolesWrite, _ =>
            {
                var edits = Migration.StackFileRoles.Edits(stacksDirectory, target.Name);
                if (edits.Count == 0) return Task.FromResult<JsonNode?>(new JsonArray());
                foreach (var e in edits) say(e.Diff());
                Migration.StackFileRoles.Write(edits, stacksDirectory, target.Name);
                return Task.FromResult<JsonNode?>(new JsonArray(edits.Select(e => (JsonNode)JsonValue.Create(Path.GetFileName(e.File))!).ToArray()));
            }, ct))!.AsArray();
            return new StepResult(written.Count == 0
                    ? $"the stack files already name {target.Name} production: nothing to rewrite"
                    : $"{target.Name} is production in the stack files now ({string.Join(", ", written.Select(f => (string)f!))} rewritten)",
                new JsonObject { ["files"] = written.DeepClone() });
        }
    }

    /// <summary>Waits for the operator's confirmation, then scales the fenced old site down and gives the records their old TTL back.</summary>
    private sealed class ScaleDown(StackSpec source, StackSpec target, Deferred<MigrationPorts> ports, MigrationChoices choices) : IStep
    {
        public StepKind Kind => StepKind.ScaleDown;
        public string Describe(RunContext run) => choices.Confirmed
            ? $"{(choices.DestroyOld ? "destroy" : "scale down")} the fenced {source.Name}; raise the TTL back"
            : $"keep {source.Name} fenced until `failover migrate --to {target.Name} --confirm`";

        public async Task<StepResult> ExecuteAsync(StepContext c, CancellationToken ct)
        {
            if (!choices.Confirmed)
                throw new StepPausedException($"{target.Name} serves; {source.Name} is fenced and kept as it is (a way back). When you are satisfied, run " +
                    $"`failover migrate --to {target.Name} --confirm` to scale it down (add --destroy-old to remove it for good).");
            var scaled = (string?)await c.Once(EffectKey.ScaleDown(source.Name), async x => JsonValue.Create(await (await ports.GetAsync(ct)).Retirement.ScaleDownAsync(source, choices.DestroyOld, x)), ct);
            var ttl = StepFacts.Of(c.Facts, StepKind.LowerTtl, LowerTtlFacts.From)!;
            var notes = new List<string>();
            if (ttl.Lowered)
                notes.Add((string?)await c.Once(EffectKey.TtlRestore, async x =>
                    JsonValue.Create(await (await ports.GetAsync(ct)).Dns.PointAtAsync(target, FailoverSteps.Address(c).Addresses, ttl.OldTtl, x)), ct) ?? "");
            return new StepResult(scaled ?? "scaled down", Notes: notes.Select(n => $"TTL raised back: {n}").ToList());
        }
    }

    private sealed class ThawStep(StackSpec source, Deferred<MigrationPorts> ports) : IStep
    {
        public StepKind Kind => StepKind.Thaw;
        public string Describe(RunContext run) => $"give {source.Name} its writes back (the migration stopped before the cutover)";

        public async Task<StepResult> ExecuteAsync(StepContext c, CancellationToken ct)
        {
            var freeze = (await ports.GetAsync(ct)).Freeze;
            var said = await c.Once(EffectKey.Thaw(source.Name), async x => JsonValue.Create(await freeze.ThawAsync(source, x)), ct);
            return new StepResult($"{source.Name} thawed: {(string?)said}");
        }
    }
}
