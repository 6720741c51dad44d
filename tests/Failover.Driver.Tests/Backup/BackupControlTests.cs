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
    private readonly HttpClient _http = Failover.Driver.Backup.ControlRequests.Client;
    private readonly HealthDaemons _daemons = new();

    private string State => Path.Combine(_dir, "state");
    private string Document => Path.Combine(_dir, "health.json");
    private string Queue => Path.Combine(State, BackupControl.QueueName);
    private bool Queued => Directory.Exists(Queue) && Directory.EnumerateFiles(Queue).Any();
    private static readonly AgentFiles Agent = new("#!/bin/bash\necho agent\n", "SITE=standby-hel1\n", "[Unit]\n", "[Timer]\n");

    /// <summary>The daemon as systemd starts it: the key in $CREDENTIALS_DIRECTORY (none: a server without an agent), state in $STATE_DIRECTORY.</summary>
    private async Task<string> StartDaemonAsync(bool withKey)
    {
        var credentials = Directory.CreateDirectory(Path.Combine(_dir, withKey ? "credentials" : "no-credentials")).FullName;
        if (withKey) File.WriteAllText(Path.Combine(credentials, BackupControl.Credential), BackupControl.CheckedKey(Key, Site) + "\n");
        Directory.CreateDirectory(State);
        var script = Path.Combine(_dir, "health.py");
        File.WriteAllText(script, BootstrapScript.Handler(control: true));
        var port = Processes.FreePort();
        await _daemons.StartAsync(_http, script, Address, port, "/health", Document, credentials, State);
        return BackupControl.Url(Address, new ServiceSettings([443], port, "/health", null));
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
            var daemon = _daemons.Last;
            daemon.Kill();
            throw new InvalidOperationException($"the daemon answered nothing: {await daemon.StandardError.ReadToEndAsync()}", e);
        }
    }

    private static string Nonce() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    private static string Fresh(string site = Site, DateTimeOffset? at = null) =>
        BackupControl.StartBody(site, at ?? DateTimeOffset.UtcNow, Nonce(), Agent);

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
        Assert.False(Queued);
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
        Assert.False(Queued, "a refused request was queued");
        Assert.False(File.Exists(Path.Combine(State, "nonces.json")), "a refused request was remembered");

        // An agent whose files do not match the SHA-256 signed with them, an unknown action, a body over the limit.
        var forged = Agent with { Script = "#!/bin/bash\nrm -rf /\n" };
        var mismatched = BackupControl.StartBody(Site, DateTimeOffset.UtcNow, Nonce(), Agent).Replace(Agent.Json()["script"]!.ToJsonString(), forged.Json()["script"]!.ToJsonString());
        (code, answer) = await SendAsync(url, mismatched, BackupControl.Sign(Key, mismatched));
        Assert.Equal(HttpStatusCode.BadRequest, code);
        Assert.Contains("the agent's SHA-256 does not match its files", answer);
        var unknown = body.Replace(BackupControl.StartBackups, "reboot");
        (code, answer) = await SendAsync(url, unknown, BackupControl.Sign(Key, unknown));
        Assert.Equal(HttpStatusCode.BadRequest, code);
        Assert.Contains("unknown action 'reboot'", answer);
        var huge = BackupControl.StartBody(Site, DateTimeOffset.UtcNow, Nonce(), Agent with { Config = new string('#', BackupControl.Actions[BackupControl.StartBackups] - 600) + "\n" });
        huge = huge.Replace("\"config\":\"#", "\"config\":\"" + new string('#', 1000));
        (code, answer) = await SendAsync(url, huge, BackupControl.Sign(Key, huge));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, code);
        Assert.Contains($"a {BackupControl.StartBackups} request is at most {BackupControl.Actions[BackupControl.StartBackups]} bytes", answer);
        Assert.Throws<ArgumentException>(() => BackupControl.StartBody(Site, DateTimeOffset.UtcNow, Nonce(), Agent with { Config = new string('#', BackupControl.Actions[BackupControl.StartBackups]) }));
        Assert.False(Queued, "a refused request was queued");

        // The real one: accepted and queued for the root unit, which checks it again.
        (code, answer) = await SendAsync(url, body, BackupControl.Sign(Key, body));
        Assert.True(code == HttpStatusCode.Accepted, answer);
        Assert.Contains(BackupControl.StartBackups, answer);
        var queued = Directory.GetFiles(Queue);
        using (var q = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Assert.Single(queued))))
            Assert.Equal(body, q.RootElement.GetProperty("body").GetString());

        // The same bytes again (captured on the wire): refused, nothing more queued.
        (code, answer) = await SendAsync(url, body, BackupControl.Sign(Key, body));
        Assert.Equal(HttpStatusCode.Unauthorized, code);
        Assert.Contains("replayed", answer);
        Assert.Single(Directory.GetFiles(Queue));

        // A new request is accepted too: starting an agent that runs is no change (the root unit compares the files and checks the timer first).
        var again = Fresh();
        (code, _) = await SendAsync(url, again, BackupControl.Sign(Key, again));
        Assert.Equal(HttpStatusCode.Accepted, code);

        // The nonces outlive the daemon: a restart does not reopen the replay.
        _daemons.KillAll();
        url = await StartDaemonAsync(withKey: true);
        (code, answer) = await SendAsync(url, again, BackupControl.Sign(Key, again));
        Assert.Equal(HttpStatusCode.Unauthorized, code);
        Assert.Contains("replayed", answer);
        Assert.Equal(2, Directory.GetFiles(Queue).Length);
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
        Assert.False(Queued);
        // And a server without the control part answers no POST at all.
        Assert.DoesNotContain("do_POST", BootstrapScript.HealthHandler);
    }

    /// <summary>
    /// A report filed by the real handler in its root mode (as the path unit's service runs it, the server's files under a
    /// scratch root): the request checked again, the files stored into every vault it can write, one named when it
    /// cannot, and read back with the reader's key, byte for byte, under the local filing's tags.
    /// </summary>
    [Fact]
    public async Task A_signed_report_is_filed_into_every_vault_the_server_can_write_and_reads_back_with_its_hashes()
    {
        var url = await StartDaemonAsync(withKey: true);
        Restored();
        var root = Directory.CreateDirectory(Path.Combine(_dir, "root")).FullName;
        var vaultDir = Path.Combine(_dir, "vault-a");
        const string password = "vault-a-password";
        var secrets = new Failover.Driver.Logging.SecretRegistry();
        var vault = new Failover.Driver.Backup.ResticRepository(new Failover.Driver.Backup.ResticSettings(vaultDir, password), secrets, Serilog.Core.Logger.None);
        await vault.InitAsync(CancellationToken.None);
        var creds = Path.Combine(root, Failover.Core.Backup.BackupPlan.CredentialsFileOf("vault-a").TrimStart('/'));
        Directory.CreateDirectory(Path.GetDirectoryName(creds)!);
        File.WriteAllText(creds, CloudConfig.EnvironmentFile(new ResticCredentials(vaultDir, password, "", "")));
        var files = new[] { new EvidenceFile("report.md", Encoding.UTF8.GetBytes("# Failover report\nRTO 4 m — verdict: met\n")), new EvidenceFile("journal.jsonl", [0x7b, 0x7d, 0x0a]) };
        var filing = ReportFiling.Of("20261201T230000Z-ab12", ["vault-a", "vault-b"], files);

        // Tampered after signing: refused by the daemon, nothing queued.
        var body = BackupControl.FileReportBody(Site, DateTimeOffset.UtcNow, Nonce(), filing);
        var tampered = body.Replace(Convert.ToBase64String(files[1].Content), Convert.ToBase64String("{\"x\":1}\n"u8.ToArray()));
        var (code, answer) = await SendAsync(url, tampered, BackupControl.Sign(Key, tampered));
        Assert.Equal(HttpStatusCode.BadRequest, code);
        Assert.Contains("journal.jsonl: its SHA-256 does not match its content", answer);
        Assert.False(Queued);

        (code, answer) = await SendAsync(url, body, BackupControl.Sign(Key, body));
        Assert.True(code == HttpStatusCode.Accepted, answer);
        var act = new ProcessStartInfo("python3", [Path.Combine(_dir, "health.py"), "0", "/", "/dev/null"]) { RedirectStandardError = true };
        act.Environment[BackupControl.ActVariable] = "1";
        act.Environment["STATE_DIRECTORY"] = State;
        act.Environment["CREDENTIALS_DIRECTORY"] = Path.Combine(_dir, "credentials");
        act.Environment["FAILOVER_CONTROL_ROOT"] = root;
        using (var p = Process.Start(act)!)
        {
            var err = await p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync();
            Assert.True(p.ExitCode == 0, err);
        }
        Assert.False(Queued, "the root unit left the request queued");
        var result = File.ReadAllText(Assert.Single(Directory.GetFiles(Path.Combine(State, BackupControl.ResultsName))));
        Assert.Contains("\"filed\": [\"vault-a\"]", result);
        Assert.Contains("vault-b\": \"this server has no write credentials for it", result);

        var snapshot = Assert.Single(await vault.SnapshotsAsync([ReportFiling.Tag, ReportFiling.RunTag(filing.RunId)], CancellationToken.None));
        foreach (var f in files)
        {
            using var read = new MemoryStream();
            await vault.DumpAsync(snapshot.Id, "/" + f.Name, (s, ct) => s.CopyToAsync(read, ct), CancellationToken.None);
            Assert.Equal(f.Sha256, Convert.ToHexStringLower(SHA256.HashData(read.ToArray())));
        }
    }

    public void Dispose()
    {
        _daemons.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
