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
            var tool = $"the {stage} command `{secrets.Redact(command)}`";
            var doing = $"on {site.Name}";
            var remedy = $"Fix it (failover:migrate.{stage} in {site.File}), then run the migration again";
            if (outcome.ExitCode == RestoreHooks.KilledExitCode)
                throw new Engine.ToolFailureException(Engine.ToolFailure.TimedOut(tool, doing, timeout, outcome.Output, remedy));
            if (!outcome.Succeeded)
                throw new Engine.ToolFailureException(Engine.ToolFailure.Exited(tool, doing, outcome.ExitCode, outcome.Output, remedy)); // output already redacted
        }
        return commands.Count == 0 ? "" : $"{commands.Count} {stage} command(s) of {site.Name} succeeded";
    }
}
