using System.Text.Json;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Failover.Driver.Tests.Backup;
using Failover.Driver.Cli;
using Failover.Driver.Engine;
using Failover.Driver.Reports;

namespace Failover.Driver.Tests.EndToEnd;

/// <summary>The local topology on 127.0.0.41-44 (the rehearsal copy on .142), so rehearsals run beside the other end-to-end tests.</summary>
public sealed class RehearsalTopology() : LocalTopology(40)
{
    public const string Copy = "127.0.0.142";
}

/// <summary>
/// `failover rehearse` on the real binary: the evidence report, nothing left behind (even after a crash, once
/// resumed), production DNS untouched, and `failover status` alarming on stale backups and rehearsals.
/// </summary>
public class RehearsalTests(RehearsalTopology site) : IClassFixture<RehearsalTopology>
{
    [Fact]
    public async Task A_rehearsal_writes_the_evidence_report_and_leaves_nothing_behind()
    {
        var run = site.Failover(null, "rehearse", "--site", "local-standby", "--yes");
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains("Rehearsal passed: RTO", run.Output);
        var id = RunId(run.Output);

        var dir = site.Store.RunDirectory(id);
        foreach (var f in new[] { "report.md", "report.json", "report.html" }) Assert.True(File.Exists(Path.Combine(dir, f)), f);
        var html = File.ReadAllText(Path.Combine(dir, "report.html"));
        Assert.Contains("<table id=\"timeline\">", html);
        Assert.Contains("<td>teardown</td>", html);
        Assert.Contains("northwind", html);
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("src=", html);
        Assert.DoesNotContain("href=", html);
        var md = File.ReadAllText(Path.Combine(dir, "report.md"));
        Assert.Contains("**Rehearsal passed.**", md);
        Assert.Contains("| RTO (start to healthy gate) |", md);
        Assert.Contains("## Policy findings at the time", md);

        // No fence, no cutover: production DNS still answers production.
        var journal = Journal.Read(site.Store.JournalPath(id));
        Assert.DoesNotContain(journal, r => r.Step is "fence" or "cutover");
        Assert.Equal([site.ProdAddress], await site.DnsAnswerAsync());
        // A rehearsal copy never backs up into the vault: no backups step, and the newest heartbeat is still production's.
        Assert.DoesNotContain(journal, r => r.Step == "backups");
        var vault = new Failover.Driver.Backup.BackupCatalog(new Failover.Driver.Backup.ResticRepository(
            Failover.Driver.Backup.VaultSettings.Local(site.Topology, site.Project), new Failover.Driver.Logging.SecretRegistry(), Serilog.Log.Logger),
            TimeProvider.System, Serilog.Log.Logger);
        Assert.Equal("local-prod", (await vault.HeartbeatAsync(CancellationToken.None))?.Site);

        var entry = Assert.Single(new RehearsalHistory(RehearseCommand.HistoryPath(site.Store)).Read(), e => e.RunId == id);
        Assert.Equal("resolved", entry.Outcome);
        Assert.Equal("local-standby", entry.Site);
        var history = site.Failover(null, "report", "--history", "--json");
        Assert.Contains(id, history.Output);

        AssertNothingLeft();
    }

    [Fact]
    public void Rehearse_and_backup_json_print_one_document_on_stdout()
    {
        var rehearsal = site.FailoverJson("rehearse", "--site", "local-standby", "--yes", "--json");
        Assert.True(rehearsal.ExitCode == 0, rehearsal.Stderr);
        using (var doc = JsonDocument.Parse(rehearsal.Stdout))
        {
            Assert.Equal(1, doc.RootElement.GetProperty("schemaVersion").GetInt32());
            Assert.Equal("incident-report", doc.RootElement.GetProperty("kind").GetString());
            Assert.Equal("rehearsal", doc.RootElement.GetProperty("run").GetProperty("kind").GetString());
            Assert.Equal("resolved", doc.RootElement.GetProperty("outcome").GetString());
        }
        Assert.Contains("Rehearsal passed", rehearsal.Stderr);

        // Production was lost after its backup: every tenant fails, and the document says which and why.
        var backup = site.FailoverJson("backup", "--json");
        Assert.Equal(4, backup.ExitCode);
        using var b = JsonDocument.Parse(backup.Stdout);
        Assert.Equal("backup", b.RootElement.GetProperty("kind").GetString());
        Assert.False(b.RootElement.GetProperty("succeeded").GetBoolean());
        Assert.All(b.RootElement.GetProperty("tenants").EnumerateArray(), t => Assert.False(string.IsNullOrEmpty(t.GetProperty("error").GetString())));
        AssertNothingLeft();
    }

    [Theory]
    [InlineData("step:select-backup:before", false)]
    [InlineData("step:restore:before", true)]
    [InlineData("step:report:before", true)]
    [InlineData("effect:teardown:local-standby-rehearsal:after", false)] // removed, but not journaled: removed again
    public void A_rehearsal_killed_at_any_step_is_torn_down_by_resume(string crashAt, bool copyRunning)
    {
        var first = site.Failover(crashAt, "rehearse", "--site", "local-standby", "--yes");
        Assert.Contains($"killed at {crashAt}", first.Output);
        Assert.Equal(copyRunning, Listening(RehearsalTopology.Copy));

        var resumed = site.Failover(null, "resume");
        Assert.True(resumed.ExitCode == 0, resumed.Output);
        var journal = Journal.Read(site.Store.JournalPath(RunId(first.Output)));
        Assert.Single(journal, r => r.Event == JournalEvent.StepCompleted && r.Step == "teardown");
        Assert.Null(site.Store.Current);
        AssertNothingLeft();
    }

    [Fact]
    public async Task The_next_rehearsal_tears_a_killed_one_down_before_it_starts()
    {
        var first = site.Failover("step:gate:before", "rehearse", "--site", "local-standby", "--yes");
        Assert.Contains("killed at step:gate:before", first.Output);
        Assert.True(Listening(RehearsalTopology.Copy), "the copy was running when the process was killed");
        var killed = RunId(first.Output);

        var next = site.Failover(null, "rehearse", "--site", "local-standby", "--yes");
        Assert.True(next.ExitCode == 0, next.Output);
        var cleanup = next.Output.IndexOf($"Rehearsal {killed} was interrupted: tearing its copy down first.", StringComparison.Ordinal);
        var started = Regex.Match(next.Output, @"Rehearsal (\d{8}-\d{6}-[0-9a-f]{6}): ");
        Assert.True(cleanup >= 0 && started.Success && cleanup < started.Index, next.Output);
        Assert.NotEqual(killed, started.Groups[1].Value);

        var journal = Journal.Read(site.Store.JournalPath(killed));
        Assert.Single(journal, r => r.Event == JournalEvent.StepCompleted && r.Step == "teardown");
        Assert.DoesNotContain(journal, r => r.Event == JournalEvent.StepCompleted && r.Step == "gate");
        var md = File.ReadAllText(Path.Combine(site.Store.RunDirectory(killed), "report.md"));
        Assert.Contains("the run was resumed 1 time(s) after an interruption", md);
        // The teardown goes through the run host: its report, with the teardown in it, is copied into the vault like any run's.
        var copies = await new Failover.Driver.Backup.ResticRepository(Failover.Driver.Backup.VaultSettings.Local(site.Topology, site.Project),
            new Failover.Driver.Logging.SecretRegistry(), Serilog.Log.Logger).SnapshotsAsync([ReportArchive.RunTag(killed)], CancellationToken.None);
        Assert.NotEmpty(copies);
        Assert.Contains("as a restic snapshot tagged failover-report and report=" + killed, md);
        Assert.Null(site.Store.Current);
        AssertNothingLeft();
    }

    [Fact]
    public void Abort_of_a_killed_rehearsal_tears_its_copy_down_before_ending_it()
    {
        var first = site.Failover("step:gate:before", "rehearse", "--site", "local-standby", "--yes");
        Assert.Contains("killed at step:gate:before", first.Output);
        Assert.True(Listening(RehearsalTopology.Copy), "the copy was running when the process was killed");
        var killed = RunId(first.Output);

        var abort = site.Failover(null, "abort");
        Assert.True(abort.ExitCode == 0, abort.Output);
        Assert.Contains($"Rehearsal {killed} is aborted once its copy local-standby-rehearsal", abort.Output);
        Assert.Contains($"Run {killed} aborted.", abort.Output);
        var journal = Journal.Read(site.Store.JournalPath(killed));
        Assert.Single(journal, r => r.Event == JournalEvent.StepCompleted && r.Step == "teardown");
        Assert.Equal(JournalEvent.RunAborted, journal[^1].Event);
        Assert.Contains("**Aborted** by the operator", File.ReadAllText(Path.Combine(site.Store.RunDirectory(killed), "report.md")));
        Assert.Null(site.Store.Current);
        AssertNothingLeft();
        var leftovers = site.Failover(null, "rehearse", "--teardown");
        Assert.Contains("No rehearsal copy is left running.", leftovers.Output);
    }

    [Fact]
    public void Status_alarms_on_a_stale_backup_naming_the_tenant()
    {
        var later = new ManualClock(DateTimeOffset.UtcNow + TimeSpan.FromHours(3)); // RPO target 30m
        var stdout = new StringWriter();
        var code = new App(stdout, new StringWriter(), site.Project) { Time = later, Input = null }.Run(["status", "--stacks", site.Project, "--json"]);
        Assert.Equal(1, code);
        Assert.True(Regex.IsMatch(stdout.ToString(), @"tenant northwind: latest backup 3h( \d+[ms])? old .*STALE"), stdout.ToString());
    }

    [Fact]
    public void Status_alarms_on_a_stale_rehearsal_and_not_on_a_recent_one()
    {
        var state = Directory.CreateTempSubdirectory("failover-rehearsal-state-").FullName;
        try
        {
            var history = new RehearsalHistory(Path.Combine(state, "rehearsals.jsonl"));
            var old = DateTimeOffset.UtcNow - TimeSpan.FromDays(10);
            history.Append(new RehearsalEntry("old", "local-standby", old, old.AddMinutes(2), "resolved", 60, 60, "report.html"));
            var stale = CliRun.Of(site.Project, "status", "--stacks", site.Project, "--state-dir", state);
            Assert.Equal(1, stale.ExitCode);
            Assert.True(Regex.IsMatch(stale.Stdout, "rehearsal age: last successful rehearsal old on local-standby was \\d+d.* ago: STALE, the cadence is 7d"), stale.Stdout + stale.Stderr);

            var recent = DateTimeOffset.UtcNow - TimeSpan.FromHours(1);
            history.Append(new RehearsalEntry("recent", "local-standby", recent, recent.AddMinutes(2), "resolved", 60, 60, "report.html"));
            var fresh = CliRun.Of(site.Project, "status", "--stacks", site.Project, "--state-dir", state);
            Assert.DoesNotContain("STALE", fresh.Stdout);
            Assert.Contains("last successful rehearsal recent", fresh.Stdout);

            // Failures count: a failed rehearsal after the recent success alarms, with both shown.
            var failed = DateTimeOffset.UtcNow - TimeSpan.FromMinutes(20);
            history.Append(new RehearsalEntry("broken", "local-standby", failed, failed.AddMinutes(2), "failed", null, null, "broken.html"));
            var alarm = CliRun.Of(site.Project, "status", "--stacks", site.Project, "--state-dir", state);
            Assert.Equal(1, alarm.ExitCode);
            Assert.True(Regex.IsMatch(alarm.Stdout, @"rehearsal age: the last rehearsal FAILED: last failure broken on local-standby \d+m.* ago \(failed, report broken.html\); last success recent on local-standby 5\d+m.* ago"),
                alarm.Stdout);
        }
        finally { Directory.Delete(state, true); }
    }

    private static string RunId(string output) => Regex.Match(output, @"Rehearsal (\d{8}-\d{6}-[0-9a-f]{6})").Groups[1].Value;

    private void AssertNothingLeft()
    {
        Assert.False(Directory.Exists(Path.Combine(site.Store.Root, "rehearsals")), "the rehearsals folder is left");
        Assert.False(Directory.Exists(site.Sites.SiteDirectory(site.Topology.Find("local-standby")!)), "the real standby was touched");
        Assert.False(Listening(RehearsalTopology.Copy), "something still listens on the copy's address");
        var leftovers = Process.GetProcesses().Where(p =>
        {
            try { return p.ProcessName == "postgres" && File.ReadAllText($"/proc/{p.Id}/cmdline").Contains(Path.Combine(site.Store.Root, "rehearsals")); }
            catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException) { return false; }
        }).ToList();
        Assert.Empty(leftovers);
    }

    private static bool Listening(string address)
    {
        using var client = new TcpClient();
        try { return client.ConnectAsync(address, 5432).Wait(TimeSpan.FromSeconds(2)); }
        catch (AggregateException) { return false; }
    }
}
