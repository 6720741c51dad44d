using Failover.Core.FailureDomains;
using Failover.Core.Policies;
using Failover.Core.Sites;
using Failover.Core.Topology;

namespace Failover.Core.Planning;

/// <summary>Builds the runbook for recovering the production site on a standby, with its estimates.</summary>
public static class Planner
{
    /// <summary>The full plan: steps, restore order, RTO/RPO estimates and every policy finding.</summary>
    /// <param name="options">The time limits the run will apply (default <see cref="RuntimeOptions.Default"/>): a step estimated
    /// longer than its limit is a finding, since the run would give up on it.</param>
    public static Runbook Plan(Topology.Topology topology, StackSpec target, RuntimeOptions? options = null)
    {
        var (steps, schedule, rto, rpo, dns) = Estimate(topology, target);
        var findings = PolicyBook.Evaluate(topology, target).ToList();
        findings.AddRange(LimitFindings(target, schedule, dns, options ?? RuntimeOptions.Default, steps.First(s => s.Kind == StepKind.Provision).Estimate));
        var userData = Sites.SiteUserData.Planned(topology, target);
        findings.AddRange(userData.Where(u => !u.Fits).Select(u => new Finding("user-data-limit", Severity.Error, [target.Name],
            $"{u.Server}: its user data would be {u.Bytes:N0} bytes, over the {u.Limit.Provider} limit of {u.Limit.Bytes:N0} ({u.Limit.Counted})",
            $"The provider refuses the server, so the failover would stop at provision. Source: {u.Limit.Source}.",
            "Restore fewer tenants per standby (split them over two standbys), or use fewer distinct tenant hooks")));
        if (target.Site.Provider is Provider.Aws or Provider.Hetzner && topology.Backup.Vaults.Count > 0 && userData.Count > 0
            && userData.All(u => u.Fits) && !userData.Any(u => ServerUserData.Decode(u.Base64Gzip).Contains("path: " + Backup.BackupPlan.VaultCredentialsDirectory + "/", StringComparison.Ordinal)))
            findings.Add(new Finding("backup-agent-does-not-fit", Severity.Warning, [target.Name],
                $"{target.Name}: its data server's user data has no room for the backup agent beside the restore of {topology.Tenants.Count} tenants, " +
                "not even for what lets the signed start request bring it (the control key, the vaults' write credentials, the daemon's actions) " +
                "with the restore point's records sent by request",
                "After a failover to it nothing backs the new production up until an agent is installed there, and the fence cannot stop its data server: " +
                "the next disaster would find only the backups taken before this one.",
                "Make the user data smaller (fewer SSH keys; a standby's size does not grow with its tenants once the records go by request), split the tenants over two standbys, " +
                "or install the agent by hand after the cutover (docs/backup-and-restore.md, the backup agent)"));
        return new Runbook(topology.Production, target, steps, schedule, rto, rpo, dns, findings) { UserData = userData };
    }

    /// <summary>
    /// Steps the plan estimates longer than the time limit the run waits for them (<see cref="RuntimeOptions"/>): a cloud
    /// site's provisioning through `pulumi up`, its restore in cloud-init, read from its health document, and the DNS answer
    /// on every authoritative server.
    /// </summary>
    private static IEnumerable<Finding> LimitFindings(StackSpec target, RestoreSchedule schedule, DnsCutover dns, RuntimeOptions options, TimeSpan provision)
    {
        if (target.Site.Provider is not Provider.Local && provision > options.PulumiUp)
            yield return new Finding("wait-shorter-than-estimate", Severity.Warning, [target.Name],
                $"{target.Name}: the provision step is estimated at {Durations.Format(provision)}, but the run lets `pulumi up` run at most {Durations.Format(options.PulumiUp)} (runtime option pulumiUp)",
                "The provision step would kill `pulumi up` while the provider is still creating the site, and the stack would need `pulumi cancel` before the run resumes.",
                $"Raise {RuntimeOptions.KeyOf("pulumiUp")} in the production stack file, or keep the standby warmer (failover:mode mvd) so that provisioning does less (docs/configuration.md#time-limits)");
        if (target.Site.Provider is not Provider.Local && schedule.Makespan > options.CloudRestore.Timeout)
            yield return new Finding("wait-shorter-than-estimate", Severity.Warning, [target.Name],
                $"{target.Name}: the restore is estimated at {Durations.Format(schedule.Makespan)}, but the run waits at most {Durations.Format(options.CloudRestore.Timeout)} for it (runtime option cloudRestore)",
                "The restore step would fail while cloud-init is still restoring; `failover resume` waits again, but the RTO grows by the operator's reaction time.",
                $"Restore faster (more parallelism, a faster vault link: failover:restore), split the tenants over two standbys, or raise {RuntimeOptions.KeyOf("cloudRestore")}.timeout in the production stack file (docs/configuration.md#time-limits)");
        if (dns.Propagation > options.DnsVisible.Timeout)
            yield return new Finding("wait-shorter-than-estimate", Severity.Warning, [target.Name],
                $"{dns.DnsStack}: every authoritative server is expected to answer within {Durations.Format(dns.Propagation)}, but the cutover waits at most {Durations.Format(options.DnsVisible.Timeout)} (runtime option dnsVisible)",
                "The cutover would fail though the records were changed, and the report would show no verified cutover.",
                $"Use a DNS provider whose changes reach its servers sooner, or raise {RuntimeOptions.KeyOf("dnsVisible")}.timeout in the production stack file (docs/configuration.md#time-limits)");
    }

    /// <summary>The estimates alone (no findings), also used by the policies that judge them.</summary>
    public static (IReadOnlyList<RunbookStep> Steps, RestoreSchedule Schedule, Estimate Rto, Estimate Rpo, DnsCutover Dns)
        Estimate(Topology.Topology topology, StackSpec target)
    {
        var prod = topology.Production;
        var settings = topology.RestoreOn(target);
        var schedule = RestoreSchedule.Plan(topology.Tenants, settings);
        var totalGb = topology.Tenants.Sum(t => t.DataGb);
        var vaults = string.Join(", ", topology.Backup.Vaults);
        var dns = DnsCutoverFor(topology, target);
        var timings = ProviderTimings.For(target.Site.Provider);

        var sample = totalGb * Timings.VerifySampleShare;
        var verify = TimeSpan.FromSeconds(30 + sample * 1024 / settings.StreamMBps);
        var mvdServers = string.Join(", ", target.Servers.Where(g => g.Mvd.Count > 0).Select(g => $"{g.Name} {g.Mvd.Count}x {g.Mvd.Type}"));
        var (provision, provisionDetail) = target.Mode switch
        {
            SiteMode.Cold or SiteMode.Fenced => (timings.ServerCreate + timings.Bootstrap + timings.ConfigApply,
                $"pulumi up on {target.Name}: mode {target.Mode.ToString().ToLowerInvariant()} -> mvd, " +
                (target.Mode == SiteMode.Fenced ? $"its kept servers replaced with the restore point (delete protection lifted first): {mvdServers}" : $"creating {mvdServers}") +
                "; cloud-init installs PostgreSQL and restic " +
                $"(~{Durations.Format(timings.ServerCreate)} to boot, ~{Durations.Format(timings.Bootstrap)} to install)"),
            _ => (timings.ConfigApply,
                $"pulumi up on {target.Name}: already running in mode {target.Mode.ToString().ToLowerInvariant()}; only the snapshot ids change"),
        };

        var steps = new List<RunbookStep>();
        void Add(StepKind kind, string title, TimeSpan est, string detail) => steps.Add(new(steps.Count + 1, kind, title, est, detail));
        Add(StepKind.Assess, "Assess the loss", Timings.Assess,
            $"Confirm {prod.Name} ({prod.Domain}) is down and read the latest snapshot of each of {topology.Tenants.Count} tenants from {vaults}.");
        Add(StepKind.SelectBackup, "Select verified backups", verify,
            $"restic check --read-data-subset {Timings.VerifySubset} (~{sample:0.#} GB of {totalGb:0.#} GB) at {settings.StreamMBps:0.#} MB/s; " +
            "a snapshot that fails falls back to the previous good one.");
        Add(StepKind.Provision, "Provision the minimal viable deployment", provision, provisionDetail);
        var source = " " + Backup.VaultOrder.For(topology, target).Describe();
        Add(StepKind.Restore, "Restore tenants", schedule.Makespan,
            $"{topology.Tenants.Count} tenants{source}, tier first then smallest first, {settings.Parallelism} at a time at {settings.StreamMBps:0.#} MB/s per stream " +
            $"plus {Durations.Format(settings.TenantOverhead)} each; each is verified against its backup manifest.");
        Add(StepKind.Gate, "Health gate", Timings.Gate,
            $"HTTP, TCP and PostgreSQL probes on {target.Name} must pass; if not, the run stops before DNS is touched.");
        Add(StepKind.Fence, "Fence the old primary", Timings.Fence,
            $"Set {prod.Name} to mode fenced (applied if {prod.Site.Provider} answers) and remove its records, so a returning datacenter takes no writes.");
        var cutover = Timings.DnsApply + dns.Propagation + TimeSpan.FromSeconds(dns.TtlSeconds);
        Add(StepKind.Cutover, "DNS cutover", cutover, dns.DnsStack is null
            ? $"No dns stack: change the records by hand; resolvers keep the old answer for up to the TTL ({dns.TtlSeconds} s)."
            : $"Point the records of {dns.DnsStack} at {target.Name}: apply ~{Durations.Format(Timings.DnsApply)}, all authoritative servers answer within ~{Durations.Format(dns.Propagation)}, " +
              $"resolver caches expire within the TTL ({dns.TtlSeconds} s).");
        Add(StepKind.Report, "Write the incident report", Timings.Report, "Timeline with each step's window, snapshot ids, RTO and RPO achieved.");

        var rtoValue = steps.Where(s => s.Kind != StepKind.Report).Aggregate(TimeSpan.Zero, (a, s) => a + s.Estimate);
        var rto = new Estimate(rtoValue, topology.Targets.Rto,
            "Sum of the steps up to a DNS answer every client sees: " +
            string.Join(" + ", steps.Where(s => s.Kind != StepKind.Report).Select(s => $"{s.Kind} {Durations.Format(s.Estimate)}")) + ".");

        var link = topology.ProductionLink;
        var backupRun = BackupRun(topology);
        var rpo = new Estimate(topology.Backup.Interval + backupRun, topology.Targets.Rpo,
            $"Worst case: the site is lost just before a backup completes, so the newest complete snapshot started one schedule interval " +
            $"({Durations.Format(topology.Backup.Interval)}) plus one backup run earlier; a run dumps all {totalGb:0.#} GB " +
            $"(pg_dump reads every tenant each time) over {prod.Name}'s link at {link.StreamMBps:0.#} MB/s: {Durations.Format(backupRun)}.");
        return (steps, schedule, rto, rpo, dns);
    }

    /// <summary>
    /// How long one backup run of every tenant takes: pg_dump reads each database whole every time, over
    /// production's link to its vault (not a standby's), so the figure does not depend on the plan's target.
    /// </summary>
    public static TimeSpan BackupRun(Topology.Topology topology) =>
        TimeSpan.FromSeconds(topology.Tenants.Sum(t => t.DataGb) * 1024 / topology.ProductionLink.StreamMBps);

    /// <summary>
    /// A recovery in another datacenter always moves the service address: Hetzner primary IPs belong to one
    /// datacenter and floating IPs cannot leave their network zone; addresses never move between providers.
    /// </summary>
    public static DnsCutover DnsCutoverFor(Topology.Topology topology, StackSpec target)
    {
        var prod = topology.Production;
        var dnsStack = topology.DnsStack;
        var ttl = dnsStack?.Dns?.TtlSeconds ?? 300;
        var propagation = dnsStack?.Dns is { } d ? Timings.DnsPropagation(d.Provider) : TimeSpan.Zero;
        var shared = prod.Domain.SharedWith(target.Domain);
        var reason = shared switch
        {
            SharedLevel.Datacenter => "the target is in the production datacenter: addresses could move, but it burns with production",
            SharedLevel.None => $"addresses cannot move from {prod.Site.Provider} to {target.Site.Provider}: the service records must change",
            _ when prod.Site.Provider == Provider.Hetzner =>
                $"Hetzner primary IPs belong to one datacenter and floating IPs cannot leave their network zone ({prod.Site.NetworkZone}); " +
                $"the addresses of {prod.Name} are lost with {prod.Site.Location}: the service records must change",
            _ => $"the addresses of {prod.Name} are lost with {prod.Site.Location}: the service records must change",
        };
        return new DnsCutover(shared != SharedLevel.Datacenter, reason, dnsStack?.Name, ttl, propagation);
    }
}
