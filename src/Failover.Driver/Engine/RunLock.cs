using System.Diagnostics;
using System.Text.Json;

namespace Failover.Driver.Engine;

/// <summary>Who holds the run lock: enough for an operator to find them.</summary>
public sealed record LockOwner(string Host, int Pid, DateTimeOffset StartedAt, string RunId, string Command);

/// <summary>
/// One failover at a time per project: a lock file created exclusively. A second run refuses and names
/// the owner; a lock whose process is gone (same host, dead pid) is stale and can be broken explicitly.
/// </summary>
public sealed class RunLock : IDisposable
{
    private readonly string _path;
    private bool _held;

    private RunLock(string path) { _path = path; _held = true; }

    public static RunLock Acquire(string path, LockOwner owner)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        try
        {
            using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            JsonSerializer.Serialize(stream, owner);
            stream.Flush(flushToDisk: true);
        }
        catch (IOException) when (File.Exists(path))
        {
            var holder = Inspect(path);
            throw new LockHeldException(path, holder, holder is not null && IsStale(holder));
        }
        return new RunLock(path);
    }

    public static LockOwner? Inspect(string path)
    {
        // The owner writes the file right after creating it: a reader may catch it empty for a moment.
        for (var attempt = 0; ; attempt++)
        {
            try { return JsonSerializer.Deserialize<LockOwner>(File.ReadAllText(path)); }
            catch (Exception e) when (e is IOException or JsonException)
            {
                if (attempt >= 20 || !File.Exists(path)) return null;
                Thread.Sleep(50);
            }
        }
    }

    /// <summary>Stale when it was taken on this host by a process that no longer exists.</summary>
    public static bool IsStale(LockOwner owner)
    {
        if (!string.Equals(owner.Host, Environment.MachineName, StringComparison.OrdinalIgnoreCase)) return false;
        return !ProcessExists(owner.Pid);
    }

    /// <summary>Whether a process with this id runs on this host.</summary>
    public static bool ProcessExists(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }
    }

    /// <summary>Removes the lock file; callers decide whether the owner is gone.</summary>
    public static void Break(string path) => File.Delete(path);

    public void Dispose()
    {
        if (!_held) return;
        _held = false;
        try { File.Delete(_path); } catch (IOException) { }
    }
}

/// <summary>Another failover holds the lock.</summary>
public sealed class LockHeldException(string path, LockOwner? owner, bool stale) : Exception(Describe(path, owner, stale))
{
    public LockOwner? Owner { get; } = owner;
    public bool Stale { get; } = stale;

    private static string Describe(string path, LockOwner? o, bool stale) => o is null
        ? $"another failover holds the lock {path} (its owner cannot be read); if no failover is running, run `failover unlock --force`"
        : $"another failover is running: `{o.Command}` (run {o.RunId}) on host {o.Host}, pid {o.Pid}, since {o.StartedAt:u}. " +
          (stale ? "That process no longer exists: the lock is stale; run `failover unlock` to break it, then `failover resume`."
                 : "Wait for it, or stop it (Ctrl-C in its terminal) and then `failover resume` or `failover abort`.");
}
