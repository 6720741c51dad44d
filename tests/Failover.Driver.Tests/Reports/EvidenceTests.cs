using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Failover.Core.Topology;
using Failover.Driver.Cli;
using Failover.Driver.Tests.Engine;

namespace Failover.Driver.Tests.Reports;

/// <summary>
/// The evidence an auditor files: the journal hash-chained record by record, the report sealed with its own SHA-256 and
/// its journal's, who ran it, scope, planned against actual, accepted risks, the CAPA table, one verdict sentence.
/// Over in-memory ports (the engine and the files are real), so every case is fast.
/// </summary>
public class EvidenceTests : IDisposable
{
    private readonly FakeProject _p = new();
    private FakePorts Fake => _p.Fake;

    public void Dispose() => _p.Dispose();

    private string Project => _p.Project;
    private string State => _p.State;

    private CliRun Run(params string[] args) => _p.Run(args);

    private string RunDir => _p.RunDir;
    private string JournalFile => Path.Combine(RunDir, "journal.jsonl");
    private string ReportMd => Path.Combine(RunDir, "report.md");
    private string ReportHtml => Path.Combine(RunDir, "report.html");

    private static string Sha(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>What `head -n -1 FILE | sha256sum` prints, and the hash the last line states.</summary>
    private static (string Computed, string Stated) SealOf(string path)
    {
        var text = File.ReadAllText(path);
        var body = text[..(text.TrimEnd('\n').LastIndexOf('\n') + 1)];
        var stated = Regex.Match(text.TrimEnd('\n')[body.Length..], "[0-9a-f]{64}").Value;
        return (Sha(Encoding.UTF8.GetBytes(body)), stated);
    }

    [Fact]
    public void A_finished_run_has_a_chained_journal_and_reports_sealed_with_their_own_hash_and_the_journal_s()
    {
        var run = Run("run", "--to", "standby-hel1", "--yes");
        Assert.True(run.ExitCode == 0, run.Stderr + run.Stdout);

        foreach (var file in new[] { ReportMd, ReportHtml })
        {
            var (computed, stated) = SealOf(file);
            Assert.Equal(computed, stated);
        }
        var lines = File.ReadAllLines(JournalFile);
        Assert.StartsWith("{", lines[0]);
        Assert.Contains($"\"prev\":\"{new string('0', 64)}\"", lines[0]);
        for (var i = 1; i < lines.Length; i++) Assert.Contains($"\"prev\":\"{Sha(Encoding.UTF8.GetBytes(lines[i - 1]))}\"", lines[i]);
        var md = File.ReadAllText(ReportMd);
        Assert.Contains($"{lines.Length} records, hash-chained: all {lines.Length} records follow each other unchanged", md);
        Assert.Contains($"`{Sha(Encoding.UTF8.GetBytes(lines[^1]))}`", md); // the chain head: the hash of the last record
        Assert.Contains($"`{Sha(File.ReadAllBytes(JournalFile))}`", md); // sha256sum journal.jsonl

        var verified = Run("report", "--verify", ReportMd);
        Assert.True(verified.ExitCode == 0, verified.Stderr);
        Assert.Contains("unchanged since it was written", verified.Stdout);
        Assert.Contains($"the same {lines.Length} records the report covers", verified.Stdout);
        Assert.Equal(0, Run("report", "--verify", ReportHtml).ExitCode);
    }

    [Fact]
    public void A_report_changed_after_it_was_written_does_not_verify()
    {
        Assert.Equal(0, Run("run", "--to", "standby-hel1", "--yes").ExitCode);
        File.WriteAllText(ReportMd, File.ReadAllText(ReportMd).Replace("| met |", "| MISSED |"));
        var verified = Run("report", "--verify", ReportMd);
        Assert.Equal(ExitCodes.Tampered, verified.ExitCode);
        Assert.Contains("was changed after it was written", verified.Stderr);
    }

    [Fact]
    public void A_changed_last_journal_record_is_caught_against_the_filed_report()
    {
        Assert.Equal(0, Run("run", "--to", "standby-hel1", "--yes").ExitCode);
        var lines = File.ReadAllLines(JournalFile);
        lines[^1] = lines[^1].Replace("\"at\":\"2026", "\"at\":\"2025");
        File.WriteAllLines(JournalFile, lines);
        var verified = Run("report", "--verify", ReportMd);
        Assert.Equal(ExitCodes.Tampered, verified.ExitCode);
        Assert.Contains("no longer holds the record the report ends on", verified.Stderr);
    }

    [Fact]
    public void A_changed_or_removed_record_is_named_by_report_and_resume_and_nothing_is_done()
    {
        Fake.Healthy = false;
        Assert.Equal(ExitCodes.Failed, Run("run", "--to", "standby-hel1", "--yes").ExitCode);
        var original = File.ReadAllLines(JournalFile);
        var provision = Array.FindIndex(original, l => l.Contains("\"event\":\"step-completed\"") && l.Contains("\"step\":\"provision\""));

        var changed = original.ToArray();
        changed[provision] = changed[provision].Replace("is up at", "was up at");
        File.WriteAllLines(JournalFile, changed);
        var report = Run("report");
        Assert.Equal(ExitCodes.Tampered, report.ExitCode);
        Assert.Contains($"BROKEN at record {provision + 2}", report.Stderr);
        Assert.Contains($"record {provision + 1} was changed, or records between them were removed", report.Stderr);
        Assert.Contains($"BROKEN at record {provision + 2}", report.Stdout); // and the report itself says so

        Fake.Healthy = true;
        var resume = Run("resume");
        Assert.Equal(ExitCodes.Tampered, resume.ExitCode);
        Assert.Contains($"record {provision + 1} was changed", resume.Stderr);
        Assert.Contains("Nothing was done", resume.Stderr);
        Assert.Equal(original.Length, File.ReadAllLines(JournalFile).Length);
        Assert.Equal(1, Fake.Count("provision"));

        File.WriteAllLines(JournalFile, original.Where((_, i) => i != provision));
        var removed = Run("report");
        Assert.Equal(ExitCodes.Tampered, removed.ExitCode);
        Assert.Contains($"BROKEN at record {provision + 1}", removed.Stderr);
    }

    [Fact]
    public void A_journal_of_the_previous_version_without_hashes_still_resumes_and_reports_as_not_chained()
    {
        Fake.Healthy = false;
        Assert.Equal(ExitCodes.Failed, Run("run", "--to", "standby-hel1", "--yes").ExitCode);
        var legacy = File.ReadAllLines(JournalFile).Select(l => Regex.Replace(l, ",\"prev\":\"[0-9a-f]{64}\"", "")).ToArray();
        File.WriteAllLines(JournalFile, legacy);

        var report = Run("report");
        Assert.Equal(0, report.ExitCode);
        Assert.Contains("not chained: its", report.Stdout);
        Assert.Contains("not chained", report.Stderr);

        Fake.Healthy = true;
        var resume = Run("resume");
        Assert.True(resume.ExitCode == 0, resume.Stderr);
        Assert.Contains("is not chained", resume.Stderr);
        Assert.Equal(1, Fake.Count("provision"));
        Assert.Contains($"partly chained: records 1-{legacy.Length} were written by a version without the hash chain", File.ReadAllText(ReportMd));
        Assert.Equal(0, Run("report", "--verify", ReportMd).ExitCode);
    }

    [Fact]
    public void The_report_says_who_ran_it_its_scope_what_was_not_tested_planned_against_actual_the_risks_and_the_follow_ups()
    {
        foreach (var list in Fake.Snapshots.Values) list.RemoveAt(0); // only 6-hour-old backups: over the 1h RPO
        var run = Run("run", "--to", "standby-hel1", "--yes", "--accept-data-loss", "--operator", "alice@example.com",
            "--reason", "the newer backups burned with fsn1");
        Assert.True(run.ExitCode == 0, run.Stderr + run.Stdout);
        var md = File.ReadAllText(ReportMd);
        Assert.Contains($"by alice@example.com (OS user {Environment.UserName} on ", md);
        Assert.Contains("## Scope", md);
        Assert.Contains("Tenants restored: 10 (", md);
        Assert.Contains("### Not tested by this run", md);
        Assert.Contains("T+0 is the start of the run", md);
        // The runbook planned provision at 6m for a cold Hetzner standby; the fake took 5m.
        Assert.Matches(@"\| provision \| [^|]+ \| [^|]+ \| \d+m[^|]* \| 5m \| ok \|", md);
        Assert.Contains("Data loss beyond the RPO target accepted at the start by alice@example.com (--accept-data-loss); reason given: \"the newer backups burned with fsn1\". It applied to 10 tenant backup(s)", md);
        Assert.Contains("## Follow-ups (CAPA)", md);
        Assert.Contains("| 1 | RPO target missed:", md);
        Assert.Contains("| owner | due | status |", md);
        var json = System.Text.Json.Nodes.JsonNode.Parse(Run("report", "--json").Stdout)!;
        Assert.Equal("alice@example.com", (string?)json["operator"]);
        Assert.Equal("chained", (string?)json["journal"]!["chain"]);
        Assert.NotNull(json["steps"]![0]!["plannedSeconds"]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Html_and_markdown_carry_the_same_verdict_sentence(bool healthy)
    {
        Fake.Healthy = healthy;
        Run("run", "--to", "standby-hel1", "--yes");
        var html = File.ReadAllText(ReportHtml);
        var fromHtml = WebUtility.HtmlDecode(Regex.Replace(Regex.Match(html, "<p class=\"verdict\" id=\"verdict\">(.*?)</p>").Groups[1].Value, "<[^>]+>", ""));
        var fromMd = File.ReadAllLines(ReportMd)[2].Replace("**", "");
        Assert.StartsWith(healthy ? "Resolved." : "Failed.", fromMd);
        Assert.Equal(fromMd, fromHtml);
    }
}
