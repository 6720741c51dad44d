using Failover.Core.Topology;

namespace Failover.Core.Planning;

/// <summary>A point where the run stops and asks, or where the operator must act, and what to type then.</summary>
public sealed record Decision(string When, string What);

/// <summary>A step's estimate, what it rests on (an assumed default, the stack files), and the last rehearsal's measured time beside it.</summary>
public sealed record StepFigure(StepKind Step, TimeSpan Estimate, string Basis, TimeSpan? Measured);

/// <summary>The last passed rehearsal of a standby: which run, when, and how long each step took.</summary>
public sealed record RehearsalTimes(string RunId, DateTimeOffset At, IReadOnlyDictionary<StepKind, TimeSpan> Steps);

/// <summary>When a tenant's data is back (its restore ends) and when its customers are served again (after gate and cutover).</summary>
public sealed record TenantService(string Tenant, TimeSpan RestoredAt, TimeSpan ServedAt);

/// <summary>
/// What the person running the failover needs beside the estimates: the exact command, where the run stops and
/// asks, what T+0 means, when customers are served again, the credentials each step needs, and the branch when
/// the DNS provider's API is down.
/// </summary>
public sealed record OperatorGuide(
    string Command,
    string ScriptCommand,
    string TimeZero,
    IReadOnlyList<Decision> Stops,
    TimeSpan ServedAt,
    IReadOnlyList<TenantService> Tenants,
    IReadOnlyList<Credential> Credentials,
    IReadOnlyList<Decision> DnsApiDown)
{
    /// <summary>Each step's estimate with its basis and, when a rehearsal of this standby passed, its measured time.</summary>
    public IReadOnlyList<StepFigure> Figures { get; init; } = [];

    /// <summary>The rehearsal the measured times come from; null when none passed (every figure is then an estimate).</summary>
    public RehearsalTimes? Rehearsal { get; init; }

    /// <summary>Which vault the tenants restore from, and what happens when a backup there is unusable.</summary>
    public IReadOnlyList<Decision> Vaults { get; init; } = [];

    /// <summary>The delegation TTL of the .com, .net and .org parent zones (172800 s): how long resolvers may keep old NS records.</summary>
    public static readonly TimeSpan ParentNsTtl = TimeSpan.FromSeconds(172800);

    public static OperatorGuide For(Topology.Topology topology, Runbook runbook, RehearsalTimes? rehearsal = null)
    {
        var target = runbook.Target.Name;
        var command = $"failover run --to {target}";
        TimeSpan Through(StepKind kind) => runbook.Steps.TakeWhile(s => s.Kind != kind).Aggregate(TimeSpan.Zero, (a, s) => a + s.Estimate);
        var restoreStart = Through(StepKind.Restore);
        var served = Through(StepKind.Cutover) + (runbook.Steps.FirstOrDefault(s => s.Kind == StepKind.Cutover)?.Estimate ?? TimeSpan.Zero);
        var tenants = runbook.Restore.Items.Select(i => new TenantService(i.Tenant.Name, restoreStart + i.Finish, served)).ToList();

        var stops = new List<Decision>
        {
            new("at the start", $"the run asks you to type {target} before it changes anything; in scripts add --yes ({command} --yes)"),
            new($"at select-backup, when a tenant's newest verified backup is older than the RPO target ({Durations.Format(topology.Targets.Rpo)})",
                $"the run stops and changes nothing; run it again with --accept-data-loss to restore the older backup anyway (the report records the accepted loss)"),
            new("after ransomware, or any damage that may have reached the latest backups",
                $"start with --restore-point set to a time before the attack, or a snapshot id: {command} --restore-point 2026-11-21T02:00:00Z"),
            new("if the process dies, the terminal closes or you press Ctrl-C",
                "`failover resume` continues from the journal without repeating a finished step; a lock left by a dead process is removed with `failover unlock`"),
            new("if a step fails (exit 4)",
                "fix the cause it prints, then `failover resume`; a failed health gate stops before DNS is touched, so production's records still point at the old site"),
        };

        var dnsDown = new List<Decision>();
        if (topology.DnsStack is { Dns: { } dns } dnsStack)
        {
            var provider = dns.Provider switch { DnsProvider.Route53 => "Route 53", DnsProvider.HetznerDns => "Hetzner DNS", _ => "PowerDNS" };
            var records = string.Join(", ", dns.Records.Select(r => $"{r.Name} {r.Type}"));
            dnsDown.Add(new("symptom", $"the cutover step fails after the gate passed: {target} is restored and healthy, but customers still reach the old address"));
            dnsDown.Add(new("1. wait for the API", $"when {provider}'s API ({dnsStack.Name}) answers again, `failover resume` repeats only the cutover and verifies it"));
            dnsDown.Add(new("2. a secondary zone", $"if {dns.Zone} is also served by a second DNS provider (a secondary zone, its NS records at both), change {records} there to {target}'s addresses: resolvers see it within the TTL ({dns.TtlSeconds} s)"));
            dnsDown.Add(new("3. the registrar", $"otherwise create {dns.Zone} at another DNS provider with {records} pointing at {target}, and replace the NS records at the registrar: resolvers may keep the old delegation for the parent zone's NS TTL (for .com, .net and .org {Durations.Format(ParentNsTtl)}), so start this early when the outage looks long"));
        }
        else
            dnsDown.Add(new("no dns stack", $"the service records are changed by hand at the DNS provider; point them at {target}'s addresses after the gate passes"));

        var kinds = runbook.Steps.Select(s => s.Kind).ToList();
        return new OperatorGuide(command, $"{command} --yes --json > failover-result.json",
            $"T+0 is the moment `{command}` starts. Detecting the loss and deciding to fail over come before it and are not counted in the estimated RTO: add your monitoring's alert delay and the on-call response time.",
            stops, served, tenants, Planning.Credentials.For(topology, runbook.Target, kinds), dnsDown)
        {
            Figures = runbook.Steps.Select(s => new StepFigure(s.Kind, s.Estimate, Basis(topology, runbook.Target, s.Kind),
                rehearsal?.Steps.TryGetValue(s.Kind, out var m) == true ? m : null)).ToList(),
            Rehearsal = rehearsal,
            Vaults = VaultsOf(topology, runbook.Target),
        };
    }

    /// <summary>What a step's estimate rests on: an assumed default of the tool, or figures of the stack files.</summary>
    private static string Basis(Topology.Topology topology, StackSpec target, StepKind kind)
    {
        var configured = target.Restore is not null || topology.Production.Restore is not null;
        var speed = configured ? "the restore speed and parallelism of failover:restore" : "the assumed default restore speed and parallelism (no failover:restore set)";
        return kind switch
        {
            StepKind.SelectBackup => $"tenant sizes (dataGb) at {speed}",
            StepKind.Restore => $"tenant sizes (dataGb) and tiers at {speed}",
            StepKind.Provision => $"assumed default for {target.Site.Provider.ToString().ToLowerInvariant()}: server creation, boot and cloud-init install",
            StepKind.Cutover => topology.DnsStack?.Dns is { } d ? $"assumed default DNS apply and propagation, plus the zone's TTL ({d.TtlSeconds} s, stack files)" : "assumed default (no dns stack: changed by hand)",
            _ => "assumed default",
        };
    }

    private static IReadOnlyList<Decision> VaultsOf(Topology.Topology topology, StackSpec target)
    {
        if (Sites.RestoreSource.Problem(topology, target) is { } problem) return [new("no vault", problem.Message)];
        var vault = Sites.RestoreSource.VaultFor(topology, target);
        var others = topology.Backup.Vaults.Where(v => v != vault.Name).ToList();
        return
        [
            new("every tenant", $"restores from {vault.Name}{(target.RestoreFrom is null ? " (the first of failover:backup.vaults it can read)" : " (failover:restoreFrom)")}"),
            new("a damaged snapshot", "the previous snapshot of the same tenant that passes verification is used instead, within the RPO rule (--accept-data-loss beyond it)"),
            others.Count > 0
                ? new("the vault unusable", $"set failover:restoreFrom of {target.Name} to {string.Join(" or ", others)} (production backs up there too) and run again, or resume")
                : new("the vault unusable", $"there is no second vault: add one to failover:backup.vaults of {topology.Production.Name}; a tenant without any usable backup can be left out (`--without-tenant`) and restored later (`failover restore --tenant`)"),
        ];
    }
}
