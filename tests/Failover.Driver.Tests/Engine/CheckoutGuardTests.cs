using Failover.Core.Topology;
using Failover.Driver.Cli;
using Failover.Driver.Tests.Pulumi;

namespace Failover.Driver.Tests.Engine;

/// <summary>
/// The stale-checkout guard, through the stand-in `pulumi`: another operator failed over to standby-hel1 from their
/// machine (deployed: standby-hel1 in mode mvd from snapshots, DNS pointing at it) and this checkout was never
/// updated. A run, a rehearsal and a migration from here stop before they change anything.
/// </summary>
public sealed class CheckoutGuardTests : IDisposable
{
    private readonly StandIn _pulumi = new();
    private readonly string _project = Repo.CopyProject();
    private readonly ManualTime _time = new(new DateTimeOffset(2026, 11, 22, 3, 0, 0, TimeSpan.Zero));
    private readonly FakePorts _fake;

    public CheckoutGuardTests()
    {
        _fake = new FakePorts(_time, TopologyLoader.Load(Path.Combine(_project, "infra", "stacks")).Tenants);
    }

    public void Dispose()
    {
        _pulumi.Dispose();
        Directory.Delete(_project, recursive: true);
    }

    private string State => Path.Combine(_project, ".failover");
    private string StackFile(string stack) => Path.Combine(_project, "infra", "stacks", $"Pulumi.{stack}.yaml");

    /// <summary>What the other operator's failover deployed: the stacks' outputs as their last `up` left them.</summary>
    private async Task DeployAsync(string standbyMode, string active, Dictionary<string, string> snapshots)
    {
        _pulumi.Script(new
        {
            outputs = new Dictionary<string, object>
            {
                ["standby-hel1"] = new { mode = standbyMode, restoredSnapshots = snapshots },
                ["prod-fsn1"] = new { mode = "full", restoredSnapshots = new Dictionary<string, string>() },
                ["dns-route53"] = new { activeStack = active },
            },
        });
        var cli = _pulumi.Cli(_pulumi.Options() with { ProjectDirectory = _project });
        foreach (var stack in new[] { "standby-hel1", "prod-fsn1", "dns-route53" })
        {
            await cli.SelectOrCreateStackAsync(stack);
            await cli.UpAsync(stack);
        }
    }

    private CliRun Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var app = new App(stdout, stderr, _project, logConsole: stderr)
        {
            Time = _time, Ports = (_, _) => Task.FromResult(_fake.Ports), Input = null, PulumiEnvironment = _pulumi.Environment(),
        };
        return new CliRun(app.Run([.. args, "--state-dir", State]), stdout.ToString(), stderr.ToString());
    }

    private int Changes => _pulumi.Calls().Count(c => (string?)c["command"] is "up" or "config set" or "config set-all" or "destroy");

    [Fact]
    public async Task A_run_from_a_checkout_behind_the_deployed_failover_stops_naming_each_difference_and_the_commands_to_update()
    {
        await DeployAsync("mvd", "standby-hel1", new() { ["contoso"] = "1a2b3c4d" });
        var deployedChanges = Changes;

        var run = Run("run", "--to", "standby-aws-fra", "--yes");

        Assert.Equal(ExitCodes.InvalidTopology, run.ExitCode);
        Assert.Contains("Pulumi.standby-hel1.yaml: failover:mode is cold in the stack files, mvd deployed", run.Stderr);
        Assert.Contains("Pulumi.standby-hel1.yaml: failover:snapshots.contoso is (not set) in the stack files, 1a2b3c4d deployed", run.Stderr);
        Assert.Contains("Pulumi.dns-route53.yaml: failover:dns.active is prod-fsn1 in the stack files, standby-hel1 deployed", run.Stderr);
        Assert.Contains("pulumi config set --stack standby-hel1 failover:mode mvd", run.Stderr);
        Assert.Contains("pulumi config set --path --stack dns-route53 failover:dns.active standby-hel1", run.Stderr);
        Assert.Contains("git pull", run.Stderr);
        // Nothing was changed: no provider call, no run, no lock.
        Assert.Equal(deployedChanges, Changes);
        Assert.Equal(0, _fake.Count("provision standby-aws-fra"));
        Assert.False(Directory.Exists(Path.Combine(State, "runs")));
        Assert.False(File.Exists(Path.Combine(State, "lock")));
    }

    [Fact]
    public async Task A_rehearsal_and_a_migration_from_the_stale_checkout_stop_too()
    {
        await DeployAsync("mvd", "standby-hel1", new());
        var rehearse = Run("rehearse", "--site", "standby-aws-fra", "--yes");
        Assert.Equal(ExitCodes.InvalidTopology, rehearse.ExitCode);
        Assert.Contains("failover:mode is cold in the stack files, mvd deployed", rehearse.Stderr);
        var migrate = Run("migrate", "--to", "standby-aws-fra", "--yes");
        Assert.Equal(ExitCodes.InvalidTopology, migrate.ExitCode);
        Assert.Contains("failover:dns.active is prod-fsn1 in the stack files, standby-hel1 deployed", migrate.Stderr);
        Assert.False(Directory.Exists(Path.Combine(State, "runs")));
    }

    [Fact]
    public async Task Once_the_stack_files_say_what_is_deployed_the_run_goes_on()
    {
        await DeployAsync("cold", "prod-fsn1", new());
        var run = Run("run", "--to", "standby-hel1", "--yes");
        Assert.True(run.ExitCode == 0, run.Stderr + run.Stdout);
        Assert.DoesNotContain("differ from what is deployed", run.Stderr);
        Assert.Equal(1, _fake.Count("provision standby-hel1"));
    }

    [Fact]
    public void Without_a_deployed_state_to_compare_with_the_run_warns_and_goes_on()
    {
        var run = Run("run", "--to", "standby-hel1", "--yes"); // the stand-in has no stacks yet
        Assert.True(run.ExitCode == 0, run.Stderr + run.Stdout);
        Assert.Equal(1, _fake.Count("provision standby-hel1"));
    }
}
