using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Failover.Driver.Engine;

/// <summary>What a journal line records.</summary>
public enum JournalEvent
{
    RunStarted, StepStarted, EffectStarted, EffectDone, StepCompleted, StepSkipped, StepFailed, Note, RunCompleted, RunAborted, RunResumed,
    /// <summary>A step stopped at a planned wait (a migration's TTL wait or the operator's confirmation); running it again continues.</summary>
    StepPaused,
    /// <summary>The named steps must run again (a migration thawed after its freeze): their earlier records no longer count.</summary>
    StepsReopened,
    /// <summary>The sites this run provisioned were removed afterwards (a drill cleaning up): it no longer says where service runs.</summary>
    SitesRemoved,
    /// <summary>The operator accepted data loss beyond the RPO target on resume (`failover resume --accept-data-loss`).</summary>
    DataLossAccepted,
}

/// <summary>One line of the journal: an event, the step and effect it concerns, when, and its data.</summary>
public sealed record JournalRecord(JournalEvent Event, DateTimeOffset At, string? Step = null, string? Effect = null, JsonObject? Data = null);

/// <summary>
/// The run's append-only journal: JSON lines, flushed to disk after every record, so that a crash at any
/// point leaves a prefix of complete lines that `failover resume` can trust. A torn last line (the process
/// died mid-write) is ignored.
/// </summary>
public sealed class Journal : IDisposable
{
    private static readonly JsonSerializerOptions Options = new(Reports.Json.Options) { WriteIndented = false };
    private readonly FileStream _stream;
    private readonly List<JournalRecord> _records;
    private readonly Lock _gate = new();

    private Journal(string path, FileStream stream, List<JournalRecord> records)
    {
        Path = path;
        _stream = stream;
        _records = records;
    }

    public string Path { get; }
    public IReadOnlyList<JournalRecord> Records { get { lock (_gate) return _records.ToList(); } }

    public static Journal Open(string path)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        var records = File.Exists(path) ? Read(path) : [];
        var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, 4096, FileOptions.WriteThrough);
        return new Journal(path, stream, records);
    }

    public static List<JournalRecord> Read(string path)
    {
        var records = new List<JournalRecord>();
        foreach (var line in File.ReadAllLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try { records.Add(JsonSerializer.Deserialize<JournalRecord>(line, Options)!); }
            catch (JsonException) { break; } // a torn last line: everything after it is not trusted
        }
        return records;
    }

    /// <summary>
    /// The records that still count for the engine: a StepsReopened line voids the earlier step, effect and end records
    /// of the steps it names, so those steps and their effects run again. Notes stay, for the report.
    /// </summary>
    public static IReadOnlyList<JournalRecord> Live(IReadOnlyList<JournalRecord> records)
    {
        var live = new List<JournalRecord>(records.Count);
        foreach (var r in records)
        {
            if (r.Event == JournalEvent.StepsReopened && r.Data?["steps"] is JsonArray names)
            {
                var reopened = names.Select(n => (string?)n).ToHashSet();
                live.RemoveAll(x => x.Step is not null && reopened.Contains(x.Step) && x.Event is not JournalEvent.Note);
            }
            live.Add(r);
        }
        return live;
    }

    public void Append(JournalRecord record)
    {
        var bytes = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(record, Options) + "\n");
        lock (_gate)
        {
            _stream.Write(bytes);
            _stream.Flush(flushToDisk: true);
            _records.Add(record);
        }
    }

    public void Dispose() => _stream.Dispose();
}
