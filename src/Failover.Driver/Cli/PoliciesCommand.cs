using System.CommandLine;
using System.Text;
using Failover.Core.Policies;
using Failover.Driver.Reports;

namespace Failover.Driver.Cli;

/// <summary>`failover policies [ID]`: every rule the topology is judged by, with why and how to fix.</summary>
internal static class PoliciesCommand
{
    public static Command Build(App app)
    {
        var id = new Argument<string?>("id") { Description = "Show one policy", Arity = ArgumentArity.ZeroOrOne };
        var markdown = new Option<bool>("--markdown") { Description = "Print as Markdown (docs/policies.md is this output)" };
        var json = App.JsonOption("Print the policies as JSON");
        var command = new Command("policies",
            "List the failure-domain and recovery policies that plan and status apply, with their ids, severities,\n" +
            "explanations and fixes. Accept one on purpose with failover:policy.accept in the production stack.\n\n" +
            "Examples:\n" +
            "  failover policies\n" +
            "  failover policies vault-colocated\n" +
            "  failover policies --json")
        {
            id, markdown, json,
        };
        command.SetAction(parse =>
        {
            var wanted = parse.GetValue(id);
            if (wanted?.StartsWith('-') == true)
            {
                app.Error($"error: unknown option '{wanted}' (options: --json, --markdown)");
                return ExitCodes.Usage;
            }
            var list = PolicyBook.All.Where(p => wanted is null || p.Id == wanted).ToList();
            if (list.Count == 0)
            {
                app.Error($"error: unknown policy '{wanted}'; known: {string.Join(", ", PolicyBook.All.Select(p => p.Id))}");
                return ExitCodes.Usage;
            }
            if (parse.GetValue(json) && parse.GetValue(markdown))
            {
                app.Error("error: --json and --markdown cannot be combined; pick one");
                return ExitCodes.Usage;
            }
            if (parse.GetValue(json))
                app.Document(Json.Document("policies", new
                {
                    policies = list.Select(p => new { id = p.Id, severity = FindingsView.Label(p.Severity).ToLowerInvariant(), title = p.Title, why = p.Explanation, fix = p.Fix }),
                }));
            else app.Print(parse.GetValue(markdown) ? Markdown(list) : Text(list));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string Text(IEnumerable<Policy> policies)
    {
        var sb = new StringBuilder();
        foreach (var p in policies)
        {
            sb.AppendLine($"{p.Id} ({FindingsView.Label(p.Severity).ToLowerInvariant()}): {p.Title}");
            sb.AppendLine($"  why: {p.Explanation}");
            sb.AppendLine($"  fix: {p.Fix}");
            sb.AppendLine();
        }
        return sb.ToString();
    }

    internal static string Markdown(IEnumerable<Policy> policies)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# Policies").AppendLine();
        sb.AppendLine("Every rule `failover plan` and `failover status` apply to the topology. Errors make both exit 1,");
        sb.AppendLine("so `failover plan` can gate a pull request. A finding accepted on purpose");
        sb.AppendLine("(`failover:policy.accept` with a reason, in the production stack) is shown as a note.");
        sb.AppendLine("This page is the output of `failover policies --markdown`.").AppendLine();
        sb.AppendLine("| id | severity | rule |").AppendLine("|---|---|---|");
        foreach (var p in policies) sb.AppendLine($"| [`{p.Id}`](#{p.Id}) | {FindingsView.Label(p.Severity).ToLowerInvariant()} | {p.Title} |");
        sb.AppendLine();
        foreach (var p in policies)
        {
            sb.AppendLine($"## {p.Id}").AppendLine();
            sb.AppendLine($"**{p.Title}** ({FindingsView.Label(p.Severity).ToLowerInvariant()})").AppendLine();
            sb.AppendLine(p.Explanation).AppendLine();
            sb.AppendLine($"Fix: {p.Fix}").AppendLine();
        }
        return sb.ToString();
    }
}
