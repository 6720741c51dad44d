using System.Globalization;

namespace Failover.Benchmarks;

/// <summary>A benchmark's outcome: the measured ratio against its target, printed as the last line.</summary>
public sealed record Verdict(double Ratio, double Target)
{
    public bool Passed => Ratio <= Target;

    /// <param name="label">"ratio" for the benchmark's verdict, which is always the last line; another label for intermediate ratios.</param>
    public void Print(string label = "ratio") =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{label}: {Ratio:0.00} (target <= {Target:0.00}): {(Passed ? "PASS" : "FAIL")}"));
}

/// <summary>Wall-clock measurements and the statistics the benchmarks report.</summary>
public static class Timing
{
    public static async Task<TimeSpan> MeasureAsync(Func<Task> action)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await action();
        return watch.Elapsed;
    }

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    public static string Seconds(double s) => s.ToString("0.00", CultureInfo.InvariantCulture) + " s";

    public static string Seconds(TimeSpan t) => Seconds(t.TotalSeconds);

    /// <summary>The load average, printed with every result: the machine is shared and figures move with it.</summary>
    public static string Load() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
