using Failover.Driver.Logging;

namespace Failover.Driver.Backup;

/// <summary>One hook command's run: its stage (pre/post), exit code and output, kept for the report.</summary>
public sealed record HookOutcome(string Stage, string Command, int ExitCode, string Output)
{
    public bool Succeeded => ExitCode == 0;
}

/// <summary>
/// Runs a tenant's pre- and post-restore shell commands (e.g. database migrations) with the target's
/// libpq environment (PGHOST, PGDATABASE, PGPASSWORD...), FAILOVER_TENANT / FAILOVER_FILES_DIR, and
/// FAILOVER_REHEARSAL (1 on a rehearsal's copy, else 0).
/// Output is captured with secrets redacted, because it ends up in the report.
/// </summary>
public sealed class RestoreHooks(SecretRegistry secrets, string shell = "/bin/sh")
{
    /// <summary>Runs the commands in order and stops at the first that fails.</summary>
    public async Task<IReadOnlyList<HookOutcome>> RunAsync(string stage, IReadOnlyList<string> commands, TenantSite target, TimeSpan timeout, CancellationToken cancellation,
        bool rehearsal = false)
    {
        var outcomes = new List<HookOutcome>();
        var environment = new Dictionary<string, string?>(target.Database.Environment)
        {
            ["FAILOVER_TENANT"] = target.Tenant.Name,
            ["FAILOVER_FILES_DIR"] = target.FilesDirectory,
            ["FAILOVER_REHEARSAL"] = rehearsal ? "1" : "0",
        };
        foreach (var command in commands)
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            limit.CancelAfter(timeout);
            HookOutcome outcome;
            try
            {
                var result = await ChildProcess.RunAsync(new ProgramCall(shell, ["-c", command], environment), limit.Token);
                outcome = new HookOutcome(stage, command, result.ExitCode, secrets.Redact((result.StandardOutput + result.StandardError).Trim()));
            }
            catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
            {
                outcome = new HookOutcome(stage, command, -1, $"timed out after {Failover.Core.Topology.Durations.Format(timeout)}");
            }
            outcomes.Add(outcome);
            if (!outcome.Succeeded) break;
        }
        return outcomes;
    }
}
