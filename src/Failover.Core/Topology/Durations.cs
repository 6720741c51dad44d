using System.Globalization;
using System.Text.RegularExpressions;

namespace Failover.Core.Topology;

/// <summary>Reads and writes the short durations used in stack files: 90s, 15m, 1h30m, 30d, 2w.</summary>
public static partial class Durations
{
    [GeneratedRegex(@"^\s*(?:(\d+(?:\.\d+)?)\s*(w|d|h|m|s)\s*)+$", RegexOptions.IgnoreCase)]
    private static partial Regex Shape();

    [GeneratedRegex(@"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)", RegexOptions.IgnoreCase)]
    private static partial Regex Part();

    public static bool TryParse(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text) || !Shape().IsMatch(text)) return false;
        double seconds = 0;
        foreach (Match m in Part().Matches(text))
        {
            var n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            seconds += n * char.ToLowerInvariant(m.Groups[2].Value[0]) switch
            {
                'w' => 604800, 'd' => 86400, 'h' => 3600, 'm' => 60, _ => 1,
            };
        }
        if (seconds > TimeSpan.MaxValue.TotalSeconds / 2) return false;
        value = TimeSpan.FromSeconds(seconds);
        return true;
    }

    /// <summary>A compact human form: "1h 30m", "45s", "2d 4h".</summary>
    public static string Format(TimeSpan span)
    {
        if (span < TimeSpan.Zero) return "-" + Format(span.Negate());
        var total = (long)Math.Round(span.TotalSeconds);
        if (total == 0) return "0s";
        var parts = new List<string>();
        void Add(long unit, string suffix)
        {
            if (total >= unit) { parts.Add($"{total / unit}{suffix}"); total %= unit; }
        }
        Add(86400, "d"); Add(3600, "h"); Add(60, "m"); Add(1, "s");
        return string.Join(' ', parts.Take(2));
    }
}
