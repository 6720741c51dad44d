using System.Text.Json;

namespace Failover.Driver.Reports;

/// <summary>One finished rehearsal, as a line of .failover/rehearsals.jsonl.</summary>
public sealed record RehearsalEntry(string RunId, string Site, DateTimeOffset Started, DateTimeOffset Ended, string Outcome, double? RtoSeconds, double? RpoSeconds, string Report);

/// <summary>The rehearsals that finished, oldest first: appended one JSON line each, read by `report --history` and `status`.</summary>
public sealed class RehearsalHistory(string path)
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    public string Path { get; } = path;

    public void Append(RehearsalEntry entry)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        File.AppendAllText(Path, JsonSerializer.Serialize(entry, Options) + "\n");
    }

    public IReadOnlyList<RehearsalEntry> Read() =>
        File.Exists(Path)
            ? File.ReadLines(Path).Where(l => l.Trim().Length > 0).Select(l => JsonSerializer.Deserialize<RehearsalEntry>(l, Options)!).ToList()
            : [];

    /// <summary>The outcome of a rehearsal that passed.</summary>
    public const string Passed = "resolved";

    /// <summary>The newest rehearsal that passed, if any.</summary>
    public RehearsalEntry? LastPassed => Read().Where(e => e.Outcome == Passed).MaxBy(e => e.Ended);
}
