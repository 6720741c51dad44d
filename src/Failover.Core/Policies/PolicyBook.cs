using Failover.Core.FailureDomains;
using Failover.Core.Planning;
using Failover.Core.Topology;

namespace Failover.Core.Policies;

/// <summary>
/// Every failure-domain and recovery rule, as data: id, severity, explanation and fix. The evaluation
/// below fires them; docs/policies.md lists them for people.
/// </summary>
public static class PolicyBook
{
    public static readonly Policy VaultColocated = new("vault-colocated", Severity.Error,
        "Backup vault in the production location",
        "A vault in the same location or datacenter as production is lost with it: in the OVH Strasbourg fire a production " +
        "server and its main backup server burned in the same building. An external backup must sit outside production's failure domain.",
        "Move the vault to another provider or at least another location (e.g. AWS eu-west-3 for production in Hetzner fsn1).");

    public static readonly Policy VaultSameProvider = new("vault-same-provider", Severity.Warning,
        "Backup vault at the production provider",
        "A vault at the production provider shares its account, control plane and billing: a locked account, a provider-wide " +
        "outage or a compromised API token can reach production and backups together.",
        "Keep at least one vault at another provider, with credentials production does not hold.");

    public static readonly Policy StandbyColocated = new("standby-colocated", Severity.Error,
        "Standby in the production failure domain",
        "A standby in the same location or datacenter as production is lost by the same fire, flood or power failure; it can " +
        "only serve planned maintenance, not disaster recovery.",
        "Place the standby in another location (e.g. hel1 or nbg1 for production in fsn1) or at another provider.");

    public static readonly Policy StandbySameProvider = new("standby-same-provider", Severity.Warning,
        "Every standby at the production provider",
        "With every standby at the production provider, a provider-wide outage, an account suspension or a payment problem " +
        "leaves nowhere to fail over to.",
        "Add a cold standby at another provider: it costs almost nothing until it is used.");

    public static readonly Policy NoStandby = new("no-standby", Severity.Error,
        "No standby stack",
        "Without a standby stack there is nowhere declared to recover to, and nothing to rehearse.",
        "Add a stack with failover:role: standby in another location (mode cold costs almost nothing).");

    public static readonly Policy DnsColocated = new("dns-colocated", Severity.Error,
        "DNS served from the production location",
        "If the zone is served from the production location, the records cannot be changed when that location is lost, and " +
        "the recovered site stays unreachable.",
        "Host the zone at a DNS service outside the production location (Route 53, Hetzner DNS in another location, or a secondary).");

    public static readonly Policy DnsOnProductionProvider = new("dns-on-production-provider", Severity.Warning,
        "DNS hosted by the production provider",
        "In the OVH fire the provider's DNS service was overloaded for hours, so recovery waited on DNS. A zone hosted by the " +
        "production provider fails, or slows, with it.",
        "Host the zone at another provider (e.g. Route 53 for production on Hetzner).");

    public static readonly Policy NoDnsStack = new("no-dns-stack", Severity.Warning,
        "No DNS stack",
        "Without a dns stack the driver cannot move the service records: the cutover becomes a manual step at 3 a.m.",
        "Add a stack with failover:role: dns and failover:dns naming the zone, records, TTL and active stack.");

    public static readonly Policy DnsActiveNotProduction = new("dns-active-not-production", Severity.Warning,
        "DNS points away from production",
        "The dns stack's active site is not the production stack: either a failover happened and the roles were not " +
        "updated, or the records point at a standby by mistake. Plans and rehearsals assume the wrong primary.",
        "Set failover:dns.active to the production stack, or make the active stack production (failover migrate updates both).");

    public static readonly Policy OutsideJurisdiction = new("outside-jurisdiction", Severity.Error,
        "Stack outside the allowed jurisdictions",
        "Customer data may only be stored and processed where the team's contracts and the law allow (e.g. inside the EEA). " +
        "A standby or vault elsewhere would move the data there on the worst day, without anyone deciding it.",
        "Move the stack to a location inside the allowed jurisdictions, or widen failover:policy.jurisdictions if that is allowed.");

    public static readonly Policy VaultNotImmutable = new("vault-not-immutable", Severity.Error,
        "Backup vault not immutable",
        "Ransomware that reaches production deletes or encrypts the backups it can reach. Without object lock the backups " +
        "are only as safe as every credential that can write to them.",
        "Enable object lock (failover:vault.objectLock: compliance with lockFor at least the retention) on an S3 vault.");

    public static readonly Policy ProductionCanDelete = new("production-can-delete-backups", Severity.Error,
        "Production credentials can delete backups",
        "Backups that production's credentials can delete are lost together with production when an attacker takes it over: " +
        "a retirement home lost its only server and its archive to ransomware this way.",
        "Give production a write-only credential (failover:vault.productionAccess: append-only): it can add backups but not delete them or shorten retention.");

    public static readonly Policy StorageBoxOnly = new("storagebox-only-vault", Severity.Error,
        "A Storage Box is the only vault",
        "A Hetzner Storage Box is one host in one location, reachable with credentials production holds and without object " +
        "lock: a useful second copy, not an external backup by itself.",
        "Add an immutable vault at another provider (e.g. S3 with object lock) and keep the Storage Box as a second copy.");

    public static readonly Policy TtlExceedsRto = new("dns-ttl-exceeds-rto", Severity.Error,
        "DNS TTL longer than the RTO target",
        "Resolvers keep the old answer for up to the TTL after the records change: a TTL longer than the RTO target alone " +
        "makes the target unreachable for every client whose resolver cached the dead address.",
        "Lower failover:dns.ttl to 60 s (Route 53 and Hetzner DNS both accept it).");

    public static readonly Policy TtlAbove60 = new("dns-ttl-above-60s", Severity.Warning,
        "DNS TTL above 60 s",
        "A recovery in another datacenter always needs a DNS cutover: Hetzner primary IPs belong to one datacenter and " +
        "floating IPs cannot leave their network zone. Every second of TTL is added to the outage after the cutover.",
        "Set failover:dns.ttl to 60 (Route 53 propagates a change to all its servers within about 60 s).");

    public static readonly Policy ScheduleExceedsRpo = new("backup-schedule-exceeds-rpo", Severity.Error,
        "Backups less frequent than the RPO target",
        "The data written since the last backup is lost with the site. Backups every N hours cannot meet an RPO below N hours.",
        "Shorten failover:backup.schedule below the RPO target (leave room for the backup run itself).");

    public static readonly Policy RpoEstimateExceeds = new("rpo-estimate-exceeds-target", Severity.Warning,
        "Worst-case data loss beyond the RPO target",
        "The schedule alone meets the target, but a backup run takes time too: a site lost just before a run completes loses " +
        "one interval plus one run of data.",
        "Back up more often, or speed up the backup (parallel dumps, incremental file backups).");

    public static readonly Policy BackupRunExceedsInterval = new("backup-run-exceeds-interval", Severity.Error,
        "A backup run cannot finish within its interval",
        "One run dumps every tenant (pg_dump reads each database whole) over production's link to the vault. A run longer than " +
        "failover:backup.schedule never lets the next one start on time: the agent refuses to stack runs, so backups really " +
        "happen less often than the schedule says and the RPO promise is broken without anything failing.",
        "Lengthen failover:backup.schedule beyond one run, speed up the link (failover:restore.streamMBps on production is its measured speed), or split the fleet.");

    /// <summary>
    /// How long back a clean restore point must still exist. Ransomware is found days after the intrusion: Mandiant's
    /// M-Trends 2024 puts the global median dwell time at 10 days (2023), and M-Trends 2021 found 78% of ransomware
    /// cases under 30 days. Backups younger than the intrusion may hold the attacker's tools or encrypted files.
    /// </summary>
    public static readonly TimeSpan RetentionFloor = TimeSpan.FromDays(30);

    public static readonly Policy RetentionBelowFloor = new("retention-below-ransomware-floor", Severity.Warning,
        "Backups kept too briefly to pick a clean point after ransomware",
        $"After ransomware the newest backups may already hold the attacker's changes: the team restores from before the intrusion " +
        $"(failover run --restore-point). Intrusions are found days to weeks later (median dwell time 10 days, M-Trends 2024; most " +
        $"ransomware cases within 30 days, M-Trends 2021), so retention below {RetentionFloor.TotalDays:0} days can leave no clean point (seed 004).",
        $"Keep backups at least {RetentionFloor.TotalDays:0}d (failover:backup.retention), with the vault's object lock at least as long.");

    public static readonly Policy BackupAgentNotConfigured = new("backup-agent-not-configured", Severity.Warning,
        "The backup agent cannot push into every vault",
        "Production's data server runs the backup agent (a systemd timer from its cloud-init) that pushes every tenant into every " +
        "vault with that vault's write-only credentials. A cloud production without a data server runs no agent at all, and the agent " +
        "is given S3 credentials only: a Storage Box is reached over sftp with an SSH key the agent does not have, so that vault " +
        "receives no backups and every heartbeat names it failed.",
        "Give production a server group with a volume (the data server), and list S3 vaults in failover:backup.vaults (copy into a Storage Box from the S3 vault instead).");

    public static readonly Policy NoStandbyFits = new("no-standby-fits-tenants", Severity.Error,
        "No standby can hold every tenant",
        $"At MVD size a standby needs storage for every tenant's data with headroom ({Timings.StorageHeadroom}x: database, indexes, " +
        "restic cache). A standby that is too small fails halfway through the restore, when it is too late to resize calmly.",
        "Raise the standby's MVD size or volumeGb in failover:servers.");

    public static readonly Policy RestoreExceedsRto = new("restore-exceeds-rto", Severity.Error,
        "Estimated recovery time beyond the RTO target",
        "The runbook's estimated RTO (provisioning, restore of every tenant, health gate, fence and DNS cutover) is longer " +
        "than the target, so the target is a promise the setup cannot keep.",
        "Restore more tenants in parallel (failover:restore.parallelism), keep the standby warm (mode mvd), shrink the TTL, or agree a longer RTO.");

    public static readonly Policy StateBackendInProduction = new("state-backend-in-production-domain", Severity.Error,
        "Pulumi state in the production failure domain",
        "A failover that cannot read its own state cannot run: pulumi up on the standby needs the state backend, and a backend " +
        "in the production location burns with it.",
        "Keep the state in another provider or location (e.g. backend url s3://bucket?region=eu-north-1 for production on Hetzner).");

    public static readonly Policy StateBackendSameProvider = new("state-backend-same-provider", Severity.Warning,
        "Pulumi state at the production provider",
        "State at the production provider is reachable only while that provider account is: a suspended account blocks the failover.",
        "Keep the state at another provider than production.");

    public static readonly Policy StateBackendUndeclared = new("state-backend-undeclared", Severity.Warning,
        "Pulumi state backend not declared",
        "Without backend.url in Pulumi.yaml (or failover:stateBackend) the state lives wherever the operator last ran `pulumi login`; " +
        "nobody can check that it is outside the production failure domain, and another operator may not find it.",
        "Set backend.url in Pulumi.yaml, e.g. s3://acme-pulumi-state?region=eu-north-1.");

    public static readonly Policy StateBackendOnOperatorMachine = new("state-backend-local-file", Severity.Warning,
        "Pulumi state on one operator's disk",
        "A file:// backend exists on one machine: when that laptop is away, nobody else can run the failover.",
        "Use a shared backend outside the production failure domain (S3 in another region, or Pulumi Cloud).");

    public static readonly Policy RunStateOnOneMachine = new("run-state-on-one-machine", Severity.Warning,
        "Run lock, journals and rehearsal history on one machine",
        "The run state lives beside the Pulumi state only for an s3:// backend. With any other backend the lock, every run's journal, " +
        "the reports and the rehearsal history stay in .failover/ on the machine that ran the command: if that laptop is lost with " +
        "the datacenter, or a second operator starts at 3 a.m. from another machine, nobody sees the run, nothing refuses a second " +
        "one, and nobody can resume it.",
        "Use an s3:// state backend (Pulumi.yaml backend.url, or failover:stateBackend), outside the production failure domain: the " +
        "run state then lives in the same bucket under PREFIX/.failover/PROJECT/, written with conditional writes (docs/failover.md).");

    public static readonly Policy CrossDatacenterCutover = new("cross-datacenter-needs-dns", Severity.Info,
        "The recovery needs a DNS cutover",
        "Hetzner primary IPs belong to one datacenter and floating IPs cannot leave their network zone; addresses never move " +
        "between providers. Recovering in another datacenter therefore always changes the service addresses in DNS.",
        "Keep the TTL at 60 s and the zone outside production's provider.");

    public static readonly Policy DnsActiveServesNothing = new("dns-active-serves-nothing", Severity.Error,
        "DNS points at a stack that serves nothing",
        "A dns stack whose active stack is cold, fenced or not a site has no address to publish: `pulumi up` would register " +
        "empty records and a health check without an address, which Route 53 refuses with an API error, and the service is unreachable.",
        "Point failover:dns.active at the serving stack, or bring that stack up (failover:mode mvd or full) first.");

    public static readonly Policy StandbyTypeNotOrderable = new("standby-type-not-orderable", Severity.Error,
        "Standby server type that cannot be ordered",
        "A standby's servers are ordered during the failover. A type the provider no longer sells (Hetzner cx22-cx52 and " +
        "cpx11-cpx51 since January 2026) or does not sell in that location (cx and cax only in the EU) fails the first `pulumi up`.",
        "Use an orderable type of the same size or larger in failover:servers (the finding names some).");

    public static readonly Policy ProductionTypeDeprecated = new("production-type-deprecated", Severity.Warning,
        "Production on a server type that is no longer sold",
        "Running servers of a deprecated type keep running, but none can be added or rebuilt, and a failback to this stack " +
        "orders new servers.",
        "Plan a move to an orderable type (the finding names some); a failover to a standby is one way.");

    public static readonly Policy StandbyTypeSoldOut = new("standby-type-sold-out", Severity.Warning,
        "Standby server type the provider lists as not available",
        "A standby's servers are ordered during the failover. Hetzner's plan pages listed every Cost-Optimized type " +
        "(cx23-cx53, cax11-cax41) as not available in September 2026: a failover that orders one may find none to order, " +
        "and a datacenter fire sends every other customer of the lost site to the same types at the same hour.",
        "Use a Regular Performance or General Purpose type (cpx, ccx) of the same size or larger in failover:servers (the finding names some), " +
        "or check the type is orderable in the standby's location at every rehearsal.");

    public static readonly Policy StorageBoxAppendOnlyUnenforced = new("storagebox-append-only-unenforced", Severity.Warning,
        "A Storage Box marked append-only",
        "productionAccess: append-only is enforced on an S3 vault by the writer's IAM policy and object lock. A Storage Box " +
        "has one login that can delete every file over SFTP: nothing enforces append-only there, only the box's snapshots " +
        "(which that login cannot delete) limit the loss.",
        "Keep an S3 vault with object lock beside it, and mark the Storage Box productionAccess: read-write (accepted) so the risk is visible.");

    public static readonly Policy RestoreVaultUnusable = new("restore-vault-unusable", Severity.Error,
        "A cloud standby has no vault it can restore from",
        "A cloud standby's cloud-init restores from an S3 vault (failover:restoreFrom, else production's first S3 vault); " +
        "with none, the failover stops at provision.",
        "Add an S3 vault to failover:backup.vaults, or set failover:restoreFrom on the standby to one.");

    /// <summary>Every policy, for docs and for validating accept-lists.</summary>
    public static readonly IReadOnlyList<Policy> All =
    [
        VaultColocated, VaultSameProvider, StandbyColocated, StandbySameProvider, NoStandby, DnsColocated,
        DnsOnProductionProvider, NoDnsStack, DnsActiveNotProduction, OutsideJurisdiction, VaultNotImmutable,
        ProductionCanDelete, StorageBoxOnly, TtlExceedsRto, TtlAbove60, ScheduleExceedsRpo, RpoEstimateExceeds,
        BackupRunExceedsInterval, RetentionBelowFloor, BackupAgentNotConfigured,
        NoStandbyFits, RestoreExceedsRto, StateBackendInProduction, StateBackendSameProvider, StateBackendUndeclared,
        StateBackendOnOperatorMachine, RunStateOnOneMachine, CrossDatacenterCutover, DnsActiveServesNothing, StandbyTypeNotOrderable,
        StandbyTypeSoldOut, ProductionTypeDeprecated, StorageBoxAppendOnlyUnenforced, RestoreVaultUnusable,
    ];

    /// <summary>
    /// Fires every policy on a topology. With a target, standby checks judge that target; without one they
    /// judge whether any standby would do.
    /// </summary>
    public static IReadOnlyList<Finding> Evaluate(Topology.Topology topology, StackSpec? target = null)
    {
        var findings = new List<Finding>();
        findings.AddRange(Placement(topology));
        findings.AddRange(Vaults(topology));
        findings.AddRange(Dns(topology));
        findings.AddRange(Jurisdictions(topology));
        findings.AddRange(Schedules(topology));
        findings.AddRange(StateBackend(topology));
        findings.AddRange(Recovery(topology, target));
        findings.AddRange(ServerTypes(topology, target));
        findings.AddRange(RestoreVaults(topology, target));
        return Accept(findings, topology.Policy)
            .OrderByDescending(f => f.Severity).ThenBy(f => f.PolicyId, StringComparer.Ordinal).ToList();
    }

    private static IEnumerable<Finding> Accept(IEnumerable<Finding> findings, PolicySettings settings)
    {
        foreach (var f in findings)
        {
            var accepted = settings.Accepted.FirstOrDefault(a => a.PolicyId == f.PolicyId);
            yield return accepted is null ? f : f with { Severity = Severity.Info, AcceptedBecause = accepted.Reason };
        }
    }

    private static string Where(StackSpec s) => $"{s.Name} ({s.Domain})";

    private static IEnumerable<Finding> Placement(Topology.Topology t)
    {
        var prod = t.Production;
        var standbys = t.Standbys.ToList();
        if (standbys.Count == 0) yield return NoStandby.Fire($"{prod.Name} has no standby to recover on", prod.Name);
        foreach (var s in standbys)
            if (prod.Domain.SharedWith(s.Domain) >= SharedLevel.Location)
                yield return StandbyColocated.Fire($"standby {Where(s)} is in the same {Level(prod.Domain.SharedWith(s.Domain))} as production {Where(prod)}", s.Name, prod.Name);
        if (standbys.Count > 0 && standbys.All(s => s.Site.Provider == prod.Site.Provider))
            yield return StandbySameProvider.Fire($"every standby ({string.Join(", ", standbys.Select(s => s.Name))}) is at {prod.Site.Provider}, like production",
                [.. standbys.Select(s => s.Name), prod.Name]);
    }

    private static string Level(SharedLevel level) => level switch
    {
        SharedLevel.Datacenter => "datacenter",
        SharedLevel.Location => "location",
        SharedLevel.NetworkZone => "network zone",
        _ => "provider",
    };

    private static IEnumerable<Finding> Vaults(Topology.Topology t)
    {
        var prod = t.Production;
        var vaults = t.Backup.Vaults.Select(t.Find).OfType<StackSpec>().ToList();
        // The loader guarantees at least one vault reference, and that each names a vault stack.
        foreach (var v in vaults)
        {
            var shared = prod.Domain.SharedWith(v.Domain);
            if (shared >= SharedLevel.Location)
                yield return VaultColocated.Fire($"vault {Where(v)} is in the same {Level(shared)} as production {Where(prod)}", v.Name, prod.Name);
            else if (shared >= SharedLevel.Provider)
                yield return VaultSameProvider.Fire($"vault {Where(v)} is at {prod.Site.Provider}, like production {Where(prod)}", v.Name, prod.Name);
            var spec = v.Vault!;
            if (spec.Kind != VaultKind.StorageBox && spec.Immutability == ImmutabilityMode.None)
                yield return VaultNotImmutable.Fire($"vault {v.Name} has no object lock", v.Name);
            else if (spec.Immutability != ImmutabilityMode.None && spec.ImmutableFor < t.Backup.Retention)
                yield return VaultNotImmutable.FireWithFix(
                    $"vault {v.Name} locks backups for {Durations.Format(spec.ImmutableFor)}, less than the {Durations.Format(t.Backup.Retention)} retention",
                    "Set failover:vault.lockFor to at least failover:backup.retention.", v.Name);
            if (spec.ProductionAccess == ProductionAccess.ReadWrite)
                yield return ProductionCanDelete.Fire($"production's credentials on vault {v.Name} are read-write", v.Name, prod.Name);
            else if (spec.Kind == VaultKind.StorageBox)
                yield return StorageBoxAppendOnlyUnenforced.Fire(
                    $"vault {v.Name} is a Storage Box marked productionAccess: append-only, which nothing enforces: its login can delete every backup", v.Name, prod.Name);
        }
        if (vaults.All(v => v.Vault!.Kind == VaultKind.StorageBox))
            yield return StorageBoxOnly.Fire($"the only vault{(vaults.Count > 1 ? "s are Storage Boxes" : " is a Storage Box")}: {string.Join(", ", vaults.Select(v => v.Name))}",
                [.. vaults.Select(v => v.Name)]);
    }

    private static IEnumerable<Finding> Dns(Topology.Topology t)
    {
        var prod = t.Production;
        var dnsStack = t.DnsStack;
        if (dnsStack is null) { yield return NoDnsStack.Fire("no stack has failover:role: dns", prod.Name); yield break; }
        var dns = dnsStack.Dns!;
        var host = dns.Provider switch
        {
            DnsProvider.Route53 => Provider.Aws,
            DnsProvider.HetznerDns => Provider.Hetzner,
            _ => dnsStack.Site.Provider,
        };
        var shared = prod.Domain.SharedWith(dnsStack.Domain);
        if (dns.Provider == DnsProvider.PowerDns && shared >= SharedLevel.Location)
            yield return DnsColocated.Fire($"zone {dns.Zone} is served by {Where(dnsStack)}, in the production {Level(shared)}", dnsStack.Name, prod.Name);
        else if (host == prod.Site.Provider)
            yield return DnsOnProductionProvider.Fire($"zone {dns.Zone} is hosted by {dns.Provider} at {host}, production's provider", dnsStack.Name, prod.Name);
        if (t.Find(dns.ActiveStack) is { } active && Sites.DnsPlan.NoServiceAddress(active) is { } why)
            yield return DnsActiveServesNothing.Fire($"{dnsStack.Name}: {why}", dnsStack.Name, active.Name);
        if (dns.ActiveStack != prod.Name)
            yield return DnsActiveNotProduction.Fire($"{dnsStack.Name} points at {dns.ActiveStack}, but the production stack is {prod.Name}", dnsStack.Name, prod.Name);
        if (TimeSpan.FromSeconds(dns.TtlSeconds) > t.Targets.Rto)
            yield return TtlExceedsRto.Fire($"TTL {dns.TtlSeconds} s is longer than the RTO target {Durations.Format(t.Targets.Rto)}", dnsStack.Name);
        else if (dns.TtlSeconds > 60)
            yield return TtlAbove60.Fire($"TTL {dns.TtlSeconds} s adds up to {Durations.Format(TimeSpan.FromSeconds(dns.TtlSeconds))} to every cutover", dnsStack.Name);
    }

    private static IEnumerable<Finding> Jurisdictions(Topology.Topology t)
    {
        var allowed = t.Policy.Jurisdictions;
        if (allowed.Count == 0) yield break;
        // DNS stacks hold no customer data (and Route 53 is global), so only data-holding stacks are judged.
        foreach (var s in t.Stacks.Where(s => s.Role != Role.Dns))
            if (!allowed.Any(j => Catalog.IsWithin(s.Site.Country, j)))
                yield return OutsideJurisdiction.Fire($"{Where(s)} is in {s.Site.Country}, outside {string.Join(", ", allowed)}", s.Name);
    }

    private static IEnumerable<Finding> Schedules(Topology.Topology t)
    {
        if (t.Backup.Interval > t.Targets.Rpo)
            yield return ScheduleExceedsRpo.Fire(
                $"backups every {Durations.Format(t.Backup.Interval)} cannot meet the RPO target {Durations.Format(t.Targets.Rpo)}", t.Production.Name);
        var run = Planner.BackupRun(t);
        if (run > t.Backup.Interval)
            yield return BackupRunExceedsInterval.Fire(
                $"one backup run of {t.Tenants.Sum(x => x.DataGb):0.#} GB at {t.ProductionLink.StreamMBps:0.#} MB/s takes about {Durations.Format(run)}, " +
                $"longer than the {Durations.Format(t.Backup.Interval)} schedule", t.Production.Name);
        if (t.Production.Site.Provider is Provider.Aws or Provider.Hetzner)
        {
            if (t.Production.Mode != SiteMode.Cold && Sites.SitePlan.For(t.Production).DataServer is null)
                yield return BackupAgentNotConfigured.Fire($"production {t.Production.Name} has no data server, so nothing runs the backup agent", t.Production.Name);
            foreach (var box in t.Backup.Vaults.Select(t.Find).OfType<StackSpec>().Where(v => v.Vault?.Kind == VaultKind.StorageBox))
                yield return BackupAgentNotConfigured.Fire($"the backup agent cannot write vault {box.Name} (a Storage Box, reached over sftp with a key the agent is not given)", t.Production.Name, box.Name);
        }
        if (t.Backup.Retention < RetentionFloor)
            yield return RetentionBelowFloor.Fire(
                $"backups are kept {Durations.Format(t.Backup.Retention)}, less than the {Durations.Format(RetentionFloor)} floor for finding a clean point after ransomware",
                t.Production.Name);
    }

    private static IEnumerable<Finding> StateBackend(Topology.Topology t)
    {
        var prod = t.Production;
        // A local topology runs on one machine anyway; a cloud one must be recoverable from any operator's.
        if (prod.Site.Provider != Provider.Local && !SharedRunState(t.StateBackendUrl))
            yield return RunStateOnOneMachine.Fire(
                $"the state backend {t.StateBackendUrl ?? "(none declared)"} is not S3, so the run state stays in .failover/ on the machine that runs `failover`", prod.Name);
        if (t.StateBackendUrl is not { } url)
        {
            yield return StateBackendUndeclared.Fire("neither Pulumi.yaml backend.url nor failover:stateBackend is set", prod.Name);
            yield break;
        }
        var where = StateBackendLocation.Of(url);
        if (where.Domain is not { } domain) yield break;
        if (domain.Provider == Provider.Local && prod.Site.Provider != Provider.Local)
        {
            yield return StateBackendOnOperatorMachine.Fire($"state backend {url} is {where.Description}", prod.Name);
            yield break;
        }
        var shared = prod.Domain.SharedWith(domain);
        if (shared >= SharedLevel.Location)
            yield return StateBackendInProduction.Fire($"state backend {url} is {where.Description}, in the production {Level(shared)} {prod.Site.Location}", prod.Name);
        else if (shared >= SharedLevel.Provider && prod.Site.Provider != Provider.Local)
            yield return StateBackendSameProvider.Fire($"state backend {url} is {where.Description}, at production's provider", prod.Name);
    }

    private static bool SharedRunState(string? url)
    {
        try { return RunStateLocation.FromBackend(url, "project") is not null; }
        catch (FormatException) { return false; }
    }

    /// <summary>The largest tenant and the RTO the plan would reach if it were the only tenant: the floor no parallelism lowers.</summary>
    private static (Tenant Tenant, TimeSpan Floor)? LargestTenantAlone(Topology.Topology t, StackSpec target,
        (IReadOnlyList<RunbookStep> Steps, RestoreSchedule Schedule, Estimate Rto, Estimate Rpo, DnsCutover Dns) plan)
    {
        if (t.Tenants.Count == 0) return null;
        var largest = t.Tenants.MaxBy(x => x.DataGb)!;
        var restore = plan.Steps.Where(s => s.Kind == StepKind.Restore).Aggregate(TimeSpan.Zero, (a, s) => a + s.Estimate);
        var alone = RestoreSchedule.EstimateFor(largest, t.RestoreOn(target));
        return (largest, plan.Rto.Value - restore + alone);
    }

    private static IEnumerable<Finding> Recovery(Topology.Topology t, StackSpec? target)
    {
        var prod = t.Production;
        var needGb = t.Tenants.Sum(x => x.DataGb) * Timings.StorageHeadroom;
        var candidates = target is null ? t.Standbys.ToList() : [target];
        if (candidates.Count == 0) yield break;

        bool Fits(StackSpec s) => s.StorageGbIn(SiteMode.Mvd) >= needGb;
        var fitting = candidates.Where(Fits).ToList();
        if (fitting.Count == 0)
            yield return NoStandbyFits.Fire(target is null
                    ? $"tenants need {needGb:0.#} GB at MVD size; the largest standby has {candidates.Max(s => s.StorageGbIn(SiteMode.Mvd)):0.#} GB"
                    : $"tenants need {needGb:0.#} GB at MVD size; {target.Name} has {target.StorageGbIn(SiteMode.Mvd):0.#} GB",
                [.. candidates.Select(s => s.Name)]);

        var estimates = candidates.Select(s => (Stack: s, Plan: Planner.Estimate(t, s))).ToList();
        if (estimates.All(e => !e.Plan.Rto.WithinTarget))
        {
            var best = estimates.MinBy(e => e.Plan.Rto.Value);
            var message = $"estimated RTO on {best.Stack.Name} is {Durations.Format(best.Plan.Rto.Value)}, over the {Durations.Format(t.Targets.Rto)} target" +
                          (target is null && candidates.Count > 1 ? " (the fastest standby)" : "");
            // More parallelism cannot help when one tenant alone, restored first on an idle site, already misses the target.
            var alone = LargestTenantAlone(t, best.Stack, best.Plan);
            yield return alone is var (tenant, floor) && floor > t.Targets.Rto
                ? RestoreExceedsRto.FireWithFix(
                    $"{message}; {tenant.Name} ({tenant.DataGb:0.#} GB) alone takes {Durations.Format(floor)} with every other step, so no parallelism can meet it",
                    $"Parallelism cannot help: speed up {tenant.Name}'s own restore (a faster link, failover:restore.streamMBps measured on a bigger standby, " +
                    "a smaller database), keep a warm standby that replicates it (mode mvd or full), or agree a longer RTO.",
                    [.. candidates.Select(s => s.Name)])
                : RestoreExceedsRto.Fire(message, [.. candidates.Select(s => s.Name)]);
        }
        var rpo = estimates[0].Plan.Rpo;
        if (!rpo.WithinTarget && t.Backup.Interval <= t.Targets.Rpo)
            yield return RpoEstimateExceeds.Fire($"worst-case data loss {Durations.Format(rpo.Value)} exceeds the RPO target {Durations.Format(t.Targets.Rpo)}", prod.Name);

        if (target is not null && Planner.DnsCutoverFor(t, target) is { Required: true } cut)
            yield return CrossDatacenterCutover.Fire($"recovering on {target.Name} changes the service addresses: {cut.Reason}", target.Name, prod.Name);
    }

    /// <summary>Every server type a site will order (a standby's, in every mode a failover or migration gives it) or runs (production's).</summary>
    private static IEnumerable<Finding> ServerTypes(Topology.Topology t, StackSpec? target)
    {
        var sites = t.Stacks.Where(s => s.Role is Role.Production or Role.Standby && s.Site.Provider != Provider.Local)
            .Where(s => target is null || s == target || s.Role == Role.Production);
        foreach (var s in sites)
            foreach (var g in s.Servers)
                foreach (var (size, capacity, mode) in new[] { (g.Full, g.FullCapacity, "full"), (g.Mvd, g.MvdCapacity, "mvd") }.DistinctBy(x => x.Item1.Type))
                {
                    if (size.Count == 0) continue;
                    if (Catalog.IsOrderable(s.Site.Provider, size.Type, s.Site.Location))
                    {
                        if (s.Role == Role.Standby && Catalog.IsSoldOut(s.Site.Provider, size.Type))
                        {
                            var others = string.Join(", ", Catalog.OrderableAlternatives(s.Site.Provider, s.Site.Location, capacity).Take(3));
                            yield return StandbyTypeSoldOut.FireWithFix(
                                $"{s.Name} group {g.Name} ({mode}): {size.Type} was listed as not available when the catalogue was last checked",
                                $"Use {others} for group {g.Name} ({mode}) in {s.File}, or confirm {size.Type} is orderable in {s.Site.Location} today.", s.Name);
                        }
                        continue;
                    }
                    var why = Catalog.DeprecatedServerTypes.Contains(size.Type) && s.Site.Provider == Provider.Hetzner
                        ? "is deprecated and cannot be ordered since January 2026"
                        : $"is not sold in {s.Site.Location} (cx and cax types only in fsn1, nbg1 and hel1)";
                    var instead = string.Join(", ", Catalog.OrderableAlternatives(s.Site.Provider, s.Site.Location, capacity).Take(3));
                    var fix = instead.Length == 0 ? null : $"Use {instead} for group {g.Name} ({mode}) in {s.File}.";
                    var policy = s.Role == Role.Production ? ProductionTypeDeprecated : StandbyTypeNotOrderable;
                    var message = $"{s.Name} group {g.Name} ({mode}): {size.Type} {why}";
                    yield return fix is null ? policy.Fire(message, s.Name) : policy.FireWithFix(message, fix, s.Name);
                }
    }

    /// <summary>The vault each cloud standby would restore from: the plan fails where the run would (Sites/RestoreSource).</summary>
    private static IEnumerable<Finding> RestoreVaults(Topology.Topology t, StackSpec? target)
    {
        var standbys = (target is null ? t.Standbys : [target]).Where(s => s.Site.Provider != Provider.Local);
        foreach (var s in standbys)
            if (Sites.RestoreSource.Problem(t, s) is { } problem)
                yield return RestoreVaultUnusable.FireWithFix($"{s.Name}: {problem.Message}", problem.Fix, s.Name);
    }
}
