using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Failover.Core.Sites;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Backup;

/// <summary>
/// The control request against the real health daemon (the handler a data server with a backup agent runs, started here
/// as python3 with the credential and state directories systemd would give it, on 127.0.11.1): only a fresh request
/// signed with the site's key, for this site, after its restore, writes the trigger the root path unit starts the agent
/// from; a bad signature, a stale time, a replay, another site's name and a server without a key change nothing.
/// </summary>
public sealed class BackupControlTests : IDisposable
{
    private const string Address = "127.0.11.1";
    private const string Site = "standby-hel1";
    private static readonly string Key = SiteUserData.PlaceholderControlKey;

    private readonly string _dir = Directory.CreateTempSubdirectory("failover-control-").FullName;
    private readonly HttpClient _http = Failover.Driver.Backup.CloudBackupAgents.ControlClient();
    private readonly List<Process> _daemons = [];

    private string State => Path.Combine(_dir, "state");
    private string Document => Path.Combine(_dir, "health.json");
    private string Trigger => Path.Combine(State, BackupControl.TriggerName);

    /// <summary>The daemon as systemd starts it: the key in $CREDENTIALS_DIRECTORY (none: a server without an agent), state in $STATE_DIRECTORY.</summary>
    private async Task<string> StartDaemonAsync(bool withKey)
    {
        var credentials = Directory.CreateDirectory(Path.Combine(_dir, withKey ? "credentials" : "no-credentials")).FullName;
        if (withKey) File.WriteAllText(Path.Combine(credentials, BackupControl.Credential), BackupControl.CheckedKey(Key, Site) + "\n");
        Directory.CreateDirectory(State);
        var script = Path.Combine(_dir, "health.py");
        File.WriteAllText(script, BootstrapScript.Handler(control: true));
        var port = Processes.FreePort();
        var start = new ProcessStartInfo("python3", [script, port.ToString(CultureInfo.InvariantCulture), "/health", Document]) { RedirectStandardError = true };
        start.Environment["FAILOVER_HEALTH_BIND"] = Address;
        start.Environment["CREDENTIALS_DIRECTORY"] = credentials;
        start.Environment["STATE_DIRECTORY"] = State;
        var daemon = Process.Start(start)!;
        _daemons.Add(daemon);
        var health = $"http://{Address}:{port}/health";
        for (var i = 0; i < 100; i++)
        {
            try { await _http.GetAsync(health); return BackupControl.Url(Address, new ServiceSettings([443], port, "/health", null)); }
            catch (HttpRequestException) when (!daemon.HasExited) { await Task.Delay(100); }
        }
        throw new InvalidOperationException($"the health daemon did not start: {await daemon.StandardError.ReadToEndAsync()}");
    }

    private async Task<(HttpStatusCode Code, string Answer)> SendAsync(string url, string body, string signature)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add(BackupControl.SignatureHeader, signature);
        try
        {
            using var response = await _http.SendAsync(request);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        catch (HttpRequestException e)
        {
            // The daemon's traceback says why it answered nothing.
            var daemon = _daemons[^1];
            daemon.Kill();
            throw new InvalidOperationException($"the daemon answered nothing: {await daemon.StandardError.ReadToEndAsync()}", e);
        }
    }

    private static string Fresh(string site = Site, DateTimeOffset? at = null) =>
        BackupControl.Body(BackupControl.StartBackups, site, at ?? DateTimeOffset.UtcNow, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)));

    /// <summary>The signature with its last hex digit changed: one bit of difference is enough to be refused.</summary>
    private static string Flipped(string signature) => signature[..^1] + (signature[^1] == '0' ? '1' : '0');

    private void Restored(string stack = Site) => File.WriteAllText(Document, HealthDocument.Render(stack, stack + "-db-1", new Dictionary<string, string>()));

    [Fact]
    public async Task Only_a_fresh_request_signed_with_the_site_s_key_after_its_restore_starts_the_agent_and_a_replay_changes_nothing()
    {
        var url = await StartDaemonAsync(withKey: true);

        // Before the restore has finished: the agent would back up half-restored tenants.
        var early = Fresh();
        var (code, answer) = await SendAsync(url, early, BackupControl.Sign(Key, early));
        Assert.Equal(HttpStatusCode.Conflict, code);
        Assert.Contains("not ready", answer);
        Assert.False(File.Exists(Trigger));
        Restored();

        // Signed with another key, or unsigned, or the body changed after signing.
        var body = Fresh();
        foreach (var signature in new[] { BackupControl.Sign(Key.ToLowerInvariant(), body), "", Flipped(BackupControl.Sign(Key, body)) })
        {
            (code, answer) = await SendAsync(url, body, signature);
            Assert.Equal(HttpStatusCode.Unauthorized, code);
            Assert.Contains("bad signature", answer);
        }
        (code, _) = await SendAsync(url, body.Replace(Site, "standby-aws"), BackupControl.Sign(Key, body));
        Assert.Equal(HttpStatusCode.Unauthorized, code);

        // Signed right, but outside the window either way.
        foreach (var at in new[] { DateTimeOffset.UtcNow - BackupControl.Window - TimeSpan.FromSeconds(30), DateTimeOffset.UtcNow + BackupControl.Window + TimeSpan.FromSeconds(30) })
        {
            var stale = Fresh(at: at);
            (code, answer) = await SendAsync(url, stale, BackupControl.Sign(Key, stale));
            Assert.Equal(HttpStatusCode.Unauthorized, code);
            Assert.Contains("stale", answer);
        }

        // Signed right for another site (its key leaked here, say): this server is not that site.
        var other = Fresh("prod-fsn1");
        (code, _) = await SendAsync(url, other, BackupControl.Sign(Key, other));
        Assert.Equal(HttpStatusCode.Conflict, code);
        Assert.False(File.Exists(Trigger), "a refused request wrote the trigger");
        Assert.False(File.Exists(Path.Combine(State, "nonces.json")), "a refused request was remembered");

        // The real one: accepted, the trigger written.
        (code, answer) = await SendAsync(url, body, BackupControl.Sign(Key, body));
        Assert.True(code == HttpStatusCode.Accepted, answer);
        Assert.Contains(BackupControl.StartBackups, answer);
        var written = File.ReadAllText(Trigger);
        var stamp = File.GetLastWriteTimeUtc(Trigger);

        // The same bytes again (captured on the wire): refused, the trigger untouched.
        await Task.Delay(20);
        (code, answer) = await SendAsync(url, body, BackupControl.Sign(Key, body));
        Assert.Equal(HttpStatusCode.Unauthorized, code);
        Assert.Contains("replayed", answer);
        Assert.Equal(written, File.ReadAllText(Trigger));
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(Trigger));

        // A new request is accepted too: starting an agent that runs is no change (the root unit checks the timer first).
        var again = Fresh();
        (code, _) = await SendAsync(url, again, BackupControl.Sign(Key, again));
        Assert.Equal(HttpStatusCode.Accepted, code);

        // The nonces outlive the daemon: a restart does not reopen the replay.
        foreach (var d in _daemons) d.Kill();
        url = await StartDaemonAsync(withKey: true);
        written = File.ReadAllText(Trigger);
        (code, answer) = await SendAsync(url, again, BackupControl.Sign(Key, again));
        Assert.Equal(HttpStatusCode.Unauthorized, code);
        Assert.Contains("replayed", answer);
        Assert.Equal(written, File.ReadAllText(Trigger));
    }

    [Fact]
    public async Task A_server_without_a_key_a_rehearsal_copy_refuses_every_request()
    {
        var url = await StartDaemonAsync(withKey: false);
        Restored();
        var body = Fresh();
        var (code, answer) = await SendAsync(url, body, BackupControl.Sign(Key, body));
        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Contains("no backup agent", answer);
        Assert.False(File.Exists(Trigger));
        // And a server without the control part answers no POST at all.
        Assert.DoesNotContain("do_POST", BootstrapScript.HealthHandler);
    }

    public void Dispose()
    {
        foreach (var d in _daemons)
        {
            if (!d.HasExited) d.Kill();
            d.Dispose();
        }
        _http.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
