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
    /// <summary>The named steps must run again (a migration thawed after its freeze): their earlier records no longer count. Written by earlier versions; <see cref="CompensationCompleted"/> now.</summary>
    StepsReopened,
    /// <summary>The sites this run provisioned were removed afterwards (a drill cleaning up): it no longer says where service runs.</summary>
    SitesRemoved,
    /// <summary>The operator accepted data loss beyond the RPO target on resume (`failover resume --accept-data-loss`).</summary>
    DataLossAccepted,
    /// <summary>The operator went on without these tenants (`failover resume --without-tenant`): no usable backup; restored later by `failover restore`.</summary>
    TenantsLeftOut,
    /// <summary>The engine began the runbook's compensation (<see cref="Compensation"/>): until its completion line, the next run finishes it first.</summary>
    CompensationStarted,
    /// <summary>The compensation's steps ran; the steps it names must run again (a thaw voids the freeze and the final sync).</summary>
    CompensationCompleted,
}

/// <summary>One line of the journal: an event, the step and effect it concerns, when, and its data.</summary>
public sealed record JournalRecord(JournalEvent Event, DateTimeOffset At, string? Step = null, string? Effect = null, JsonObject? Data = null)
{
    /// <summary>
    /// The SHA-256 (lower-case hex) of the previous record's line exactly as stored (UTF-8, without its newline);
    /// <see cref="JournalChain.Genesis"/> for the first record. Set by <see cref="Journal.Append"/>; null in journals
    /// written before the chain existed.
    /// </summary>
    public string? Prev { get; init; }
}

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
    private readonly List<string> _lines;
    private readonly Lock _gate = new();

    private Journal(IRecordLog log, List<JournalRecord> records, List<string> lines)
    {
        _log = log;
        _records = records;
        _lines = lines;
    }

    /// <summary>Where the journal is stored: a file, or a prefix of the shared run state.</summary>
    public string Path => _log.Location;
    public IReadOnlyList<JournalRecord> Records { get { lock (_gate) return _records.ToList(); } }

    /// <summary>The hash chain of the records so far, checked line by line.</summary>
    public JournalIntegrity Integrity { get { lock (_gate) return JournalChain.Verify(_lines); } }

    public static Journal Open(string path)
    {
        var log = new FileRecordLog(path);
        log.EnsureExists();
        return Open(log);
    }

    public static Journal Open(IRecordLog log)
    {
        if (log is FileRecordLog file) file.EnsureExists();
        var (records, lines) = Parse(log.ReadAll());
        return new Journal(log, records, lines);
    }

    public static List<JournalRecord> Read(string path) => Read(new FileRecordLog(path));

    public static List<JournalRecord> Read(IRecordLog log) => Parse(log.ReadAll()).Records;

    /// <summary>The complete records and their lines as stored; a line that does not parse ends the journal.</summary>
    internal static (List<JournalRecord> Records, List<string> Lines) Parse(IReadOnlyList<string> stored)
    {
        var records = new List<JournalRecord>();
        var lines = new List<string>();
        foreach (var line in stored)
        {
            try { records.Add(JsonSerializer.Deserialize<JournalRecord>(line, Options)!); }
            catch (JsonException) { break; } // a torn last line: everything after it is not trusted
            lines.Add(line);
        }
        return (records, lines);
    }

    /// <summary>
    /// The records that still count for the engine: a compensation's completion line (a StepsReopened line in earlier
    /// journals) voids the earlier step, effect and end records of the steps it names, so those steps and their effects
    /// run again. Notes stay, for the report.
    /// </summary>
    public static IReadOnlyList<JournalRecord> Live(IReadOnlyList<JournalRecord> records)
    {
        var live = new List<JournalRecord>(records.Count);
        foreach (var r in records)
        {
            if (r.Event is JournalEvent.StepsReopened or JournalEvent.CompensationCompleted && r.Data?["steps"] is JsonArray names)
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
        lock (_gate)
        {
            // Each record names the hash of the one before it: a record changed or removed later breaks the chain there.
            var chained = record with { Prev = _lines.Count == 0 ? JournalChain.Genesis : JournalChain.Hash(_lines[^1]) };
            var line = JsonSerializer.Serialize(chained, Options);
            if (!_log.TryAppend(_records.Count, line)) throw new JournalConflictException(Path, _records.Count);
            _records.Add(chained);
            _lines.Add(line);
        }
    }

    public void Dispose() => _log.Dispose();
}

/// <summary>A journal's hash chain is broken: a record was changed or removed after it was written. Nothing is done on it.</summary>
public sealed class JournalTamperedException(string message) : Exception(message);

/// <summary>Another process wrote this run's journal meanwhile (its lock was broken and the run resumed elsewhere): this one must stop.</summary>
public sealed class JournalConflictException(string journal, long sequence) : Exception(
    $"record {sequence} of the journal {journal} was written by another process: the run was resumed elsewhere after this " +
    "process's lock was broken. This process stops here and changes nothing more; `failover report` shows what the other one did.")
{
    public long Sequence { get; } = sequence;
}

/// <summary>How far a journal's records can be trusted, from its hash chain.</summary>
public enum ChainStatus
{
    /// <summary>Every record names the hash of the one before it, and they all match.</summary>
    Chained,
    /// <summary>Written by a version before the chain: no record carries a hash (nothing can be said about changes).</summary>
    NotChained,
    /// <summary>Started by a version before the chain and continued by this one: the later records are chained and match.</summary>
    PartlyChained,
    /// <summary>A record does not follow the one before it: it, or a record before it, was changed, or records were removed.</summary>
    Broken,
}

/// <summary>
/// The verdict on a journal's hash chain: the number of records, the hash of the last one (which, through the
/// chain, stands for all of them), the SHA-256 of the journal as a file, and where the chain breaks.
/// </summary>
/// <param name="Digest">SHA-256 of the records, each line followed by a newline: for a folder store exactly <c>sha256sum journal.jsonl</c>.</param>
/// <param name="BrokenAt">The 1-based number of the first record that does not follow the one before it.</param>
/// <param name="FirstChained">The 1-based number of the first record with a hash (1 for a journal chained from its start).</param>
public sealed record JournalIntegrity(ChainStatus Status, int Records, string? Head, string? Digest, int? BrokenAt = null, string? Problem = null, int? FirstChained = null)
{
    public bool IsBroken => Status == ChainStatus.Broken;

    /// <summary>One sentence for the report and the operator.</summary>
    public string Sentence => Status switch
    {
        ChainStatus.Chained => $"hash-chained: all {Records} records follow each other unchanged",
        ChainStatus.NotChained => $"not chained: its {Records} records were written by a version without the hash chain, so changes to them cannot be detected",
        ChainStatus.PartlyChained => $"partly chained: records 1-{FirstChained - 1} were written by a version without the hash chain; records {FirstChained}-{Records} follow each other unchanged",
        _ => $"BROKEN at record {BrokenAt}: {Problem}",
    };
}

/// <summary>The journal's hash chain: what each record's <see cref="JournalRecord.Prev"/> must be, and the check of a whole journal.</summary>
public static class JournalChain
{
    /// <summary>The first record's <c>prev</c>: a record before it was removed if the first record names anything else.</summary>
    public static readonly string Genesis = new('0', 64);

    public static string Hash(string line) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(line)));

    /// <summary>Checks each record's hash against the line before it; the first mismatch is named with its number, event, step and time.</summary>
    public static JournalIntegrity Verify(IReadOnlyList<string> lines)
    {
        var digest = lines.Count == 0 ? null : Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
            System.Text.Encoding.UTF8.GetBytes(string.Concat(lines.Select(l => l + "\n")))));
        var head = lines.Count == 0 ? null : Hash(lines[^1]);
        int? firstChained = null;
        for (var i = 0; i < lines.Count; i++)
        {
            var prev = PrevOf(lines[i]);
            string? problem = null;
            if (prev is null)
            {
                if (firstChained is not null)
                    problem = $"{Describe(lines[i])} carries no hash although the records before it are chained: it was inserted or rewritten";
            }
            else
            {
                firstChained ??= i + 1;
                var expected = i == 0 ? Genesis : Hash(lines[i - 1]);
                if (prev != expected)
                    problem = i == 0
                        ? $"{Describe(lines[i])} is not the first record of the run: the records before it were removed"
                        : $"{Describe(lines[i])} does not follow record {i} ({Describe(lines[i - 1])}): record {i} was changed, or records between them were removed";
            }
            if (problem is not null)
                return new JournalIntegrity(ChainStatus.Broken, lines.Count, head, digest, i + 1, problem, firstChained);
        }
        var status = firstChained switch { null => ChainStatus.NotChained, 1 => ChainStatus.Chained, _ => ChainStatus.PartlyChained };
        return new JournalIntegrity(status, lines.Count, head, digest, FirstChained: firstChained);
    }

    private static string? PrevOf(string line)
    {
        try { return JsonNode.Parse(line)?["prev"]?.GetValue<string>(); }
        catch (Exception e) when (e is JsonException or InvalidOperationException) { return null; }
    }

    /// <summary>"record 7 (step-completed restore at 2026-11-22 03:14:00Z)".</summary>
    private static string Describe(string line)
    {
        try
        {
            var node = JsonNode.Parse(line);
            return $"the {(string?)node?["event"]}{(node?["step"] is { } s ? $" {(string?)s}" : "")} record of {(string?)node?["at"]}";
        }
        catch (JsonException)
        {
            return "an unreadable record";
        }
    }
}
