using Failover.Core.Topology;
using Failover.Driver.Logging;
using Failover.Driver.Migration;
using Serilog.Core;

namespace Failover.Driver.Tests.Migration;

/// <summary>
/// A migration's freeze and thaw commands run through the one hook runner the restore hooks use: bash, a clean
/// environment (nothing of the driver's own, its secrets included), the stage's variables, killed at the time limit.
/// No server: the commands run on this machine.
/// </summary>
public class FreezeHookTests
{
    private static readonly Topology Local = TopologyLoader.Load(Path.Combine(Repo.Root, "examples", "local"));

    private static HookFreeze Freeze(TimeSpan timeout) => new(new SiteHooks(Local.Tenants, new SecretRegistry(), Logger.None, timeout), builtIn: null);

    private static StackSpec Source(params string[] freeze) => Local.Production with { Migrate = new MigrationHooks(freeze, ["true"], []) };

    [Fact]
    public async Task Freeze_commands_run_in_bash_with_the_stage_variables_and_none_of_the_drivers_environment()
    {
        Environment.SetEnvironmentVariable("FAILOVER_TEST_DRIVER_SECRET", "s3cret");
        try
        {
            var said = await Freeze(TimeSpan.FromMinutes(1)).FreezeAsync(Source(
                "[[ -n \"$BASH_VERSION\" ]]", // bash only: /bin/sh (dash) has no [[
                "test -z \"${FAILOVER_TEST_DRIVER_SECRET:-}\"",
                "test \"$FAILOVER_SITE\" = local-prod && test \"$FAILOVER_STAGE\" = freeze && test \"$LANG\" = C.UTF-8"), CancellationToken.None);
            Assert.Equal("3 freeze command(s) of local-prod succeeded", said);
        }
        finally { Environment.SetEnvironmentVariable("FAILOVER_TEST_DRIVER_SECRET", null); }
    }

    [Fact]
    public async Task A_freeze_command_over_its_time_limit_is_killed_and_named()
    {
        var e = await Assert.ThrowsAsync<Failover.Driver.Engine.ToolFailureException>(() => Freeze(TimeSpan.FromSeconds(1)).FreezeAsync(Source("sleep 30"), CancellationToken.None));
        Assert.StartsWith("the freeze command `sleep 30` failed on local-prod (stopped at its time limit of 1s): ", e.Message);
        Assert.Contains("Fix it (failover:migrate.freeze in ", e.Message);
    }

    [Fact]
    public async Task A_failing_thaw_command_names_its_exit_code_and_last_line()
    {
        var source = Local.Production with { Migrate = new MigrationHooks([], ["echo maintenance mode still on >&2; exit 3"], []) };
        var e = await Assert.ThrowsAsync<Failover.Driver.Engine.ToolFailureException>(() => Freeze(TimeSpan.FromMinutes(1)).ThawAsync(source, CancellationToken.None));
        Assert.StartsWith("the thaw command `echo maintenance mode still on >&2; exit 3` failed on local-prod (exit 3): maintenance mode still on. Fix it (failover:migrate.thaw in ", e.Message);
    }
}
