using System.Security.Cryptography;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Logging;
using Failover.Driver.Pulumi;
using Serilog;

namespace Failover.Driver.Reports;

/// <summary>
/// A cloud run's evidence filed into the vaults: the driver holds only the vaults' read key, so the serving site's data
/// server, which holds each vault's write-only key, stores it on a signed <see cref="BackupControl.FileReport"/> request
/// (the report in its formats and the journal, each with its SHA-256); the driver then reads every copy back with its
/// read key and checks the hashes. Never fails the run: what could not be filed is named with the command to do it by hand.
/// </summary>
public sealed class CloudReportFiling(IPulumi pulumi, HttpClient http, SecretRegistry secrets, TimeProvider time, ILogger log, Core.Planning.Wait? wait = null)
{
    /// <summary>How long and how often the driver looks for the copies after the server accepted the request (it stores them in seconds; runtime option reportFiling).</summary>
    private readonly Core.Planning.Wait _wait = wait ?? Core.Planning.RuntimeOptions.Default.ReportFiling;

    /// <summary>The files of a run's evidence: the run folder's report.* and the journal's lines.</summary>
    public static IReadOnlyList<EvidenceFile> Evidence(string runDirectory, IReadOnlyList<string> journalLines) =>
        [.. Directory.GetFiles(runDirectory, "report.*").Order(StringComparer.Ordinal).Select(f => new EvidenceFile(Path.GetFileName(f), File.ReadAllBytes(f))),
         new EvidenceFile("journal.jsonl", System.Text.Encoding.UTF8.GetBytes(string.Concat(journalLines.Select(l => l + "\n"))))];

    /// <summary>Files the evidence by <paramref name="serving"/>'s data server; the sentence the run prints and logs.</summary>
    public async Task<string> FileAsync(Topology topology, StackSpec serving, ReportFiling filing, CancellationToken cancellation)
    {
        var byHand = $"file it by hand: `restic backup --tag {ReportFiling.Tag} --tag {ReportFiling.RunTag(filing.RunId)} .` in the run folder, with the vault's write key";
        ControlAnswer sent;
        try
        {
            sent = await ControlRequests.SendAsync(pulumi, http, serving, null, time, log,
                (at, nonce) => BackupControl.FileReportBody(serving.Name, at, nonce, filing), cancellation);
        }
        // ArgumentException: a report and journal over the request's limit, or a control key the request cannot be signed with.
        catch (Exception e) when (e is HttpRequestException or InvalidOperationException or IOException or TaskCanceledException or ArgumentException
                                  or PulumiCommandException or PulumiTimeoutException or PulumiNotFoundException)
        {
            sent = new ControlAnswer("", "", $"{serving.Name}'s data server could not be asked to file the report ({e.Message})");
        }
        if (sent.Refusal is { } why) return $"The report was not filed into the vault: {why}; {byHand}.";
        var lines = new List<string>();
        foreach (var vault in filing.Vaults)
            lines.Add(await ReadBackAsync(topology, vault, filing, cancellation) ?? $"{vault}: no copy read back within {Durations.Format(_wait.Timeout)} ({ServerSaid(sent, vault)}); {byHand}");
        return $"Evidence filed by {serving.Name}'s data server ({sent.Url}) and read back with the read key: " + string.Join("; ", lines) + ".";
    }

    private static string ServerSaid(ControlAnswer sent, string vault)
    {
        var failed = sent.Member("failed");
        return failed.Contains($"\"{vault}\"", StringComparison.Ordinal) ? $"the server said: {failed}" : "the server's answer: " + (sent.Answer.Trim() is { Length: > 0 } a ? a : "none");
    }

    /// <summary>The copy in <paramref name="vault"/> once its files' hashes match, polled for a while; null when none came.</summary>
    private async Task<string?> ReadBackAsync(Topology topology, string vault, ReportFiling filing, CancellationToken cancellation)
    {
        if (topology.Find(vault) is not { } stack) return $"{vault}: not a stack of this topology";
        ResticRepository repository;
        try { repository = new ResticRepository(await VaultSettings.CloudAsync(stack, pulumi, cancellation), secrets, log); }
        catch (Exception e) when (e is InvalidOperationException or PulumiCommandException or PulumiTimeoutException or PulumiNotFoundException) { return $"{vault}: cannot be read ({e.Message})"; }
        var deadline = time.GetUtcNow() + _wait.Timeout;
        while (true)
        {
            try
            {
                var copies = await repository.SnapshotsAsync(filing.Tags, cancellation);
                if (copies.OrderByDescending(s => s.Time).FirstOrDefault() is { } copy)
                {
                    var bad = new List<string>();
                    foreach (var f in filing.Files)
                    {
                        using var read = new MemoryStream();
                        await repository.DumpAsync(copy.Id, "/" + f.Name, (s, ct) => s.CopyToAsync(read, ct), cancellation);
                        if (Convert.ToHexStringLower(SHA256.HashData(read.ToArray())) != f.Sha256) bad.Add(f.Name);
                    }
                    log.Information("Evidence of run {RunId} read back from {Vault}: snapshot {SnapshotId}, {Files} files, {Mismatches} hash mismatches", filing.RunId, vault, copy.ShortId, filing.Files.Count, bad.Count);
                    return bad.Count == 0
                        ? $"{vault}: restic snapshot {copy.ShortId} (tags {ReportFiling.Tag}, {ReportFiling.RunTag(filing.RunId)}), {filing.Files.Count} files, SHA-256 match"
                        : $"{vault}: restic snapshot {copy.ShortId} does NOT match for {string.Join(", ", bad)}";
                }
            }
            catch (ResticException e) { log.Warning("Evidence of run {RunId} not read back from {Vault} yet: {Error}", filing.RunId, vault, e.Message); }
            if (time.GetUtcNow() >= deadline) return null;
            await Task.Delay(_wait.Poll, time, cancellation);
        }
    }
}
