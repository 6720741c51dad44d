using System.Text.Json;
using System.Text.Json.Nodes;
using Failover.Driver.RunState;

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
/// The run's append-only journal: one record per line in a file (flushed to disk after every record, so that a
/// crash leaves a prefix of complete lines that `failover resume` can trust; a torn last line is ignored), or one
/// object per record in the shared run state, each created only if its sequence number is free, so that two
/// processes can never both append the same record.
/// </summary>
public sealed class Journal : IDisposable
{
    private static readonly JsonSerializerOptions Options = new(Reports.Json.Options) { WriteIndented = false };
    private readonly IRecordLog _log;
    private readonly List<JournalRecord> _records;
    private readonly Lock _gate = new();

    private Journal(IRecordLog log, List<JournalRecord> records)
    {
        _log = log;
        _records = records;
    }

    /// <summary>Where the journal is stored: a file, or a prefix of the shared run state.</summary>
    public string Path => _log.Location;
    public IReadOnlyList<JournalRecord> Records { get { lock (_gate) return _records.ToList(); } }

    public static Journal Open(string path)
    {
        var log = new FileRecordLog(path);
        log.EnsureExists();
        return Open(log);
    }

    public static Journal Open(IRecordLog log)
    {
        if (log is FileRecordLog file) file.EnsureExists();
        return new Journal(log, Read(log));
    }

    public static List<JournalRecord> Read(string path) => Read(new FileRecordLog(path));

    public static List<JournalRecord> Read(IRecordLog log)
    {
        var records = new List<JournalRecord>();
        foreach (var line in log.ReadAll())
        {
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

    /// <exception cref="JournalConflictException">Another process appended this record number first.</exception>
    public void Append(JournalRecord record)
    {
        var line = JsonSerializer.Serialize(record, Options);
        lock (_gate)
        {
            if (!_log.TryAppend(_records.Count, line)) throw new JournalConflictException(Path, _records.Count);
            _records.Add(record);
        }
    }

    public void Dispose() => _log.Dispose();
}

/// <summary>Another process wrote this run's journal meanwhile (its lock was broken and the run resumed elsewhere): this one must stop.</summary>
public sealed class JournalConflictException(string journal, long sequence) : Exception(
    $"record {sequence} of the journal {journal} was written by another process: the run was resumed elsewhere after this " +
    "process's lock was broken. This process stops here and changes nothing more; `failover report` shows what the other one did.")
{
    public long Sequence { get; } = sequence;
}
