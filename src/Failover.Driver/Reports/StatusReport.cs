using System.Text;
using Failover.Core.Policies;
using Failover.Core.Topology;
using Failover.Driver.Status;

namespace Failover.Driver.Reports;

/// <summary>The topology at a glance, its findings and any live facts, for `failover status`.</summary>
public static class StatusReport
{
    public static string Text(Topology t, IReadOnlyList<Finding> findings, IReadOnlyList<LiveFact> live, IReadOnlyList<string> liveChecks)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Topology: {t.Stacks.Count} stacks in {t.StacksDirectory}");
        sb.AppendLine($"  {"stack",-18} {"role",-10} {"mode",-7} {"provider",-8} {"location",-13} {"datacenter",-14} {"zone",-13} country");
        foreach (var s in t.Stacks.OrderBy(s => s.Role).ThenBy(s => s.Name, StringComparer.Ordinal))
            sb.AppendLine($"  {s.Name,-18} {Lower(s.Role),-10} {Mode(s),-7} {Lower(s.Site.Provider),-8} {s.Site.Location,-13} {s.Site.Datacenter ?? "-",-14} {s.Site.NetworkZone,-13} {s.Site.Country}");
        sb.AppendLine();
        sb.AppendLine($"  Tenants: {t.Tenants.Count} ({t.Tenants.Sum(x => x.DataGb):0.#} GB); targets RPO {Durations.Format(t.Targets.Rpo)}, RTO {Durations.Format(t.Targets.Rto)}; " +
                      $"backups every {Durations.Format(t.Backup.Interval)} to {string.Join(", ", t.Backup.Vaults)}");
        if (t.DnsStack?.Dns is { } dns)
            sb.AppendLine($"  DNS: {dns.Zone} on {dns.Provider} ({t.DnsStack.Name}), TTL {dns.TtlSeconds} s, pointing at {dns.ActiveStack}");
        sb.AppendLine($"  State backend: {t.StateBackendUrl ?? "(not declared)"}");
        if (t.Stacks.Any(s => s.SecretKeys.Count > 0))
            sb.AppendLine($"  Secrets (never printed): {string.Join(", ", t.Stacks.SelectMany(s => s.SecretKeys.Select(k => $"{s.Name}/{k}")))}");
        sb.AppendLine();
        sb.AppendLine(liveChecks.Count == 0
            ? "Live checks: none configured."
            : $"Live checks ({string.Join(", ", liveChecks)}):");
        foreach (var f in live) sb.AppendLine($"  {FindingsView.Label(f.Severity),-7} {f.Stack}: {f.Check}: {f.Message}");
        sb.AppendLine();
        FindingsView.WriteText(sb, findings);
        return sb.ToString();
    }

    public static string JsonText(Topology t, IReadOnlyList<Finding> findings, IReadOnlyList<LiveFact> live)
    {
        return Json.Document("status", new
        {
            stacksDirectory = t.StacksDirectory,
            production = t.Production.Name,
            stateBackend = t.StateBackendUrl,
            targets = new { rpoSeconds = (int)t.Targets.Rpo.TotalSeconds, rtoSeconds = (int)t.Targets.Rto.TotalSeconds },
            stacks = t.Stacks.Select(s => new
            {
                name = s.Name, role = s.Role, mode = s.Role is Role.Production or Role.Standby or Role.Rehearsal ? s.Mode : (SiteMode?)null,
                provider = s.Site.Provider, location = s.Site.Location, datacenter = s.Site.Datacenter,
                networkZone = s.Site.NetworkZone, country = s.Site.Country, failureDomain = s.Domain.ToString(),
                secretKeys = s.SecretKeys,
            }),
            tenants = t.Tenants.Select(x => new { name = x.Name, tier = x.Tier, dataGb = x.DataGb }),
            live = live.Select(f => new { stack = f.Stack, check = f.Check, severity = f.Severity, message = f.Message, blind = f.IsBlind }),
            findings = findings.Select(FindingsView.ToJson),
            hasErrors = findings.Any(f => f.Severity == Severity.Error) || live.Any(f => f.Severity == Severity.Error && !f.IsBlind),
            blind = live.Any(f => f.IsBlind),
        });
    }

    private static string Lower<T>(T value) where T : struct, Enum => value.ToString().ToLowerInvariant();
    private static string Mode(StackSpec s) => s.Role is Role.Production or Role.Standby or Role.Rehearsal ? Lower(s.Mode) : "-";
}
