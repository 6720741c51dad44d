using System.Globalization;
using Failover.Core.Topology;

namespace Failover.Core.Backup;

/// <summary>How far one tenant's restore has moved its data: bytes done of the total, and the rate and ETA they give.</summary>
public sealed record TransferProgress(string Tenant, long Done, long Total, TimeSpan Elapsed)
{
    /// <summary>Bytes per second since the transfer began; 0 before any time has passed.</summary>
    public double Rate => Elapsed.TotalSeconds > 0.05 ? Done / Elapsed.TotalSeconds : 0;

    /// <summary>Time left at the rate so far; null while nothing has moved yet (no rate to go by).</summary>
    public TimeSpan? Eta => Done >= Total ? TimeSpan.Zero : Rate > 0 ? TimeSpan.FromSeconds(Math.Ceiling((Total - Done) / Rate)) : null;

    public double Fraction => Total <= 0 ? 1 : Math.Min(1, (double)Done / Total);

    public bool Finished => Done >= Total;

    /// <summary>One plain line: "contoso  12.0 MB of 40.0 MB (30%)  3.1 MB/s  ETA 9s".</summary>
    public string Describe() =>
        $"{Tenant}  {Bytes(Done)} of {Bytes(Total)} ({Fraction * 100:0}%)  {Bytes((long)Rate)}/s  " +
        (Finished ? $"done in {Durations.Format(Elapsed)}" : Eta is { } eta ? $"ETA {Durations.Format(eta)}" : "ETA n/a");

    public static string Bytes(long bytes)
    {
        string[] units = ["B", "KB", "MB", "GB", "TB"];
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1) { value /= 1024; unit++; }
        return value.ToString(unit == 0 ? "0" : "0.0", CultureInfo.InvariantCulture) + " " + units[unit];
    }
}
