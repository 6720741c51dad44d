using System.Text.Json;
using Failover.Driver.RunState;

namespace Failover.Driver.Reports;

/// <summary>One finished rehearsal, as a line of .failover/rehearsals.jsonl (or an object of the shared history).</summary>
public sealed record RehearsalEntry(string RunId, string Site, DateTimeOffset Started, DateTimeOffset Ended, string Outcome, double? RtoSeconds, double? RpoSeconds, string Report);

/// <summary>
/// The rehearsals that finished, oldest first: appended one record each to the run-state store, so that a weekly
/// timer on a server and a laptop's `status` read the same history; read by `report --history` and `status`.
/// </summary>
public sealed class RehearsalHistory(IRecordLog log)
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    public RehearsalHistory(string path) : this(new FileRecordLog(path)) { }

    public string Path => log.Location;

    public void Append(RehearsalEntry entry)
    {
        var line = JsonSerializer.Serialize(entry, Options);
        // Two machines may finish a rehearsal at once: the loser of a record number takes the next one.
        for (var attempt = 0; attempt < 20; attempt++)
            if (log.TryAppend(log.ReadAll().Count, line)) return;
        throw new IOException($"could not append to the rehearsal history {Path}: 20 other writers came first");
    }

    public IReadOnlyList<RehearsalEntry> Read() =>
        log.ReadAll().Select(l => JsonSerializer.Deserialize<RehearsalEntry>(l, Options)!).ToList();

    /// <summary>The outcome of a rehearsal that passed.</summary>
    public const string Passed = "resolved";

    /// <summary>The newest rehearsal that passed, if any.</summary>
    public RehearsalEntry? LastPassed => Read().Where(e => e.Outcome == Passed).MaxBy(e => e.Ended);
}
