using System.Text.Json;
using Failover.Core.Backup;
using Failover.Driver.Logging;
using Serilog;

namespace Failover.Driver.Backup;

/// <summary>What a <c>restic backup --json</c> run reported in its summary message.</summary>
public sealed record BackupSummary(string SnapshotId, long TotalBytesProcessed, long DataAdded, int FilesNew);

/// <summary>The outcome of <c>restic check</c>: whether the repository (or the sampled part of it) is intact.</summary>
public sealed record RepositoryCheck(bool Intact, string ReadDataSubset, string Detail);

/// <summary>The backup repository as the driver needs it: the narrow edge the catalog, backup and restore use.</summary>
public interface IBackupRepository
{
    Task InitAsync(CancellationToken cancellation);
    Task<BackupSummary> BackupDirectoryAsync(string directory, IReadOnlyList<string> tags, CancellationToken cancellation);
    /// <summary>Stores what <paramref name="write"/> writes as one file named <paramref name="fileName"/>, without a temporary copy.</summary>
    Task<BackupSummary> BackupStreamAsync(string fileName, IReadOnlyList<string> tags, Func<Stream, CancellationToken, Task> write, CancellationToken cancellation);
    Task<IReadOnlyList<BackupSnapshot>> SnapshotsAsync(IReadOnlyList<string> tags, CancellationToken cancellation);
    /// <summary>Streams one file (or, for "/", a tar of the tree) of a snapshot into <paramref name="read"/>.</summary>
    Task DumpAsync(string snapshotId, string path, Func<Stream, CancellationToken, Task> read, CancellationToken cancellation);
    /// <summary>Restores a snapshot; <paramref name="bytesRestored"/> hears restic's progress where restic reports it.</summary>
    Task RestoreAsync(string snapshotId, string targetDirectory, CancellationToken cancellation, Action<long>? bytesRestored = null);
    Task<RepositoryCheck> CheckAsync(string readDataSubset, CancellationToken cancellation);
    Task ForgetAsync(IReadOnlyList<string> snapshotIds, CancellationToken cancellation);
}

/// <summary>Where the restic repository is and how to open it. The password is a secret: it travels only in the environment.</summary>
public sealed record ResticSettings(string Repository, string Password, string Executable = "restic")
{
    /// <summary>Storage credentials restic reads from the environment (AWS_ACCESS_KEY_ID...); secrets too.</summary>
    public IReadOnlyDictionary<string, string> Credentials { get; init; } = new Dictionary<string, string>();

    public override string ToString() => $"restic repository {Repository}";
}

/// <summary>A restic command failed; the message carries restic's own explanation from stderr.</summary>
public class ResticException(string message, int exitCode) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>restic could not take its lock: someone else holds it (or held it and died). Not damage.</summary>
public sealed class ResticLockedException(string message, int exitCode) : ResticException(message, exitCode);

/// <summary>
/// The restic adapter: runs the restic binary with <c>--json</c> and parses its answers. The repository and
/// password are passed as RESTIC_REPOSITORY and RESTIC_PASSWORD, never on the command line (where any
/// local user could read them in the process list), and the password is registered for redaction.
/// </summary>
public sealed class ResticRepository : IBackupRepository
{
    private readonly ResticSettings _settings;
    private readonly ILogger _log;
    private readonly SecretRegistry _secrets;
    private readonly Dictionary<string, string?> _environment;

    public ResticRepository(ResticSettings settings, SecretRegistry secrets, ILogger log)
    {
        _settings = settings;
        _secrets = secrets;
        _log = log.ForContext("Component", "restic");
        secrets.Add(settings.Password);
        _environment = new()
        {
            ["RESTIC_REPOSITORY"] = settings.Repository,
            ["RESTIC_PASSWORD"] = settings.Password,
            ["RESTIC_PASSWORD_FILE"] = null,
            ["RESTIC_PASSWORD_COMMAND"] = null,
            ["RESTIC_PROGRESS_FPS"] = "0.2",
        };
        foreach (var (key, value) in settings.Credentials)
        {
            secrets.Add(value);
            _environment[key] = value;
        }
    }

    public async Task InitAsync(CancellationToken cancellation) =>
        await RunAsync(["init"], cancellation);

    public async Task<BackupSummary> BackupDirectoryAsync(string directory, IReadOnlyList<string> tags, CancellationToken cancellation)
    {
        // Backing up "." from inside the directory stores its contents at the snapshot root, so a
        // restore lands in any target directory without the source's absolute path around it.
        var result = await RunAsync(["backup", "--json", .. TagArgs(tags), "."], cancellation, workingDirectory: directory);
        return ParseSummary(result.StandardOutput);
    }

    public async Task<BackupSummary> BackupStreamAsync(string fileName, IReadOnlyList<string> tags, Func<Stream, CancellationToken, Task> write, CancellationToken cancellation)
    {
        var result = await RunAsync(["backup", "--json", "--stdin", "--stdin-filename", fileName, .. TagArgs(tags)], cancellation, write: write);
        return ParseSummary(result.StandardOutput);
    }

    public async Task<IReadOnlyList<BackupSnapshot>> SnapshotsAsync(IReadOnlyList<string> tags, CancellationToken cancellation)
    {
        // One --tag with a comma list means "all of these tags" to restic.
        string[] filter = tags.Count == 0 ? [] : ["--tag", string.Join(',', tags)];
        var result = await RunAsync(["snapshots", "--no-lock", "--json", .. filter], cancellation);
        return ParseSnapshots(result.StandardOutput);
    }

    public async Task DumpAsync(string snapshotId, string path, Func<Stream, CancellationToken, Task> read, CancellationToken cancellation) =>
        await RunAsync(["dump", "--no-lock", snapshotId, path], cancellation, read: read);

    public async Task RestoreAsync(string snapshotId, string targetDirectory, CancellationToken cancellation, Action<long>? bytesRestored = null)
    {
        if (bytesRestored is null) { await RunAsync(["restore", "--no-lock", snapshotId, "--target", targetDirectory], cancellation); return; }
        // restic 0.16 and later print status lines with --json while they restore; 0.14 (Debian 12) prints one plain line.
        await RunAsync(["restore", "--no-lock", "--json", snapshotId, "--target", targetDirectory], cancellation, read: async (stdout, ct) =>
        {
            using var reader = new StreamReader(stdout, leaveOpen: true); // the process adapter drains and closes it
            while (await reader.ReadLineAsync(ct) is { } line)
                if (RestoredBytes(line) is { } bytes) bytesRestored(bytes);
        });
    }

    /// <summary>
    /// bytes_restored of a restic <c>restore --json</c> status or summary line, null for any other line. The fields are
    /// restic's documented JSON output (https://restic.readthedocs.io/en/stable/075_scripting.html#restore).
    /// </summary>
    internal static long? RestoredBytes(string line)
    {
        if (!line.StartsWith('{')) return null;
        try
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            return root.TryGetProperty("message_type", out var type) && type.GetString() is "status" or "summary"
                   && root.TryGetProperty("bytes_restored", out var bytes) && bytes.TryGetInt64(out var n) ? n : null;
        }
        catch (JsonException) { return null; }
    }

    public async Task<RepositoryCheck> CheckAsync(string readDataSubset, CancellationToken cancellation)
    {
        // --no-lock: the check only reads, and the driver never prunes; a backup running beside it only adds packs,
        // which check reports as non-critical. An exclusive lock would block production's backups, and a check
        // killed with the driver would leave it behind for every later run.
        var call = Call(["check", "--no-lock", "--read-data-subset", readDataSubset]);
        _log.Debug("restic {Command}", "check");
        var result = await ChildProcess.RunAsync(call, cancellation);
        // Exit code 1 is restic's "errors were found" but also its "could not lock": a lock is no damage.
        if (result.ExitCode != 0 && LockHolder(result.StandardError) is { } holder)
            throw new ResticLockedException($"restic check could not run: the repository is locked ({holder}); not damage. " +
                "If that process is gone (a killed run), `failover unlock` removes its stale lock", result.ExitCode);
        if (result.ExitCode is not (0 or 1)) throw Failure("check", result);
        var detail = result.ExitCode == 0 ? "no errors were found" : FirstLines(result.StandardError + result.StandardOutput);
        return new RepositoryCheck(result.ExitCode == 0, readDataSubset, detail);
    }

    /// <summary>Who holds the lock restic could not take ("locked exclusively by PID 13089 on vm by root"), or null when stderr is about something else.</summary>
    internal static string? LockHolder(string stderr)
    {
        var at = stderr.IndexOf("repository is already locked", StringComparison.Ordinal);
        if (at < 0) return stderr.Contains("unable to create lock", StringComparison.Ordinal) ? "unable to create a lock" : null;
        var line = stderr[at..].Split('\n')[0].Trim();
        return line["repository is already ".Length..];
    }

    /// <summary>A lock restic keeps in the repository: who took it, when, and whether its process is gone.</summary>
    public sealed record ResticLock(string Id, string Host, int Pid, string User, DateTimeOffset Time, bool Exclusive)
    {
        /// <summary>restic's own rule: taken on this host by a process that no longer exists (or older than 30 minutes, restic's refresh limit).</summary>
        public bool IsStale(DateTimeOffset now) =>
            (string.Equals(Host, Environment.MachineName, StringComparison.OrdinalIgnoreCase) && !Engine.RunLock.ProcessExists(Pid))
            || now - Time > TimeSpan.FromMinutes(30);

        public override string ToString() =>
            $"{(Exclusive ? "exclusive" : "shared")} lock {Id[..Math.Min(8, Id.Length)]} of pid {Pid} on {Host} by {User}, taken {Time:u}";
    }

    /// <summary>The repository's locks (read without taking one).</summary>
    public async Task<IReadOnlyList<ResticLock>> LocksAsync(CancellationToken cancellation)
    {
        var ids = (await RunAsync(["list", "locks", "--no-lock"], cancellation)).StandardOutput
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var locks = new List<ResticLock>();
        foreach (var id in ids)
        {
            ProgramResult cat;
            try { cat = await RunAsync(["cat", "lock", id, "--no-lock"], cancellation); }
            catch (ResticException) { continue; } // removed meanwhile by its owner
            using var doc = JsonDocument.Parse(cat.StandardOutput);
            var r = doc.RootElement;
            locks.Add(new ResticLock(id, r.GetProperty("hostname").GetString() ?? "", r.GetProperty("pid").GetInt32(),
                r.TryGetProperty("username", out var u) ? u.GetString() ?? "" : "", r.GetProperty("time").GetDateTimeOffset(),
                r.TryGetProperty("exclusive", out var x) && x.GetBoolean()));
        }
        return locks;
    }

    /// <summary>Removes the stale locks (restic unlock removes exactly those) and returns the ones it removed.</summary>
    public async Task<IReadOnlyList<ResticLock>> RemoveStaleLocksAsync(TimeProvider clock, CancellationToken cancellation)
    {
        var stale = (await LocksAsync(cancellation)).Where(l => l.IsStale(clock.GetUtcNow())).ToList();
        if (stale.Count > 0) await RunAsync(["unlock"], cancellation);
        var left = (await LocksAsync(cancellation)).Select(l => l.Id).ToHashSet();
        return stale.Where(l => !left.Contains(l.Id)).ToList();
    }

    public async Task ForgetAsync(IReadOnlyList<string> snapshotIds, CancellationToken cancellation)
    {
        if (snapshotIds.Count > 0) await RunAsync(["forget", .. snapshotIds], cancellation);
    }

    internal static BackupSummary ParseSummary(string jsonLines)
    {
        foreach (var line in jsonLines.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!line.StartsWith('{')) continue;
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.TryGetProperty("message_type", out var type) && type.GetString() == "summary")
                return new BackupSummary(
                    root.GetProperty("snapshot_id").GetString()!,
                    root.TryGetProperty("total_bytes_processed", out var total) ? total.GetInt64() : 0,
                    root.TryGetProperty("data_added", out var added) ? added.GetInt64() : 0,
                    root.TryGetProperty("files_new", out var files) ? files.GetInt32() : 0);
        }
        throw new ResticException("restic backup finished without a summary message (no snapshot was reported)", 0);
    }

    internal static IReadOnlyList<BackupSnapshot> ParseSnapshots(string json)
    {
        var text = json.Trim();
        if (text.Length == 0 || text == "null") return [];
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.EnumerateArray().Select(s => new BackupSnapshot(
            s.GetProperty("id").GetString()!,
            s.TryGetProperty("short_id", out var shortId) ? shortId.GetString()! : s.GetProperty("id").GetString()![..8],
            s.GetProperty("time").GetDateTimeOffset(),
            Strings(s, "tags"),
            Strings(s, "paths"))).ToList();
    }

    private static IReadOnlyList<string> Strings(JsonElement e, string name) =>
        e.TryGetProperty(name, out var array) && array.ValueKind == JsonValueKind.Array
            ? array.EnumerateArray().Select(x => x.GetString()!).ToList()
            : [];

    private static IEnumerable<string> TagArgs(IReadOnlyList<string> tags) => tags.SelectMany(t => new[] { "--tag", t });

    private ProgramCall Call(IReadOnlyList<string> arguments, string? workingDirectory = null) =>
        new(_settings.Executable, arguments, _environment, workingDirectory);

    private async Task<ProgramResult> RunAsync(
        IReadOnlyList<string> arguments,
        CancellationToken cancellation,
        string? workingDirectory = null,
        Func<Stream, CancellationToken, Task>? write = null,
        Func<Stream, CancellationToken, Task>? read = null)
    {
        _log.Debug("restic {Command} {Arguments}", arguments[0], arguments.Skip(1).ToArray());
        var result = await ChildProcess.RunAsync(Call(arguments, workingDirectory), cancellation, write, read);
        if (result.ExitCode != 0) throw Failure(arguments[0], result);
        return result;
    }

    private ResticException Failure(string command, ProgramResult result) => LockHolder(result.StandardError) is { } holder
        // restic's lock refusal names the holder on its first line and ends with a hint; the holder is what the operator needs.
        ? new(new Engine.ToolFailure($"restic {command}", $"on the vault {_settings.Repository}", $"exit {result.ExitCode}", $"the repository is {holder}",
            "If that process is gone (a killed run), `failover unlock` removes its stale lock; then run the command again").Message, result.ExitCode)
        : new(Engine.ToolFailure.Exited($"restic {command}", $"on the vault {_settings.Repository}", result.ExitCode, result.StandardError,
            "Check that the vault can be reached and its password and keys are right (`restic snapshots` with the same RESTIC_REPOSITORY), then run the command again",
            _secrets).Message, result.ExitCode);

    private static string FirstLines(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !l.StartsWith('{') && !l.StartsWith('[')).Take(6);
        return string.Join(" | ", lines);
    }
}
