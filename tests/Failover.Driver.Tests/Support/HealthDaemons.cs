using System.Diagnostics;
using System.Globalization;

namespace Failover.Driver.Tests;

/// <summary>
/// Servers' health daemons (the health.py a cloud-config writes) run as their systemd unit runs them: the control key in
/// $CREDENTIALS_DIRECTORY, nonces and queue in $STATE_DIRECTORY, bound to one loopback address; killed when disposed.
/// </summary>
internal sealed class HealthDaemons : IDisposable
{
    private readonly List<Process> _started = [];

    /// <summary>The daemon started last (its stderr says why it answered nothing).</summary>
    public Process Last => _started[^1];

    /// <summary>Starts <paramref name="script"/> serving <paramref name="document"/> and returns once it answers its health path.</summary>
    public async Task StartAsync(HttpClient http, string script, string address, int port, string healthPath, string document,
        string credentials, string state, string name = "the health daemon", IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("python3", [script, port.ToString(CultureInfo.InvariantCulture), healthPath, document]) { RedirectStandardError = true };
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) start.Environment[k] = v;
        start.Environment["FAILOVER_HEALTH_BIND"] = address;
        start.Environment["CREDENTIALS_DIRECTORY"] = credentials;
        start.Environment["STATE_DIRECTORY"] = state;
        var daemon = Process.Start(start)!;
        _started.Add(daemon);
        for (var i = 0; i < 100; i++)
        {
            try { await http.GetAsync($"http://{address}:{port}{healthPath}"); return; }
            catch (HttpRequestException) when (!daemon.HasExited) { await Task.Delay(100); }
        }
        throw new InvalidOperationException($"{name} did not start: {await daemon.StandardError.ReadToEndAsync()}");
    }

    /// <summary>Kills every daemon started so far (a restart keeps only what they wrote to disk).</summary>
    public void KillAll()
    {
        foreach (var d in _started.Where(d => !d.HasExited)) d.Kill();
    }

    public void Dispose()
    {
        KillAll();
        foreach (var d in _started) d.Dispose();
    }
}
