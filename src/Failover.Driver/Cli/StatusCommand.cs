using System.CommandLine;
using Failover.Core.Policies;
using Failover.Driver.Composition;
using Failover.Driver.Pulumi;
using Failover.Driver.Reports;
using Failover.Driver.Runbooks;
using Failover.Driver.Status;

namespace Failover.Driver.Cli;

/// <summary>`failover status`: the topology at a glance, its findings and the live checks.</summary>
internal static class StatusCommand
{
    public static Command Build(App app)
    {
        var json = App.JsonOption("Print the status as JSON (for monitoring; exit code 1 means alarm)");
        var command = new Command("status",
            "Show the topology at a glance (stacks, roles, providers, locations, failure domains) and the policy findings.\n" +
            "Live checks: each tenant's latest backup against the RPO target (read from the vault as a failover reads it:\n" +
            "a directory vault directly, a cloud vault through its stack outputs with `pulumi`), the last successful\n" +
            "rehearsal against failover:policy.rehearsalCadence, whether each production and standby site answers, and\n" +
            "what the authoritative DNS servers (failover:dns.servers) answer against the serving site's addresses.\n" +
            "Exits 1 when an error-level finding exists or a live check alarms (a stale backup or rehearsal, the serving\n" +
            "site down, DNS pointing elsewhere or not answering, the last rehearsal failed), so a monitoring system can\n" +
            "alert on it; exits 8 when nothing alarmed but a check could not look (pulumi missing or failing, a vault or\n" +
            "a site that cannot be read): a watcher that cannot see is never green.\n\n" +
            "Examples:\n" +
            "  failover status\n" +
            "  failover status --json | jq '.findings[] | select(.severity == \"error\")'\n" +
            "  failover status --stacks examples/local")
        {
            json,
        };
        command.SetAction((parse, ct) => app.ExecuteAsync(parse, async (topology, log) =>
        {
            var findings = PolicyBook.Evaluate(topology);
            var store = RunCommands.Store(app, parse, topology);
            var project = RunCommands.ProjectDirectory(topology);
            var pulumi = new Lazy<IPulumi>(() => RunPortsFactory.Pulumi(project, app.Variable, app.PulumiEnvironment, app.Secrets, log, app.Time, app.Options));
            var (servingSite, why) = ServingSite.OrProduction(topology, store, log, await ServingSite.DeployedActiveStackAsync(topology, () => pulumi.Value, log, ct));
            // Built by the composition, with this command's time limits, like a run's adapters.
            var checks = StatusChecks.For(project, store, pulumi, app.Secrets, app.Time, log, app.Options, servingSite.Name, why);
            var live = new List<LiveFact>();
            foreach (var check in checks)
                live.AddRange(await check.CheckAsync(topology, ct));
            log.Information("Status of {StackCount} stacks: {Summary}", topology.Stacks.Count, FindingsView.Summary(findings));
            if (parse.GetValue(json)) app.Document(StatusReport.JsonText(topology, findings, live));
            else app.Print(StatusReport.Text(topology, findings, live, checks.Select(c => c.Name).ToList()));
            var alarm = findings.Any(f => f.Severity == Severity.Error) || live.Any(f => f.Severity == Severity.Error && !f.IsBlind);
            return alarm ? ExitCodes.Findings : live.Any(f => f.IsBlind) ? ExitCodes.Blind : ExitCodes.Ok;
        }));
        return command;
    }
}
