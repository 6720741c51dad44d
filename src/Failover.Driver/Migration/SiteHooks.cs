using Failover.Core.Backup;
using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Logging;
using Serilog;

namespace Failover.Driver.Migration;

/// <summary>
/// Runs a site's <c>failover:migrate</c> commands (freeze, thaw, backup) on the driver's machine through the one hook
/// runner the restore hooks use (<see cref="RestoreHooks"/>: <c>bash -c</c>, a clean environment, killed at the time
/// limit), with FAILOVER_SITE, FAILOVER_SITE_ADDRESS, FAILOVER_TENANTS, FAILOVER_STAGE and the stage's own variables
/// set; the first that fails stops the stage.
/// </summary>
public sealed class SiteHooks(IReadOnlyList<Tenant> tenants, SecretRegistry secrets, ILogger log, TimeSpan timeout)
{
    private readonly RestoreHooks _runner = new(secrets);

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
            var outcome = await _runner.RunAsync(stage, command, environment, timeout, cancellation);
            log.Information("Migration {Stage} command on {Stack} exited {ExitCode}: {Command}", stage, site.Name, outcome.ExitCode, command);
            if (outcome.ExitCode == RestoreHooks.KilledExitCode)
                throw new InvalidOperationException($"{site.Name}: {stage} command `{command}` did not finish within {Durations.Format(timeout)} (failover:migrate.{stage} in {site.File})");
            if (!outcome.Succeeded)
                throw new InvalidOperationException($"{site.Name}: {stage} command `{command}` exited {outcome.ExitCode}: {Tail(outcome.Output)} (failover:migrate.{stage} in {site.File})");
        }
        return commands.Count == 0 ? "" : $"{commands.Count} {stage} command(s) of {site.Name} succeeded";
    }

    private static string Tail(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "(no output)";
}
