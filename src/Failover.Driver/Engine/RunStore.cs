using System.Text;
using Failover.Driver.Reports;
using Failover.Driver.RunState;
using Serilog;

namespace Failover.Driver.Engine;

/// <summary>
/// A project's runs: the lock, one journal per run, the pointer to the run that has not finished, reports and
/// the rehearsal history, kept in the run-state store (<see cref="State"/>: <c>.failover/</c> beside Pulumi.yaml,
/// or the shared S3 prefix), and this machine's folder <see cref="Root"/> (local sites, report files to open).
/// </summary>
public sealed class RunStore
{
    public RunStore(string root) : this(root, new DirectoryRunStateStore(root)) { }

    public RunStore(string root, IRunStateStore state)
    {
        Root = root;
        State = state;
    }

    /// <summary>This machine's folder: the local provider's sites and the report files of the runs seen here.</summary>
    public string Root { get; }

    public IRunStateStore State { get; }

    /// <summary>How long a lock lives without renewal (the holder renews it every third of it).</summary>
    public TimeSpan Lease { get; init; } = RunLock.DefaultLease;

    /// <summary>The lock file of a directory store.</summary>
    public string LockPath => Path.Combine(Root, RunLock.Key);

    public string RunDirectory(string runId) => Path.Combine(Root, "runs", runId);

    /// <summary>The journal file of a directory store.</summary>
    public string JournalPath(string runId) => Path.Combine(RunDirectory(runId), "journal.jsonl");

    private static string JournalName(string runId) => $"runs/{runId}/journal";

    /// <summary>The run that started and has not completed or been aborted, if any.</summary>
    public string? Current => State.Read("current") is { } o && Encoding.UTF8.GetString(o.Content).Trim() is { Length: > 0 } id ? id : null;

    public void SetCurrent(string runId) => State.Put("current", Encoding.UTF8.GetBytes(runId));

    public void ClearCurrent() => State.Delete("current");

    /// <summary>Every run, newest first.</summary>
    public IReadOnlyList<string> Runs() => State.Children("runs").OrderDescending(StringComparer.Ordinal).ToList();

    public IReadOnlyList<JournalRecord> ReadJournal(string runId)
    {
        using var log = State.Log(JournalName(runId));
        return Journal.Read(log);
    }

    /// <summary>Where a run's journal is, for messages and the report: its file, or its prefix in the shared store.</summary>
    public string JournalLocation(string runId)
    {
        using var log = State.Log(JournalName(runId));
        return log.Location;
    }

    /// <summary>The run's journal lines as stored, up to the first that does not parse.</summary>
    public IReadOnlyList<string> JournalLines(string runId)
    {
        using var log = State.Log(JournalName(runId));
        return Journal.Parse(log.ReadAll()).Lines;
    }

    /// <summary>The run's journal checked against its hash chain (a record changed or removed is named).</summary>
    public JournalIntegrity JournalIntegrity(string runId)
    {
        return JournalChain.Verify(JournalLines(runId));
    }

    public bool HasJournal(string runId) => ReadJournal(runId).Count > 0 || (State is DirectoryRunStateStore && File.Exists(JournalPath(runId)));

    public Journal OpenJournal(string runId) => Journal.Open(State.Log(JournalName(runId)));

    /// <summary>Who holds the lock, or null when it is free (or unreadable: then <see cref="LockTaken"/> says so).</summary>
    public LockOwner? LockHolder => RunLock.Inspect(State);

    public bool LockTaken => State.Read(RunLock.Key) is not null;

    /// <summary>Refuses, naming the holder, when another run holds the lock.</summary>
    public void ThrowIfLocked()
    {
        if (!LockTaken) return;
        var owner = LockHolder;
        throw new LockHeldException($"{State.Location}/{RunLock.Key}", owner, owner is not null && RunLock.IsStale(owner));
    }

    public RunLock AcquireLock(LockOwner owner, ILogger? log = null) => RunLock.Acquire(State, owner, Lease, log);

    public void BreakLock() => State.Delete(RunLock.Key);

    /// <summary>A small file of a run other operators need to continue it (a rehearsal's copy); kept in the store and in the run folder.</summary>
    public void WriteRunFile(string runId, string name, string text)
    {
        Directory.CreateDirectory(RunDirectory(runId));
        File.WriteAllText(Path.Combine(RunDirectory(runId), name), text);
        if (State.IsShared) State.Put($"runs/{runId}/{name}", Encoding.UTF8.GetBytes(text));
    }

    public string? ReadRunFile(string runId, string name)
    {
        if (State.IsShared) return State.Read($"runs/{runId}/{name}") is { } o ? Encoding.UTF8.GetString(o.Content) : null;
        var path = Path.Combine(RunDirectory(runId), name);
        return File.Exists(path) ? File.ReadAllText(path) : null;
    }

    /// <summary>Copies the run folder's report files into the shared store, so every operator reads the same report.</summary>
    public void PublishReports(string runId)
    {
        if (!State.IsShared || !Directory.Exists(RunDirectory(runId))) return;
        foreach (var file in Directory.GetFiles(RunDirectory(runId), "report.*"))
            State.Put($"runs/{runId}/{Path.GetFileName(file)}", File.ReadAllBytes(file));
    }

    /// <summary>Where a run's report is, for the operator: the local file, and its shared copy.</summary>
    public string ReportLocation(string runId) =>
        Path.Combine(RunDirectory(runId), "report.md") + (State.IsShared ? $" (shared: {State.Location}/runs/{runId}/report.md)" : "");

    public RehearsalHistory History => new(State.Log("rehearsals"));

    public static string NewRunId(DateTimeOffset now) =>
        $"{now.UtcDateTime:yyyyMMdd-HHmmss}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3))}";
}
