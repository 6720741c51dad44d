using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Logging;
using Serilog;

namespace Failover.Driver.Migration;

/// <summary>
/// Runs a site's <c>failover:migrate</c> commands (freeze, thaw, backup) through /bin/sh on the driver's machine,
/// with FAILOVER_SITE, FAILOVER_TENANTS and the stage's own variables set; the first that fails stops the stage.
/// </summary>
public sealed class SiteHooks(IReadOnlyList<Tenant> tenants, SecretRegistry secrets, ILogger log, TimeSpan timeout, string shell = "/bin/sh")
{
    /// <summary>Runs the commands in order; returns a one-line account, or throws naming the command that failed.</summary>
    public async Task<string> RunAsync(StackSpec site, string stage, IReadOnlyList<string> commands, IReadOnlyDictionary<string, string?>? variables, CancellationToken cancellation)
    {
        var environment = new Dictionary<string, string?>(variables ?? new Dictionary<string, string?>())
        {
            ["FAILOVER_SITE"] = site.Name,
            ["FAILOVER_SITE_ADDRESS"] = site.Site.Address,
            ["FAILOVER_TENANTS"] = string.Join(' ', tenants.Select(t => t.Name)),
            ["FAILOVER_STAGE"] = stage,
        };
        foreach (var command in commands)
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            limit.CancelAfter(timeout);
            ProgramResult result;
            try { result = await ChildProcess.RunAsync(new ProgramCall(shell, ["-c", command], environment), limit.Token); }
            catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
            {
                throw new InvalidOperationException($"{site.Name}: {stage} command `{command}` did not finish within {Durations.Format(timeout)} (failover:migrate.{stage} in {site.File})");
            }
            var output = secrets.Redact((result.StandardOutput + result.StandardError).Trim());
            log.Information("Migration {Stage} command on {Stack} exited {ExitCode}: {Command}", stage, site.Name, result.ExitCode, command);
            if (result.ExitCode != 0)
                throw new InvalidOperationException($"{site.Name}: {stage} command `{command}` exited {result.ExitCode}: {Tail(output)} (failover:migrate.{stage} in {site.File})");
        }
        return commands.Count == 0 ? "" : $"{commands.Count} {stage} command(s) of {site.Name} succeeded";
    }

    private static string Tail(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "(no output)";
}
