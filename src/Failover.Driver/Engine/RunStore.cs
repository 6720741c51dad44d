namespace Failover.Driver.Engine;

/// <summary>
/// Where runs live on disk: <c>.failover/</c> beside Pulumi.yaml, with the lock, one folder per run
/// (journal and report) and a pointer to the run that has not finished.
/// </summary>
public sealed class RunStore(string root)
{
    public string Root { get; } = root;
    public string LockPath => Path.Combine(Root, "lock");
    private string CurrentPath => Path.Combine(Root, "current");

    public string RunDirectory(string runId) => Path.Combine(Root, "runs", runId);
    public string JournalPath(string runId) => Path.Combine(RunDirectory(runId), "journal.jsonl");

    /// <summary>The run that started and has not completed or been aborted, if any.</summary>
    public string? Current => File.Exists(CurrentPath) ? File.ReadAllText(CurrentPath).Trim() is { Length: > 0 } id ? id : null : null;

    public void SetCurrent(string runId)
    {
        Directory.CreateDirectory(Root);
        var tmp = CurrentPath + ".tmp";
        File.WriteAllText(tmp, runId);
        File.Move(tmp, CurrentPath, overwrite: true);
    }

    public void ClearCurrent() => File.Delete(CurrentPath);

    /// <summary>Every run folder, newest first.</summary>
    public IReadOnlyList<string> Runs() =>
        Directory.Exists(Path.Combine(Root, "runs"))
            ? Directory.GetDirectories(Path.Combine(Root, "runs")).Select(Path.GetFileName).OfType<string>().OrderDescending(StringComparer.Ordinal).ToList()
            : [];

    public static string NewRunId(DateTimeOffset now) =>
        $"{now.UtcDateTime:yyyyMMdd-HHmmss}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3))}";
}
