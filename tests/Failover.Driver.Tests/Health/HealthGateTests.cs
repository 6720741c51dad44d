using Failover.Driver.Health;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Health;

public sealed class HealthGateTests : IDisposable
{
    private readonly LogCapture _logs = new();

    public void Dispose() => _logs.Dispose();

    [Fact]
    public async Task An_unhealthy_site_is_given_up_at_the_deadline_with_every_attempt_listed()
    {
        var closed = new TcpProbe("127.0.0.1", Processes.ClosedPort());
        var gate = new HealthGate([closed], new SteppingClock(), _logs.Logger);

        var verdict = await gate.RunAsync(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(2), CancellationToken.None);

        Assert.False(verdict.Healthy);
        Assert.Equal(6, verdict.Attempts.Count); // at 0, 2, 4, 6, 8 and 10 s
        Assert.All(verdict.Attempts, a => Assert.False(a.Healthy));
        Assert.Contains("not every probe passed within 10s (6 rounds)", verdict.Summary);
        Assert.Contains($"{closed.Name}: connection refused", verdict.Summary);
        Assert.Contains("#1 +0s", verdict.Summary);
        Assert.Contains("#6 +10s", verdict.Summary);
        Assert.Contains("Health gate failed", _logs.Everything());
    }

    [Fact]
    public async Task A_site_that_becomes_healthy_passes_once_every_probe_passes_in_the_same_round()
    {
        var database = new Scripted("db", false, false, true);
        var web = new Scripted("web", true, false, true);
        var gate = new HealthGate([database, web], new SteppingClock(), _logs.Logger);

        var verdict = await gate.RunAsync(TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(5), CancellationToken.None);

        Assert.True(verdict.Healthy, verdict.Summary);
        Assert.Equal(3, verdict.Attempts.Max(a => a.Round));
        Assert.Contains("round 3, 10s after the gate opened", verdict.Summary);
    }

    [Fact]
    public async Task A_probe_that_throws_counts_as_unhealthy_instead_of_crashing_the_gate()
    {
        var gate = new HealthGate([new Throwing()], new SteppingClock(), _logs.Logger);

        var verdict = await gate.RunAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), CancellationToken.None);

        Assert.False(verdict.Healthy);
        Assert.Contains("probe error: boom", verdict.Summary);
    }

    [Fact]
    public async Task A_gate_without_probes_refuses_to_pass_anything()
    {
        var gate = new HealthGate([], new SteppingClock(), _logs.Logger);

        await Assert.ThrowsAsync<InvalidOperationException>(() => gate.RunAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), CancellationToken.None));
    }

    /// <summary>A probe whose outcomes are given in order, the last repeating.</summary>
    private sealed class Scripted(string name, params bool[] outcomes) : IHealthProbe
    {
        private int _calls;
        public string Name => name;

        public Task<ProbeResult> ProbeAsync(CancellationToken cancellation)
        {
            var healthy = outcomes[Math.Min(_calls++, outcomes.Length - 1)];
            return Task.FromResult(new ProbeResult(healthy, healthy ? "fine" : "not yet"));
        }
    }

    private sealed class Throwing : IHealthProbe
    {
        public string Name => "throwing";
        public Task<ProbeResult> ProbeAsync(CancellationToken cancellation) => throw new InvalidOperationException("boom");
    }
}
