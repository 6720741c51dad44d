namespace Failover.Core.Topology;

/// <summary>"Did you mean": the known name closest to a mistyped one, when it is close enough to be the intended one.</summary>
public static class NameSuggestion
{
    /// <summary>The candidate within a third of the name's length in edits (at least 2), or containing it; null when none is.</summary>
    public static string? Closest(string name, IEnumerable<string> candidates)
    {
        var best = candidates
            .Select(c => (Name: c, Distance: c.Contains(name, StringComparison.OrdinalIgnoreCase) && name.Length >= 3 ? 0 : Distance(name.ToLowerInvariant(), c.ToLowerInvariant())))
            .OrderBy(c => c.Distance).ThenBy(c => c.Name, StringComparer.Ordinal)
            .FirstOrDefault();
        return best.Name is not null && best.Distance <= Math.Max(2, name.Length / 3) ? best.Name : null;
    }

    /// <summary>The suffix for an error message: " (did you mean 'x'?)" or nothing.</summary>
    public static string DidYouMean(string name, IEnumerable<string> candidates) =>
        Closest(name, candidates) is { } c ? $" (did you mean '{c}'?)" : "";

    private static int Distance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var previous = row[0];
            row[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var current = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), previous + (a[i - 1] == b[j - 1] ? 0 : 1));
                previous = current;
            }
        }
        return row[b.Length];
    }
}
