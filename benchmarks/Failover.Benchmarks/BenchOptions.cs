using System.Globalization;

namespace Failover.Benchmarks;

/// <summary>The <c>--name value</c> and <c>--flag</c> options of a benchmark, with defaults.</summary>
public sealed class BenchOptions
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);

    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            if (!name.StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"unexpected argument {name}");
            options._values[name] = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : null;
        }
        return options;
    }

    public double Number(string name, double fallback) =>
        _values.TryGetValue(name, out var v) && v is not null
            ? double.Parse(v, CultureInfo.InvariantCulture)
            : fallback;

    public int Count(string name, int fallback) => (int)Number(name, fallback);

    public bool Flag(string name) => _values.ContainsKey(name);

    public string Text(string name, string fallback) => _values.TryGetValue(name, out var v) && v is not null ? v : fallback;
}
