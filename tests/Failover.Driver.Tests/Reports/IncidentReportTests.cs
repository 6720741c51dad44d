using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Failover.Core.Topology;
using Failover.Driver.Engine;
using Failover.Driver.Reports;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Reports;

/// <summary>
/// The evidence report of a rehearsal built from a realistic journal: opened in headless Chromium, its timeline
/// is drawn (one bar per step, in order, the longest step the longest bar); and its notes tell a resume after a
/// crash from the same process tearing the copy down after a failed step.
/// </summary>
public partial class IncidentReportTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 22, 4, 0, 0, TimeSpan.Zero);
    private static readonly Targets Targets = new(TimeSpan.FromMinutes(30), TimeSpan.FromHours(4));
    private static readonly string[] Tenants = ["contoso", "fabrikam", "northwind"];

    /// <summary>A rehearsal as the engine journals it: each step's start and end, the chosen snapshots, each tenant's restore.</summary>
    private static List<JournalRecord> Rehearsal(bool failGate = false)
    {
        var run = new RunContext("20261122-040000-a1b2c3", RunKind.Rehearsal, "prod-fsn1", "standby-hel1-rehearsal", null, false, "ops", "backup-host");
        var records = new List<JournalRecord> { new(JournalEvent.RunStarted, Start, Data: RunEngine.RunData(run)) };
        var at = Start;
        string Time(DateTimeOffset t) => t.ToString("O", CultureInfo.InvariantCulture);
        var snapshots = new JsonObject(Tenants.Select((t, i) => KeyValuePair.Create(t, (JsonNode?)new JsonObject
        {
            ["id"] = $"{i + 1}f2a9c1e", ["time"] = Time(Start.AddMinutes(-12 - i)), ["bytes"] = 1_000_000L * (i + 1),
        })));
        var restored = new JsonObject(Tenants.Select((t, i) => KeyValuePair.Create(t, (JsonNode?)new JsonObject
        {
            ["result"] = $"{t} restored from {i + 1}f2a9c1e, 12 tables verified", ["start"] = Time(Start.AddMinutes(5 + i)), ["end"] = Time(Start.AddMinutes(7 + 2 * i)),
        })));
        (string Step, TimeSpan Took, string Summary, JsonObject? Facts)[] steps =
        [
            ("select-backup", TimeSpan.FromSeconds(20), "3 verified snapshots chosen", new JsonObject { ["snapshots"] = snapshots }),
            ("provision", TimeSpan.FromMinutes(4), "standby-hel1-rehearsal is up at 203.0.113.52", null),
            ("restore", TimeSpan.FromMinutes(6), "3 tenants restored and verified", new JsonObject { ["tenants"] = restored }),
            ("gate", TimeSpan.FromSeconds(30), "3 probes passed", null),
            ("report", TimeSpan.FromSeconds(1), "report written", null),
            ("teardown", TimeSpan.FromMinutes(2), "pulumi destroy deleted 9 resources of standby-hel1-rehearsal; stack removed", null),
        ];
        foreach (var (step, took, summary, facts) in steps)
        {
            records.Add(new JournalRecord(JournalEvent.StepStarted, at, step));
            at += took;
            if (failGate && step == "gate")
            {
                records.Add(new JournalRecord(JournalEvent.StepFailed, at, step, Data: new JsonObject { ["error"] = "standby-hel1-rehearsal is not healthy" }));
                // The command tears the copy down itself, in the same process.
                records.Add(new JournalRecord(JournalEvent.RunResumed, at, Data: new JsonObject { ["pid"] = records[0].Data!["pid"]!.DeepClone(), ["host"] = "backup-host" }));
                continue;
            }
            if (failGate && step == "report") continue;
            records.Add(new JournalRecord(JournalEvent.StepCompleted, at, step, Data: new JsonObject { ["summary"] = summary, ["facts"] = facts?.DeepClone() ?? new JsonObject() }));
        }
        records.Add(new JournalRecord(JournalEvent.RunCompleted, at));
        return records;
    }

    [Fact]
    public void The_html_report_opened_in_headless_chromium_shows_the_timeline_one_bar_per_step_in_order()
    {
        var report = IncidentReport.FromJournal(Rehearsal(), Targets);
        Assert.Equal("resolved", report.Outcome);
        var dir = Directory.CreateTempSubdirectory("failover-report-render-").FullName;
        try
        {
            var page = Path.Combine(dir, "report.html");
            File.WriteAllText(page, report.Html());
            var dom = Chromium(dir, "--dump-dom", new Uri(page).AbsoluteUri);
            Assert.Contains("id=\"timeline-chart\"", dom);
            Assert.Equal(6, Regex.Matches(dom, "class=\"bar bar-ok\"").Count);

            var lanes = Lanes(Screenshot(dir, page), BarColour(File.ReadAllText(page)));
            Assert.Equal(report.Steps.Count, lanes.Count);
            Assert.All(lanes, l => Assert.True(l.Height >= 10, $"a bar only {l.Height} px high"));
            for (var i = 1; i < lanes.Count; i++)
                Assert.True(lanes[i].Left >= lanes[i - 1].Left, $"step {report.Steps[i].Step}'s bar starts left of the one before it");
            var widest = lanes.IndexOf(lanes.MaxBy(l => l.Right - l.Left)!);
            Assert.Equal("restore", report.Steps[widest].Step);

            // The check sees it when the timeline is missing: the same page without steps has no bar at all.
            File.WriteAllText(page, (report with { Steps = [] }).Html());
            Assert.Empty(Lanes(Screenshot(dir, page), BarColour(File.ReadAllText(page))));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void A_passed_rehearsal_says_whether_its_copy_was_torn_down_or_kept_running()
    {
        Assert.Contains("Production DNS was not touched; the copy was torn down.", IncidentReport.FromJournal(Rehearsal(), Targets).Markdown());
        // --keep: the run completes without a teardown step, and the copy is still running.
        var kept = IncidentReport.FromJournal(Rehearsal().Where(r => r.Step != "teardown").ToList(), Targets);
        Assert.Equal("resolved", kept.Outcome);
        Assert.DoesNotContain("torn down", kept.Markdown());
        Assert.Contains("the copy standby-hel1-rehearsal was kept running (--keep): `failover rehearse --teardown` removes it.", kept.Markdown());
    }

    [Fact]
    public void A_failed_rehearsal_torn_down_by_the_same_process_is_not_called_resumed()
    {
        var report = IncidentReport.FromJournal(Rehearsal(failGate: true), Targets);
        Assert.Equal("failed", report.Outcome);
        Assert.DoesNotContain(report.Notes, n => n.Contains("resumed"));
        Assert.Contains("**Rehearsal failed** at step `gate`", report.Markdown());
    }

    [Fact]
    public void A_rehearsal_resumed_by_another_process_after_a_crash_says_so()
    {
        var records = Rehearsal();
        var at = records.FindIndex(r => r.Step == "restore");
        records.Insert(at, new JournalRecord(JournalEvent.RunResumed, records[at].At, Data: new JsonObject { ["pid"] = -1, ["host"] = "backup-host" }));
        Assert.Contains("the run was resumed 1 time(s) after an interruption", IncidentReport.FromJournal(records, Targets).Notes);
    }

    /// <summary>A horizontal band of bar-coloured rows: one step's bar.</summary>
    private sealed record Lane(int Top, int Height, int Left, int Right);

    private static List<Lane> Lanes(Png image, (byte R, byte G, byte B) colour)
    {
        var lanes = new List<Lane>();
        Lane? open = null;
        for (var y = 0; y < image.Height; y++)
        {
            int left = int.MaxValue, right = -1;
            for (var x = 0; x < image.Width; x++)
                if (image[x, y] == colour) { left = Math.Min(left, x); right = x; }
            if (right < 0) { if (open is not null) lanes.Add(open); open = null; continue; }
            open = open is null ? new Lane(y, 1, left, right) : open with { Height = open.Height + 1, Left = Math.Min(open.Left, left), Right = Math.Max(open.Right, right) };
        }
        if (open is not null) lanes.Add(open);
        return lanes;
    }

    /// <summary>The colour the page itself gives a finished step's bar.</summary>
    private static (byte, byte, byte) BarColour(string html)
    {
        var hex = BarRule().Match(html);
        Assert.True(hex.Success, "the page has no .bar-ok colour rule");
        var v = Convert.FromHexString(hex.Groups[1].Value);
        return (v[0], v[1], v[2]);
    }

    [GeneratedRegex(@"\.bar-ok\{background:#([0-9a-fA-F]{6})\}")]
    private static partial Regex BarRule();

    private static Png Screenshot(string dir, string page)
    {
        var shot = Path.Combine(dir, "shot.png");
        if (File.Exists(shot)) File.Delete(shot);
        Chromium(dir, $"--screenshot={shot}", "--window-size=1200,1400", new Uri(page).AbsoluteUri);
        Assert.True(File.Exists(shot), "chromium wrote no screenshot");
        return Png.Read(shot);
    }

    /// <summary>Runs headless Chromium (Debian package chromium); its absence fails the test, it never passes silently.</summary>
    private static string Chromium(string dir, params string[] args)
    {
        var exe = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').SelectMany(d => new[] { Path.Combine(d, "chromium"), Path.Combine(d, "chromium-browser") })
            .FirstOrDefault(File.Exists);
        if (exe is null)
            Assert.Fail("chromium is not installed, so the HTML report cannot be rendered: run ./test.sh as root (it installs the Debian package chromium) or `apt-get install chromium`");
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", $"--user-data-dir={Path.Combine(dir, "profile")}" }.Concat(args))
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(90))) { p.Kill(true); Assert.Fail("chromium did not finish within 90 s"); }
        Assert.True(p.ExitCode == 0, $"chromium exited {p.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }
}
