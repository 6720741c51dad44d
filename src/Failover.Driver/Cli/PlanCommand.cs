using System.CommandLine;
using Failover.Core.Planning;
using Failover.Core.Topology;
using Failover.Driver.Reports;

namespace Failover.Driver.Cli;

/// <summary>`failover plan --to STACK`: the runbook for losing production and recovering on a standby.</summary>
internal static class PlanCommand
{
    public static Command Build(App app)
    {
        var to = new Option<string>("--to") { HelpName = "STACK", Description = "The standby stack to recover on", Required = true };
        var json = App.JsonOption("Print the plan as JSON (for tools and CI)");
        var markdown = new Option<bool>("--markdown") { Description = "Print the plan as Markdown (for a wiki page or a pull request)" };
        var command = new Command("plan",
            "Show the runbook for losing the production site and recovering on a standby: ordered steps with estimated\n" +
            "durations, the tenant restore order, estimated RTO and RPO against the targets, and the policy findings.\n" +
            "Reads the stack files only; changes nothing. Exits 1 when an error-level finding exists, so it can gate a PR.\n\n" +
            "Examples:\n" +
            "  failover plan --to standby-hel1\n" +
            "  failover plan --to standby-aws-fra --markdown > docs/runbook-aws.md\n" +
            "  failover plan --stacks examples/local --to local-standby --json")
        {
            to, json, markdown,
        };
        command.SetAction(parse => app.Execute(parse, (topology, log) =>
        {
            if (parse.GetValue(json) && parse.GetValue(markdown))
                throw new UsageException("--json and --markdown cannot be combined; pick one");
            var name = parse.GetValue(to)!;
            var target = topology.Find(name) ?? throw new UsageException(
                $"unknown stack '{name}'{NameSuggestion.DidYouMean(name, topology.Stacks.Select(s => s.Name))}; standbys: {string.Join(", ", topology.Standbys.Select(s => s.Name).DefaultIfEmpty("(none)"))} " +
                $"(files in {topology.StacksDirectory})");
            if (target.Role is not (Role.Standby or Role.Rehearsal))
                throw new UsageException(
                    $"'{name}' is a {target.Role.ToString().ToLowerInvariant()} stack; --to takes a standby: " +
                    string.Join(", ", topology.Standbys.Select(s => s.Name).DefaultIfEmpty("(none)")));

            var runbook = Planner.Plan(topology, target, app.Options);
            log.Information("Planned recovery of {Stack} on {Target}: RTO {Rto} (target {RtoTarget}), RPO {Rpo} (target {RpoTarget}), {ErrorCount} error finding(s)",
                runbook.Production.Name, target.Name, Durations.Format(runbook.Rto.Value), Durations.Format(runbook.Rto.Target),
                Durations.Format(runbook.Rpo.Value), Durations.Format(runbook.Rpo.Target),
                runbook.Findings.Count(f => f.Severity == Core.Policies.Severity.Error));
            var guide = OperatorGuide.For(topology, runbook, LastRehearsal(app, parse, topology, target, log));
            if (parse.GetValue(json)) app.Document(RunbookReport.JsonText(runbook, guide));
            else app.Print(parse.GetValue(markdown) ? RunbookReport.Markdown(runbook, guide) : RunbookReport.Text(runbook, guide));
            return runbook.HasErrors ? ExitCodes.Findings : ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>
    /// The last passed rehearsal of <paramref name="target"/> in this project's run state, with each step's measured time:
    /// a folder, or the shared S3 prefix every operator's rehearsals go to. A store that cannot be reached (no network
    /// during the fire) leaves the plan with its estimates alone, and says so in the log.
    /// </summary>
    private static RehearsalTimes? LastRehearsal(App app, ParseResult parse, Topology topology, StackSpec target, Serilog.ILogger log)
    {
        try
        {
            var store = RunCommands.Store(app, parse, topology);
            var last = store.History.Read().Where(e => e.Site == target.Name && e.Outcome == "resolved").MaxBy(e => e.Started);
            if (last is null) return null;
            var report = Reports.IncidentReport.FromJournal(store.ReadJournal(last.RunId), topology.Targets);
            var steps = new Dictionary<StepKind, TimeSpan>();
            foreach (var s in report.Steps.Where(s => s.End is not null))
                foreach (var kind in Enum.GetValues<StepKind>().Where(k => Engine.StepContext.Name(k) == s.Step))
                    steps[kind] = s.End!.Value - s.Start;
            return new RehearsalTimes(last.RunId, last.Started, steps);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or UsageException or System.Text.Json.JsonException or RunState.RunStateUnavailableException)
        {
            log.Debug("No rehearsal times for the plan: {Error}", e.Message);
            return null;
        }
    }
}
