using System.Globalization;
using System.Text;
using Failover.Core.Planning;
using Failover.Core.Topology;

namespace Failover.Driver.Reports;

/// <summary>The plan of `failover plan`, as text for a terminal, Markdown for a wiki or PR, and JSON for tools.</summary>
public static class RunbookReport
{
    private static string D(TimeSpan t) => Durations.Format(t);
    private static string Gb(double gb) => gb.ToString(gb < 10 ? "0.##" : "0.#", CultureInfo.InvariantCulture) + " GB";
    private static string Verdict(Estimate e) => e.WithinTarget ? "within target" : "OVER TARGET";

    public static string Text(Runbook r, OperatorGuide? guide = null)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Failover plan: lose {r.Production.Name} ({r.Production.Domain}), recover on {r.Target.Name} ({r.Target.Domain})");
        sb.AppendLine();
        sb.AppendLine($"  Estimated RTO  {D(r.Rto.Value),-9} target {D(r.Rto.Target),-6} {Verdict(r.Rto)}");
        sb.AppendLine($"  Estimated RPO  {D(r.Rpo.Value),-9} target {D(r.Rpo.Target),-6} {Verdict(r.Rpo)}");
        sb.AppendLine();
        if (guide is not null) WriteCommand(sb, guide);
        sb.AppendLine("Runbook");
        var elapsed = TimeSpan.Zero;
        foreach (var s in r.Steps)
        {
            sb.AppendLine($"  {s.Order}. {s.Title,-40} {D(s.Estimate),9}   (at T+{D(elapsed)})");
            sb.AppendLine($"     {s.Detail}");
            elapsed += s.Estimate;
        }
        sb.AppendLine();
        var st = r.Restore.Settings;
        sb.AppendLine($"Tenant restore order: tier first, then smallest first; {st.Parallelism} in parallel at {st.StreamMBps:0.#} MB/s per stream");
        sb.AppendLine($"  {"#",3}  {"tenant",-18} {"tier",4} {"data",10} {"starts",9} {"back after",11}");
        foreach (var i in r.Restore.Items)
            sb.AppendLine($"  {i.Order,3}  {i.Tenant.Name,-18} {i.Tenant.Tier,4} {Gb(i.Tenant.DataGb),10} {D(i.Start),9} {D(i.Finish),11}");
        sb.AppendLine($"  Mean time-to-restore {D(r.Restore.MeanTimeToRestore)}; every tenant back after {D(r.Restore.Makespan)} of restore.");
        sb.AppendLine();
        if (r.UserData.Count > 0)
        {
            sb.AppendLine($"User data at the mode a failover gives {r.Target.Name} (gzipped cloud-config, {r.UserData[0].Limit.Counted})");
            foreach (var u in r.UserData)
                sb.AppendLine($"  {ShortName(r, u.Server),-10} user data {u.Figure}{(u.Fits ? "" : "  OVER THE LIMIT")}");
            sb.AppendLine();
        }
        sb.AppendLine($"DNS cutover: {(r.Dns.Required ? "required" : "not required")}: {r.Dns.Reason}.");
        sb.AppendLine(r.Dns.DnsStack is null
            ? $"  No dns stack: the records must be changed by hand (assumed TTL {r.Dns.TtlSeconds} s)."
            : $"  Through {r.Dns.DnsStack}: TTL {r.Dns.TtlSeconds} s, propagation ~{D(r.Dns.Propagation)}.");
        sb.AppendLine();
        sb.AppendLine("How the estimates were made");
        sb.AppendLine($"  RTO: {r.Rto.Explanation}");
        sb.AppendLine($"  RPO: {r.Rpo.Explanation}");
        sb.AppendLine($"  Tenant times: {D(st.TenantOverhead)} overhead + data / {st.StreamMBps:0.#} MB/s; tune failover:restore with figures from a drill.");
        sb.AppendLine();
        if (guide is not null) WriteGuide(sb, guide);
        FindingsView.WriteText(sb, r.Findings);
        return sb.ToString();
    }

    public static string Markdown(Runbook r, OperatorGuide? guide = null)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# Failover plan: {r.Production.Name} → {r.Target.Name}").AppendLine();
        sb.AppendLine($"Losing **{r.Production.Name}** (`{r.Production.Domain}`), recovering on **{r.Target.Name}** (`{r.Target.Domain}`).").AppendLine();
        sb.AppendLine("| | estimate | target | |").AppendLine("|---|---|---|---|");
        sb.AppendLine($"| RTO | {D(r.Rto.Value)} | {D(r.Rto.Target)} | {Verdict(r.Rto)} |");
        sb.AppendLine($"| RPO | {D(r.Rpo.Value)} | {D(r.Rpo.Target)} | {Verdict(r.Rpo)} |").AppendLine();
        sb.AppendLine("## Runbook").AppendLine().AppendLine("| # | step | estimate | what happens |").AppendLine("|---|---|---|---|");
        foreach (var s in r.Steps) sb.AppendLine($"| {s.Order} | {s.Title} | {D(s.Estimate)} | {s.Detail.Replace("|", "\\|")} |");
        sb.AppendLine();
        var st = r.Restore.Settings;
        sb.AppendLine("## Tenant restore order").AppendLine();
        sb.AppendLine($"Tier first, then smallest first; {st.Parallelism} in parallel at {st.StreamMBps:0.#} MB/s per stream. " +
                      $"Mean time-to-restore {D(r.Restore.MeanTimeToRestore)}, all back after {D(r.Restore.Makespan)}.").AppendLine();
        sb.AppendLine("| # | tenant | tier | data | starts | back after |").AppendLine("|---|---|---|---|---|---|");
        foreach (var i in r.Restore.Items) sb.AppendLine($"| {i.Order} | {i.Tenant.Name} | {i.Tenant.Tier} | {Gb(i.Tenant.DataGb)} | {D(i.Start)} | {D(i.Finish)} |");
        sb.AppendLine();
        if (r.UserData.Count > 0)
        {
            sb.AppendLine("## User data").AppendLine().AppendLine("| server | user data | limit |").AppendLine("|---|---|---|");
            foreach (var u in r.UserData) sb.AppendLine($"| {u.Server} | {u.Bytes:N0} bytes | {u.Limit.Bytes:N0} ({u.Limit.Counted}){(u.Fits ? "" : " **over**")} |");
            sb.AppendLine();
        }
        sb.AppendLine("## DNS cutover").AppendLine().AppendLine($"{(r.Dns.Required ? "Required" : "Not required")}: {r.Dns.Reason}. TTL {r.Dns.TtlSeconds} s.").AppendLine();
        sb.AppendLine("## How the estimates were made").AppendLine();
        sb.AppendLine($"- RTO: {r.Rto.Explanation}").AppendLine($"- RPO: {r.Rpo.Explanation}").AppendLine();
        if (guide is not null) WriteGuideMarkdown(sb, guide);
        FindingsView.WriteMarkdown(sb, r.Findings);
        return sb.ToString();
    }

    public static string JsonText(Runbook r, OperatorGuide? guide = null)
    {
        var st = r.Restore.Settings;
        return Json.Document("plan", new
        {
            production = new { stack = r.Production.Name, failureDomain = r.Production.Domain.ToString() },
            target = new { stack = r.Target.Name, failureDomain = r.Target.Domain.ToString(), mode = r.Target.Mode },
            rto = EstimateJson(r.Rto),
            rpo = EstimateJson(r.Rpo),
            steps = r.Steps.Select(s => new { order = s.Order, step = s.Kind, title = s.Title, estimateSeconds = (int)s.Estimate.TotalSeconds, detail = s.Detail }),
            restore = new
            {
                order = "priority tier first (1 before 2), then smallest data first, then name",
                why = "smallest-first within a tier brings the most customers back soonest; tiers put the most important customers first regardless of size",
                parallelism = st.Parallelism,
                streamMBps = st.StreamMBps,
                tenantOverheadSeconds = (int)st.TenantOverhead.TotalSeconds,
                estimateFormula = "tenant overhead + dataGb * 1024 / streamMBps seconds",
                meanTimeToRestoreSeconds = (int)r.Restore.MeanTimeToRestore.TotalSeconds,
                makespanSeconds = (int)r.Restore.Makespan.TotalSeconds,
                tenants = r.Restore.Items.Select(i => new
                {
                    order = i.Order, name = i.Tenant.Name, tier = i.Tenant.Tier, dataGb = i.Tenant.DataGb, worker = i.Worker,
                    startSeconds = (int)i.Start.TotalSeconds, finishSeconds = (int)i.Finish.TotalSeconds,
                    estimateSeconds = (int)i.Duration.TotalSeconds,
                }),
            },
            dnsCutover = new { required = r.Dns.Required, reason = r.Dns.Reason, dnsStack = r.Dns.DnsStack, ttlSeconds = r.Dns.TtlSeconds, propagationSeconds = (int)r.Dns.Propagation.TotalSeconds },
            guide = guide is null ? null : GuideJson(guide),
            servers = r.UserData.Select(u => new { name = u.Server, userDataBytes = u.Bytes, userDataLimitBytes = u.Limit.Bytes, fits = u.Fits }),
            findings = r.Findings.Select(FindingsView.ToJson),
            hasErrors = r.HasErrors,
        });
    }

    private static void WriteCommand(StringBuilder sb, OperatorGuide g)
    {
        sb.AppendLine("What to run");
        sb.AppendLine($"  {g.Command}");
        sb.AppendLine($"  in a script: {g.ScriptCommand}");
        sb.AppendLine($"  {g.TimeZero}");
        sb.AppendLine($"  Customers are served again at T+{D(g.ServedAt)}: after the health gate and the DNS cutover, not when their restore ends.");
        sb.AppendLine();
        sb.AppendLine("Where the run stops and asks");
        foreach (var s in g.Stops) sb.AppendLine($"  - {s.When}: {s.What}");
        sb.AppendLine();
    }

    private static string MeasuredTitle(OperatorGuide g) => g.Rehearsal is { } r
        ? $"Estimates and what they rest on, beside rehearsal {r.RunId} of {r.At.UtcDateTime:yyyy-MM-dd} (measured)"
        : "Estimates and what they rest on (no rehearsal of this standby has passed: nothing measured yet; `failover rehearse --site STANDBY`)";

    private static string Measured(StepFigure f) => f.Measured is { } m ? D(m) : "-";

    private static void WriteGuide(StringBuilder sb, OperatorGuide g)
    {
        sb.AppendLine(MeasuredTitle(g));
        sb.AppendLine($"  {"step",-14} {"estimate",9} {"measured",9}  basis");
        foreach (var f in g.Figures) sb.AppendLine($"  {Engine.StepContext.Name(f.Step),-14} {D(f.Estimate),9} {Measured(f),9}  {f.Basis}");
        sb.AppendLine();
        sb.AppendLine("Where the tenants restore from");
        foreach (var v in g.Vaults) sb.AppendLine($"  {v.When}: {v.What}");
        sb.AppendLine();
        sb.AppendLine("When each tenant is back");
        sb.AppendLine($"  {"tenant",-18} {"data restored",14} {"served again",13}");
        foreach (var t in g.Tenants) sb.AppendLine($"  {t.Tenant,-18} {"T+" + D(t.RestoredAt),14} {"T+" + D(t.ServedAt),13}");
        sb.AppendLine();
        sb.AppendLine("Credentials each step needs (checked before the first step where the driver reads them itself)");
        foreach (var c in g.Credentials)
            sb.AppendLine($"  - {c.Name} ({string.Join(", ", c.Steps.Select(Engine.StepContext.Name))}): {c.Source}");
        sb.AppendLine();
        sb.AppendLine("If the DNS provider's API is down");
        foreach (var d in g.DnsApiDown) sb.AppendLine($"  {d.When}: {d.What}");
        sb.AppendLine();
    }

    private static void WriteGuideMarkdown(StringBuilder sb, OperatorGuide g)
    {
        sb.AppendLine("## What to run").AppendLine();
        sb.AppendLine($"```sh\n{g.Command}\n{g.ScriptCommand}   # in a script\n```").AppendLine();
        sb.AppendLine(g.TimeZero).AppendLine();
        sb.AppendLine($"Customers are served again at **T+{D(g.ServedAt)}**: after the health gate and the DNS cutover, not when their restore ends.").AppendLine();
        sb.AppendLine("## Where the run stops and asks").AppendLine();
        foreach (var s in g.Stops) sb.AppendLine($"- **{s.When}**: {s.What}");
        sb.AppendLine();
        sb.AppendLine($"## {MeasuredTitle(g)}").AppendLine().AppendLine("| step | estimate | measured | basis |").AppendLine("|---|---|---|---|");
        foreach (var f in g.Figures) sb.AppendLine($"| {Engine.StepContext.Name(f.Step)} | {D(f.Estimate)} | {Measured(f)} | {f.Basis} |");
        sb.AppendLine().AppendLine("## Where the tenants restore from").AppendLine();
        foreach (var v in g.Vaults) sb.AppendLine($"- **{v.When}**: {v.What}");
        sb.AppendLine();
        sb.AppendLine("## When each tenant is back").AppendLine().AppendLine("| tenant | data restored | served again |").AppendLine("|---|---|---|");
        foreach (var t in g.Tenants) sb.AppendLine($"| {t.Tenant} | T+{D(t.RestoredAt)} | T+{D(t.ServedAt)} |");
        sb.AppendLine();
        sb.AppendLine("## Credentials each step needs").AppendLine();
        foreach (var c in g.Credentials) sb.AppendLine($"- **{c.Name}** ({string.Join(", ", c.Steps.Select(Engine.StepContext.Name))}): {c.Source}");
        sb.AppendLine();
        sb.AppendLine("## If the DNS provider's API is down").AppendLine();
        foreach (var d in g.DnsApiDown) sb.AppendLine($"- **{d.When}**: {d.What}");
        sb.AppendLine();
    }

    private static object GuideJson(OperatorGuide g) => new
    {
        command = g.Command,
        scriptCommand = g.ScriptCommand,
        timeZero = g.TimeZero,
        servedAtSeconds = (int)g.ServedAt.TotalSeconds,
        stops = g.Stops.Select(s => new { when = s.When, what = s.What }),
        tenants = g.Tenants.Select(t => new { tenant = t.Tenant, restoredAtSeconds = (int)t.RestoredAt.TotalSeconds, servedAtSeconds = (int)t.ServedAt.TotalSeconds }),
        credentials = g.Credentials.Select(c => new { name = c.Name, steps = c.Steps.Select(Engine.StepContext.Name), source = c.Source, variable = c.Variable, checkedBeforeRun = c.CheckedByDriver }),
        dnsApiDown = g.DnsApiDown.Select(d => new { when = d.When, what = d.What }),
        rehearsal = g.Rehearsal is { } r ? new { runId = r.RunId, at = r.At } : null,
        figures = g.Figures.Select(f => new
        {
            step = Engine.StepContext.Name(f.Step), estimateSeconds = (int)f.Estimate.TotalSeconds, basis = f.Basis, measuredSeconds = f.Measured?.TotalSeconds,
        }),
        vaults = g.Vaults.Select(v => new { when = v.When, what = v.What }),
    };

    /// <summary>A server's name without its stack's prefix: <c>db-1</c>.</summary>
    private static string ShortName(Runbook r, string server) =>
        server.StartsWith(r.Target.Name + "-", StringComparison.Ordinal) ? server[(r.Target.Name.Length + 1)..] : server;

    private static object EstimateJson(Estimate e) => new
    {
        estimateSeconds = (int)e.Value.TotalSeconds,
        estimate = D(e.Value),
        targetSeconds = (int)e.Target.TotalSeconds,
        target = D(e.Target),
        withinTarget = e.WithinTarget,
        explanation = e.Explanation,
    };
}
