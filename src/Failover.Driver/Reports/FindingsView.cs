using System.Text;
using Failover.Core.Policies;

namespace Failover.Driver.Reports;

/// <summary>Findings as text, Markdown and JSON objects, shared by every report that lists them.</summary>
public static class FindingsView
{
    public static string Summary(IReadOnlyList<Finding> findings)
    {
        int Count(Severity s) => findings.Count(f => f.Severity == s);
        return $"{Count(Severity.Error)} error(s), {Count(Severity.Warning)} warning(s), {Count(Severity.Info)} note(s)";
    }

    public static void WriteText(StringBuilder sb, IReadOnlyList<Finding> findings)
    {
        sb.AppendLine($"Findings: {Summary(findings)}");
        if (findings.Count == 0) { sb.AppendLine("  none"); return; }
        foreach (var f in findings)
        {
            sb.AppendLine($"  {Label(f.Severity),-7} {f.PolicyId}: {f.Message}");
            sb.AppendLine($"          stacks: {string.Join(", ", f.Stacks)}");
            if (f.AcceptedBecause is not null) sb.AppendLine($"          accepted: {f.AcceptedBecause}");
            else
            {
                sb.AppendLine($"          why: {f.Explanation}");
                sb.AppendLine($"          fix: {f.Fix}");
            }
        }
    }

    public static void WriteMarkdown(StringBuilder sb, IReadOnlyList<Finding> findings)
    {
        sb.AppendLine($"## Findings").AppendLine().AppendLine(Summary(findings) + ".").AppendLine();
        foreach (var f in findings)
        {
            sb.AppendLine($"- **{Label(f.Severity)}** `{f.PolicyId}` ({string.Join(", ", f.Stacks)}): {f.Message}");
            if (f.AcceptedBecause is not null) sb.AppendLine($"  - accepted: {f.AcceptedBecause}");
            else sb.AppendLine($"  - why: {f.Explanation}").AppendLine($"  - fix: {f.Fix}");
        }
        sb.AppendLine();
    }

    public static object ToJson(Finding f) => new
    {
        id = f.PolicyId,
        severity = f.Severity,
        stacks = f.Stacks,
        message = f.Message,
        explanation = f.Explanation,
        fix = f.Fix,
        acceptedBecause = f.AcceptedBecause,
    };

    public static string Label(Severity s) => s switch
    {
        Severity.Error => "ERROR",
        Severity.Warning => "WARNING",
        _ => "NOTE",
    };
}
