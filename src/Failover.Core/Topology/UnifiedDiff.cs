using System.Text;

namespace Failover.Core.Topology;

/// <summary>
/// A unified diff (the format of <c>diff -u</c> and <c>git diff</c>) of two texts, line by line, so the operator
/// reads exactly which lines a rewrite changes before it is written.
/// </summary>
internal static class UnifiedDiff
{
    private const int Context = 3;

    private enum Op { Same, Removed, Added }

    /// <summary>The diff of <paramref name="before"/> and <paramref name="after"/>; empty when they are equal.</summary>
    public static string Render(string before, string after, string oldLabel, string newLabel)
    {
        var a = Lines(before);
        var b = Lines(after);
        var script = Script(a, b);
        if (script.All(s => s.Op == Op.Same)) return "";

        var text = new StringBuilder();
        text.Append("--- ").Append(oldLabel).Append('\n');
        text.Append("+++ ").Append(newLabel).Append('\n');
        foreach (var (from, to) in Hunks(script))
        {
            var hunk = script.GetRange(from, to - from);
            var oldCount = hunk.Count(s => s.Op != Op.Added);
            var newCount = hunk.Count(s => s.Op != Op.Removed);
            // Line numbers are 1-based; an empty side names the line before it (0 at the top), as diff -u does.
            var oldStart = script.Take(from).Count(s => s.Op != Op.Added) + (oldCount > 0 ? 1 : 0);
            var newStart = script.Take(from).Count(s => s.Op != Op.Removed) + (newCount > 0 ? 1 : 0);
            text.Append($"@@ -{Range(oldStart, oldCount)} +{Range(newStart, newCount)} @@\n");
            foreach (var (op, line) in hunk)
            {
                text.Append(op switch { Op.Removed => '-', Op.Added => '+', _ => ' ' });
                var content = line.TrimEnd('\n').TrimEnd('\r');
                text.Append(content).Append('\n');
                if (!line.EndsWith('\n')) text.Append("\\ No newline at end of file\n");
            }
        }
        return text.ToString();
    }

    private static string Range(int start, int count) => count == 1 ? $"{start}" : $"{start},{count}";

    /// <summary>The lines of a text, each with its line break (the last one may have none).</summary>
    internal static List<string> Lines(string text)
    {
        var lines = new List<string>();
        var start = 0;
        for (var i = 0; i < text.Length; i++)
            if (text[i] == '\n')
            {
                lines.Add(text[start..(i + 1)]);
                start = i + 1;
            }
        if (start < text.Length) lines.Add(text[start..]);
        return lines;
    }

    /// <summary>The shortest edit script: a longest common subsequence over the lines that differ.</summary>
    private static List<(Op Op, string Line)> Script(List<string> a, List<string> b)
    {
        var prefix = 0;
        while (prefix < a.Count && prefix < b.Count && a[prefix] == b[prefix]) prefix++;
        var suffix = 0;
        while (suffix < a.Count - prefix && suffix < b.Count - prefix && a[^(suffix + 1)] == b[^(suffix + 1)]) suffix++;

        var n = a.Count - prefix - suffix;
        var m = b.Count - prefix - suffix;
        // common[i, j]: length of the longest common subsequence of a's middle from i and b's middle from j.
        var common = new int[n + 1, m + 1];
        for (var i = n - 1; i >= 0; i--)
            for (var j = m - 1; j >= 0; j--)
                common[i, j] = a[prefix + i] == b[prefix + j]
                    ? common[i + 1, j + 1] + 1
                    : Math.Max(common[i + 1, j], common[i, j + 1]);

        var script = a.Take(prefix).Select(l => (Op.Same, l)).ToList();
        int x = 0, y = 0;
        while (x < n || y < m)
        {
            if (x < n && y < m && a[prefix + x] == b[prefix + y]) { script.Add((Op.Same, a[prefix + x])); x++; y++; }
            else if (y == m || (x < n && common[x + 1, y] >= common[x, y + 1])) { script.Add((Op.Removed, a[prefix + x])); x++; }
            else { script.Add((Op.Added, b[prefix + y])); y++; }
        }
        script.AddRange(a.Skip(a.Count - suffix).Select(l => (Op.Same, l)));
        return script;
    }

    /// <summary>Script ranges [from, to) around the changes, with context; changes closer than twice the context share a hunk.</summary>
    private static IEnumerable<(int From, int To)> Hunks(List<(Op Op, string Line)> script)
    {
        var changes = Enumerable.Range(0, script.Count).Where(i => script[i].Op != Op.Same).ToList();
        var i = 0;
        while (i < changes.Count)
        {
            var first = changes[i];
            var last = first;
            while (i + 1 < changes.Count && changes[i + 1] - last <= 2 * Context + 1) last = changes[++i];
            i++;
            yield return (Math.Max(0, first - Context), Math.Min(script.Count, last + Context + 1));
        }
    }
}
