// TEMPORARY stand-in for the `roles` branch's RoleChange (same API); deleted when that branch is merged into main.
using System.Text;
using System.Text.RegularExpressions;

namespace Failover.Core.Topology;

/// <summary>One stack file's text before and after a role change.</summary>
public sealed record StackFileEdit(string File, string Before, string After)
{
    public bool Changes => Before != After;

    /// <summary>A unified-style diff (every line of the file, changed ones marked).</summary>
    public string Diff()
    {
        var sb = new StringBuilder($"--- {File}\n+++ {File}\n");
        var a = Before.Split('\n');
        var b = After.Split('\n');
        var aSet = a.ToHashSet();
        var bSet = b.ToHashSet();
        foreach (var l in a) if (!bSet.Contains(l)) sb.Append("-").Append(l).Append('\n');
        foreach (var l in b) if (!aSet.Contains(l)) sb.Append("+").Append(l).Append('\n');
        return sb.ToString();
    }
}

/// <summary>Rewrites the stack files so that another stack is production.</summary>
public static class RoleChange
{
    private static readonly string[] TopologyWide = ["tenants", "backup", "targets", "restore", "policy", "stateBackend"];

    public static IReadOnlyList<StackFileEdit> Promote(Topology topology, string newProduction, SiteMode formerProductionMode)
    {
        var old = topology.Production;
        if (old.Name == newProduction) return [];
        var next = topology.Find(newProduction) ?? throw new ArgumentException($"unknown stack {newProduction}");
        string PathOf(StackSpec s) => Path.Combine(topology.StacksDirectory, Path.GetFileName(s.File));
        var oldText = File.ReadAllText(PathOf(old));
        var newText = File.ReadAllText(PathOf(next));
        var moved = new StringBuilder();
        foreach (var key in TopologyWide)
        {
            var (rest, block) = Cut(oldText, key);
            oldText = rest;
            moved.Append(block);
        }
        oldText = SetKey(Regex.Replace(oldText, @"(?m)^  failover:role: production", "  failover:role: standby"), "mode", formerProductionMode.ToString().ToLowerInvariant());
        foreach (var key in new[] { "mode", "snapshots", "restoreFrom" }) newText = Cut(newText, key).Remaining;
        newText = Regex.Replace(newText, @"(?m)^  failover:role: standby", "  failover:role: production").TrimEnd('\n') + "\n" + moved;
        var edits = new List<StackFileEdit> { new(PathOf(old), File.ReadAllText(PathOf(old)), oldText), new(PathOf(next), File.ReadAllText(PathOf(next)), newText) };
        if (topology.DnsStack is { } dns)
        {
            var text = File.ReadAllText(PathOf(dns));
            edits.Add(new(PathOf(dns), text, Regex.Replace(text, $@"(?m)^(\s+active:\s*){Regex.Escape(old.Name)}\s*$", $"${{1}}{newProduction}")));
        }
        return edits.Where(e => e.Changes).ToList();
    }

    private static (string Remaining, string Block) Cut(string text, string key)
    {
        var lines = text.Split('\n').ToList();
        var start = lines.FindIndex(l => l.StartsWith($"  failover:{key}:", StringComparison.Ordinal));
        if (start < 0) return (text, "");
        var end = start + 1;
        while (end < lines.Count && (lines[end].StartsWith("   ", StringComparison.Ordinal) || lines[end].StartsWith("  -", StringComparison.Ordinal))) end++;
        var block = string.Join("\n", lines.Skip(start).Take(end - start)) + "\n";
        lines.RemoveRange(start, end - start);
        return (string.Join("\n", lines), block);
    }

    private static string SetKey(string text, string key, string value)
    {
        var (rest, _) = Cut(text, key);
        return Regex.Replace(rest, @"(?m)^(  failover:role: .*)$", $"$1\n  failover:{key}: {value}");
    }
}
