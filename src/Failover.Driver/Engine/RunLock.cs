using System.Diagnostics;
using System.Text.Json;
using Failover.Driver.RunState;
using Serilog;

namespace Failover.Driver.Engine;

/// <summary>
/// Who holds the run lock: enough for an operator to find them. <see cref="LeaseUntil"/> is pushed forward by the
/// holder while it runs; locks written before leases existed have none.
/// </summary>
public sealed record LockOwner(string Host, int Pid, DateTimeOffset StartedAt, string RunId, string Command, DateTimeOffset? LeaseUntil = null);

/// <summary>This machine's name in locks and journals: <c>FAILOVER_HOST</c> when set (a shared jump host's operators, the tests' two machines), else the host name.</summary>
public static class OperatorHost
{
    public const string Variable = "FAILOVER_HOST";

    public static string Name => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } host ? host : Environment.MachineName;
}

/// <summary>
/// One run at a time per project: the lock object is created with a conditional write (a file created
/// exclusively, or an S3 PUT with If-None-Match), so of two machines exactly one gets it. The holder renews a
/// lease in the background; a lock whose lease ran out, or whose process is gone from this host, is stale, and
/// only `failover unlock` breaks it, saying whose it was.
/// </summary>
public sealed class RunLock : IDisposable
{
    public const string Key = "lock";
    /// <summary>The lease when nothing sets it: runtime option lockLease's default.</summary>
    public static readonly TimeSpan DefaultLease = Core.Planning.RuntimeOptions.Default.LockLease;

    private readonly IRunStateStore _store;
    private readonly string _key;
    private readonly TimeSpan _lease;
    private readonly ILogger? _log;
    private readonly Lock _gate = new();
    private readonly Thread _renewal;
    private readonly ManualResetEventSlim _stopped = new();
    private LockOwner _owner;
    private string _version;
    private bool _held = true;

    private RunLock(IRunStateStore store, string key, LockOwner owner, string version, TimeSpan lease, ILogger? log)
    {
        (_store, _key, _owner, _version, _lease, _log) = (store, key, owner, version, lease, log);
        var every = TimeSpan.FromTicks(Math.Max(lease.Ticks / 3, TimeSpan.FromMilliseconds(200).Ticks));
        // A thread of its own, not a thread-pool timer: a run whose pool is busy with blocking steps must still
        // renew, or a second machine sees the lease run out while this one is working.
        _renewal = new Thread(() => { while (!_stopped.Wait(every)) Renew(); }) { IsBackground = true, Name = "run-lock-lease" };
        _renewal.Start();
    }

    /// <summary>True once a renewal found the lock changed: someone broke it, and another process may be running this run.</summary>
    public bool Lost { get; private set; }

    public static RunLock Acquire(string path, LockOwner owner) =>
        Acquire(new DirectoryRunStateStore(Path.GetDirectoryName(path)!), owner, DefaultLease, null, Path.GetFileName(path));

    public static RunLock Acquire(IRunStateStore store, LockOwner owner, TimeSpan lease, ILogger? log = null, string key = Key)
    {
        var leased = owner with { LeaseUntil = DateTimeOffset.UtcNow + lease };
        var version = store.TryCreate(key, Serialize(leased));
        if (version is null)
        {
            var holder = Inspect(store, key);
            throw new LockHeldException($"{store.Location}/{key}", holder, holder is not null && IsStale(holder));
        }
        log?.Information("Run lock taken at {Location} by {Host} pid {Pid}, lease {Lease}", store.Location, leased.Host, leased.Pid, lease);
        return new RunLock(store, key, leased, version, lease, log);
    }

    public static LockOwner? Inspect(string path) => Inspect(new DirectoryRunStateStore(Path.GetDirectoryName(path)!), Path.GetFileName(path));

    public static LockOwner? Inspect(IRunStateStore store, string key = Key) => Read(store, key)?.Owner;

    /// <summary>The lock as stored: its owner (null when unreadable) and the version a conditional delete names; null when free.</summary>
    public static (LockOwner? Owner, string Version)? Read(IRunStateStore store, string key = Key)
    {
        // A file lock is written right after it is created: a reader may catch it empty for a moment.
        for (var attempt = 0; ; attempt++)
        {
            var stored = store.Read(key);
            if (stored is null) return null;
            try { return (JsonSerializer.Deserialize<LockOwner>(stored.Content), stored.Version); }
            catch (JsonException)
            {
                if (attempt >= 20) return (null, stored.Version);
                Thread.Sleep(50);
            }
        }
    }

    public static bool IsStale(LockOwner owner) => IsStale(owner, DateTimeOffset.UtcNow);

    /// <summary>Stale when its lease ran out without renewal, or it was taken on this host by a process that no longer exists.</summary>
    public static bool IsStale(LockOwner owner, DateTimeOffset now)
    {
        if (owner.LeaseUntil is { } until && now > until) return true;
        if (!string.Equals(owner.Host, OperatorHost.Name, StringComparison.OrdinalIgnoreCase)) return false;
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

    private void Renew()
    {
        lock (_gate)
        {
            if (!_held || Lost) return;
            var next = _owner with { LeaseUntil = DateTimeOffset.UtcNow + _lease };
            try
            {
                if (_store.TryReplace(_key, Serialize(next), _version) is { } version) (_owner, _version) = (next, version);
                else
                {
                    Lost = true;
                    var now = Inspect(_store, _key);
                    _log?.Error("The run lock at {Location} was broken and is now {Holder}: another process may continue run {RunId}; this one stops at its next journal record",
                        _store.Location, now?.ToString() ?? "free", _owner.RunId);
                }
            }
            catch (Exception e) when (e is RunStateUnavailableException or IOException)
            {
                // One missed renewal is not fatal: the lease is three renewals long.
                _log?.Warning("Could not renew the run lock at {Location}: {Error}", _store.Location, e.Message);
            }
        }
    }

    private static byte[] Serialize(LockOwner owner) => JsonSerializer.SerializeToUtf8Bytes(owner);

    public void Dispose()
    {
        _stopped.Set();
        if (Thread.CurrentThread != _renewal) _renewal.Join();
        lock (_gate)
        {
            if (!_held) return;
            _held = false;
            if (Lost) return; // not ours any more: leave whoever holds it alone
            try
            {
                // Only the lock this process wrote is removed (a conditional delete on its version); one broken and retaken meanwhile stays.
                if (!_store.TryDelete(_key, _version))
                    _log?.Warning("The run lock at {Location} was no longer this process's when it was released: left as it is", _store.Location);
            }
            catch (Exception e) when (e is RunStateUnavailableException or IOException)
            {
                _log?.Warning("Could not release the run lock at {Location}: {Error}; its lease runs out at {Until}", _store.Location, e.Message, _owner.LeaseUntil);
            }
        }
    }
}

/// <summary>Another run holds the lock.</summary>
public sealed class LockHeldException(string path, LockOwner? owner, bool stale) : Exception(Describe(path, owner, stale))
{
    public LockOwner? Owner { get; } = owner;
    public bool Stale { get; } = stale;

    private static string Describe(string path, LockOwner? o, bool stale) => o is null
        ? $"another failover holds the lock {path} (its owner cannot be read); if no failover is running, run `failover unlock --force`"
        : $"another failover is running: `{o.Command}` (run {o.RunId}) on host {o.Host}, pid {o.Pid}, since {o.StartedAt:u}" +
          (o.LeaseUntil is { } until ? $", lease until {until:u}" : "") + $" (lock {path}). " +
          (stale
              ? (o.LeaseUntil is { } ran && DateTimeOffset.UtcNow > ran
                  ? $"Its lease ran out at {ran:u} without renewal: the lock is stale; run `failover unlock` to break it, then `failover resume`."
                  : "That process no longer exists: the lock is stale; run `failover unlock` to break it, then `failover resume`.")
              : "Wait for it, or stop it (Ctrl-C in its terminal) and then `failover resume` or `failover abort`." +
                (o.LeaseUntil is not null ? " If its machine is gone, the lock turns stale when the lease runs out without renewal: then `failover unlock` and `failover resume` from here." : ""));
}
