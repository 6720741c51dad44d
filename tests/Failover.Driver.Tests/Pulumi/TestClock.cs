namespace Failover.Driver.Tests.Pulumi;

/// <summary>
/// A clock for deterministic tests: waits up to <see cref="SkipUpTo"/> (retry backoff) pass at once and
/// are recorded; longer ones (time limits) fire only when the test calls <see cref="Advance"/>.
/// </summary>
public sealed class TestClock : TimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<ClockTimer> _timers = [];
    private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public TimeSpan SkipUpTo { get; init; } = TimeSpan.FromMinutes(1);
    public List<TimeSpan> Skipped { get; } = [];

    public override DateTimeOffset GetUtcNow() { lock (_gate) return _now; }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ClockTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    public void Advance(TimeSpan by)
    {
        List<ClockTimer> due;
        lock (_gate)
        {
            _now += by;
            due = _timers.Where(t => t.DueAt <= _now).ToList();
            foreach (var t in due) _timers.Remove(t);
        }
        foreach (var t in due) t.Fire();
    }

    private sealed class ClockTimer(TestClock clock, TimerCallback callback, object? state) : ITimer
    {
        public DateTimeOffset DueAt { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (clock._gate) clock._timers.Remove(this);
            if (dueTime == Timeout.InfiniteTimeSpan) return true;
            if (dueTime <= clock.SkipUpTo)
            {
                lock (clock._gate) clock.Skipped.Add(dueTime);
                ThreadPool.QueueUserWorkItem(_ => Fire());
                return true;
            }
            lock (clock._gate)
            {
                DueAt = clock._now + dueTime;
                clock._timers.Add(this);
            }
            return true;
        }

        public void Fire() => callback(state);

        public void Dispose() { lock (clock._gate) clock._timers.Remove(this); }
        public ValueTask DisposeAsync() { Dispose(); return default; }
    }
}
