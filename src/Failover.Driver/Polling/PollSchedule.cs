namespace Failover.Driver.Polling;

/// <summary>When to try again and when to give up: a deadline and an interval measured on an injected clock.</summary>
public sealed class PollSchedule
{
    private readonly TimeProvider _time;
    private readonly TimeSpan _interval;

    public PollSchedule(TimeProvider time, TimeSpan deadline, TimeSpan interval)
    {
        if (deadline < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(deadline), "a deadline cannot be negative");
        // A zero interval would ask as fast as the CPU allows and flood the server being watched.
        if (interval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(interval), "the poll interval must be positive");
        _time = time;
        _interval = interval;
        Deadline = deadline;
        StartedAt = time.GetUtcNow();
    }

    public TimeSpan Deadline { get; }
    public DateTimeOffset StartedAt { get; }
    public DateTimeOffset Now => _time.GetUtcNow();
    public TimeSpan Elapsed => Now - StartedAt;

    /// <summary>Waits one interval (cut short at the deadline) and returns true; returns false once the deadline has passed.</summary>
    public async Task<bool> WaitForNextAsync(CancellationToken cancellation)
    {
        var left = StartedAt + Deadline - Now;
        if (left <= TimeSpan.Zero) return false;
        await Task.Delay(left < _interval ? left : _interval, _time, cancellation);
        return true;
    }
}
