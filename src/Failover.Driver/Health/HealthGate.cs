using Failover.Driver.Polling;
using Serilog;

namespace Failover.Driver.Health;

/// <summary>What one probe saw: healthy or not, and in words what it saw.</summary>
public sealed record ProbeResult(bool Healthy, string Detail)
{
    public static ProbeResult Pass(string detail) => new(true, detail);
    public static ProbeResult Fail(string detail) => new(false, detail);
}

/// <summary>One check of the new site: an HTTP page, a TCP port, a SQL query.</summary>
public interface IHealthProbe
{
    /// <summary>What is probed, for reports: "http https://app.example.com/health".</summary>
    string Name { get; }

    /// <summary>Probes once, bounded by the probe's own timeout; failures are results, not exceptions.</summary>
    Task<ProbeResult> ProbeAsync(CancellationToken cancellation);
}

/// <summary>One probe run by the gate, when it ran and what it saw.</summary>
public sealed record ProbeAttempt(int Round, string Probe, DateTimeOffset At, bool Healthy, string Detail);

/// <summary>The gate's answer: may the cutover go ahead, with every attempt that led to it.</summary>
public sealed record GateVerdict(bool Healthy, IReadOnlyList<ProbeAttempt> Attempts, string Summary);

/// <summary>
/// The health gate before DNS moves: runs every probe in rounds until one round passes them all, or the
/// deadline passes. An unhealthy verdict is an ordinary result the engine stops on; DNS is then untouched.
/// </summary>
public sealed class HealthGate(IReadOnlyList<IHealthProbe> probes, TimeProvider time, ILogger log)
{
    private readonly ILogger _log = log.ForContext<HealthGate>().ForContext("Step", "gate");

    public async Task<GateVerdict> RunAsync(TimeSpan deadline, TimeSpan interval, CancellationToken cancellation)
    {
        if (probes.Count == 0) throw new InvalidOperationException("a health gate without probes would pass any site: configure at least one probe");
        var schedule = new PollSchedule(time, deadline, interval);
        var attempts = new List<ProbeAttempt>();
        var round = 0;
        var lastOutcome = new Dictionary<string, bool>();
        do
        {
            round++;
            // All probes of a round run together: the site must be healthy as a whole at one moment.
            var at = schedule.Now;
            var results = await Task.WhenAll(probes.Select(p => SafelyAsync(p, cancellation)));
            for (var i = 0; i < probes.Count; i++)
            {
                var attempt = new ProbeAttempt(round, probes[i].Name, at, results[i].Healthy, results[i].Detail);
                attempts.Add(attempt);
                // A long wait repeats the same failure many times: say it once, and say every change.
                var changed = !lastOutcome.TryGetValue(attempt.Probe, out var before) || before != attempt.Healthy;
                lastOutcome[attempt.Probe] = attempt.Healthy;
                _log.Write(changed ? Serilog.Events.LogEventLevel.Information : Serilog.Events.LogEventLevel.Debug,
                    "Probe {Probe} round {Round}: {Outcome} ({Detail})", attempt.Probe, round, attempt.Healthy ? "healthy" : "unhealthy", attempt.Detail);
            }
            if (results.All(r => r.Healthy))
            {
                var passed = $"healthy: all {probes.Count} probes passed in round {round}, {(at - schedule.StartedAt).TotalSeconds:0.#}s after the gate opened";
                _log.Information("Health gate passed: {Summary}", passed);
                return new GateVerdict(true, attempts, passed);
            }
        } while (await schedule.WaitForNextAsync(cancellation));

        var failing = attempts.Where(a => a.Round == round && !a.Healthy).Select(a => $"{a.Probe}: {a.Detail}");
        var summary = $"unhealthy: not every probe passed within {deadline.TotalSeconds:0.#}s ({round} rounds); still failing: " +
            string.Join("; ", failing) + "\nattempts:\n" +
            string.Join("\n", attempts.Select(a =>
                $"  #{a.Round} +{(a.At - schedule.StartedAt).TotalSeconds:0.#}s {a.Probe}: {(a.Healthy ? "ok" : "FAILED")} {a.Detail}"));
        _log.Error("Health gate failed, DNS stays as it is: {Summary}", summary);
        return new GateVerdict(false, attempts, summary);
    }

    private static async Task<ProbeResult> SafelyAsync(IHealthProbe probe, CancellationToken cancellation)
    {
        try { return await probe.ProbeAsync(cancellation); }
        catch (Exception e) when (e is not OperationCanceledException || !cancellation.IsCancellationRequested)
        {
            return ProbeResult.Fail($"probe error: {e.Message}");
        }
    }
}
